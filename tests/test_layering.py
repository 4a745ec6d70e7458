"""The module map of DESIGN.md, enforced: each module imports only what its row allows."""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT

ALLOWED: dict[str, set[str]] = {
    "_schemas": set(),
    "_errors": set(),
    "_settings": {"_errors"},
    "_read": {"_schemas", "_errors"},
    "_amounts": {"_lexicon"},
    "_dates": {"_lexicon"},
    "_ground": {"_schemas"},
    "_names": {"_lexicon", "_gazetteer"},
    "_entities": {"_names", "_lexicon", "_gazetteer"},
    "_lexicon": set(),
    "_gazetteer": {"_lexicon"},
    "_people": {"_lexicon", "_names"},
    "_speakers": {"_lexicon", "_people"},
    "_candidates": {"_amounts", "_lexicon", "_gazetteer", "_people", "_speakers"},
    "_drafts": set(),
    "_rules": {"_drafts", "_lexicon", "_gazetteer", "_dates"},
    "_prompts": {"_errors"},
    "_transport": {"_settings"},
    "_breaker": {"_errors"},
    "_client": {"_breaker", "_settings", "_errors", "_transport"},
    "_local": {"_settings", "_errors"},
    "_fields": {"_candidates", "_lexicon", "_gazetteer", "_people"},
    "_questions": {
        "_rules", "_candidates", "_drafts", "_amounts", "_prompts", "_schemas", "_speakers",
        "_fields",
    },
    "_whole": {"_drafts", "_amounts", "_dates", "_prompts", "_schemas", "_settings"},
    "_finalize": {
        "_rules", "_candidates", "_drafts", "_ground", "_amounts", "_dates", "_schemas",
        "_fields",
    },
    "_extract": {
        "_client", "_drafts", "_errors", "_finalize", "_prompts", "_questions", "_schemas",
        "_settings", "_whole",
    },
    "_store": {"_schemas", "_errors"},
    "_batch": {
        "_extract", "_prompts", "_store", "_read", "_local", "_breaker", "_client",
        "_transport", "_schemas", "_settings", "_errors",
    },
    "_crossitems": {"_schemas", "_entities"},
    "_crossquotes": {"_crossitems", "_schemas", "_entities"},
    "_crossfigures": {"_crossitems", "_schemas", "_entities", "_lexicon"},
    "_crosscheck": {
        "_crossitems", "_crossquotes", "_crossfigures", "_schemas", "_dates", "_names",
        "_entities", "_lexicon",
    },
    "_report": {"_schemas", "_crosscheck", "_names", "_entities"},
    "_html": {"_report", "_schemas"},
    "_gold": {"_schemas", "_ground", "_rules"},
    "_eval": {"_schemas", "_ground", "_names", "_gold", "_errors", "_rules"},
    "_jobs": {"_batch", "_schemas", "_store", "_errors"},
    "_metrics": {"_batch"},
    "_engine": {"_batch", "_jobs", "_schemas", "_settings"},
    "_service": {
        "_crosscheck", "_engine", "_html", "_jobs", "_metrics", "_schemas", "_settings",
        "_store",
    },
    "_remote": {"_schemas", "_errors"},
    "_parquet": {"_schemas", "_store"},
    "_distributed": {
        "_batch", "_errors", "_local", "_parquet", "_read", "_schemas", "_settings",
    },
    "_sortedruns": set(),
    "_output": {"_batch", "_parquet", "_prompts", "_schemas", "_settings"},
    "_sqlfolder": {"_crosscheck", "_crossitems", "_entities", "_parquet", "_schemas"},
    "_sqlquotes": {"_crossitems", "_crossquotes", "_entities", "_schemas", "_sqlfolder"},
    "_sqlcheck": {
        "_crosscheck", "_crossitems", "_crossfigures", "_schemas", "_sqlfolder", "_sqlquotes",
    },
    "_sqlreport": {
        "_crosscheck", "_crossitems", "_schemas", "_sortedruns", "_sqlcheck",
    },
}  # fmt: skip
# Optional dependencies (extras), each imported only by the modules that need it.
OPTIONAL = {
    "fastapi": {"_service"},
    "uvicorn": {"_service", "_cli"},
    "starlette": set(),
    "ray": {"_distributed"},
    "pyarrow": {
        "_parquet",
        "_distributed",
        "_sqlfolder",
        "_sqlcheck",
        "_sqlquotes",
        "_sqlreport",
        "_sortedruns",
    },
    "duckdb": {"_sqlfolder"},
}
# Pure layers: no network, no subprocess, no file system.
# (_people reads HanTa's and gender-guesser's data from their wheels, once: not listed.)
PURE = {
    "_schemas",
    "_amounts",
    "_dates",
    "_ground",
    "_candidates",
    "_fields",
    "_crosscheck",
    "_crossitems",
    "_crossquotes",
    "_crossfigures",
    "_names",
    "_lexicon",
    "_gazetteer",
    "_speakers",
    "_rules",
    "_drafts",
    "_finalize",
}
IMPURE_MODULES = {"socket", "subprocess", "httpx", "openai", "sqlite3", "urllib", "shutil"}


def _imports(module: str) -> tuple[set[str], set[str]]:
    tree = ast.parse((ROOT / "factx" / f"{module}.py").read_text(encoding="utf-8"))
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                internal.add(node.module.split(".")[0])
            elif node.level == 0 and node.module:
                external.add(node.module.split(".")[0])
                if node.module.split(".")[0] == "factx":
                    internal.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            external.update(a.name.split(".")[0] for a in node.names)
    return internal, external


MODULES = sorted(p.stem for p in (ROOT / "factx").glob("_*.py") if p.stem != "__init__")


def test_every_module_has_a_row() -> None:
    assert set(MODULES) - {"_cli"} <= set(ALLOWED), set(MODULES) - set(ALLOWED)


@pytest.mark.parametrize("module", [m for m in MODULES if m in ALLOWED])
def test_imports_point_down(module: str) -> None:
    internal, external = _imports(module)
    assert internal <= ALLOWED[module], f"{module} imports {internal - ALLOWED[module]}"
    assert "factx" not in external or module == "_cli"
    if module in PURE:
        assert not external & IMPURE_MODULES, f"{module} is pure but imports {external}"
    for dep, allowed in OPTIONAL.items():
        assert dep not in external or module in allowed, f"{module} imports {dep}"


def test_import_factx_stays_light() -> None:
    """``import factx`` pulls in no optional dependency (the service's extra included)."""
    import subprocess
    import sys

    code = "import sys, factx; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(out.stdout))
    assert not loaded & {*OPTIONAL, "llama_cpp"}, loaded & {*OPTIONAL, "llama_cpp"}
