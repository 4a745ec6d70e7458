"""factx."""
