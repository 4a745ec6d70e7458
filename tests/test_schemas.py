"""The checked-in JSON Schemas in schemas/ are what the models generate, and the model
invariants hold."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import factx
from factx import ArticleFacts, Meeting, Statement, TradeFigure
from factx._schemas import SCHEMA_MODELS

from .conftest import ROOT


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_checked_in_schema_matches_models(name: str) -> None:
    path = ROOT / "schemas" / f"{name}.schema.json"
    assert path.exists(), f"missing {path}; run: factx schema --out schemas/"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == SCHEMA_MODELS[name].model_json_schema(), (
        f"{path.name} is stale; run: factx schema --out schemas/"
    )


def test_no_stray_schema_files() -> None:
    names = {p.name.removesuffix(".schema.json") for p in (ROOT / "schemas").glob("*.json")}
    assert names == set(SCHEMA_MODELS)


def test_public_api_is_explicit_and_sorted() -> None:
    assert factx.__all__ == sorted(factx.__all__)
    for name in factx.__all__:
        assert hasattr(factx, name), name
    public = {n for n in dir(factx) if not n.startswith("_")}
    assert public <= set(factx.__all__) | {"annotations"}


def test_every_error_derives_from_the_root() -> None:
    exported = [getattr(factx, n) for n in factx.__all__]
    errors = [c for c in exported if isinstance(c, type) and issubclass(c, Exception)]
    assert len(errors) >= 10
    for cls in errors:
        assert issubclass(cls, factx.FactxError)


def test_the_error_tree_in_the_docstring_is_the_class_tree() -> None:
    """Each name in ``_errors``' drawing sits under its real parent, and none is missing."""
    import re

    from factx import _errors

    drawn: dict[str, str] = {}
    stack: list[str] = []
    for line in (_errors.__doc__ or "").splitlines():
        m = re.match(r"^([│├└─ ]*)([A-Z][A-Za-z]+Error)\b", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        del stack[depth:]
        if stack:
            drawn[m.group(2)] = stack[-1]
        stack.append(m.group(2))
    classes = {
        name: cls.__base__.__name__
        for name, cls in vars(_errors).items()
        if isinstance(cls, type) and issubclass(cls, _errors.FactxError) and name != "FactxError"
    }
    assert drawn == classes


def test_models_forbid_unknown_fields_and_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Meeting(participants=("A", "B"), evidence="x", colour="red")  # type: ignore[call-arg]
    m = Meeting(participants=("A", "B"), evidence="x")
    with pytest.raises(ValidationError):
        m.status = "planned"  # type: ignore[misc]


def test_validated_view_drops_flagged_and_ungrounded_facts() -> None:
    good = Statement(
        speaker="Lawrow", quote="wir sind bereit", evidence="wir sind bereit",
        char_start=0, char_end=15, alignment="exact",
    )  # fmt: skip
    ungrounded = good.model_copy(update={"alignment": "none", "char_start": None})
    flagged = TradeFigure(
        value=1e9, value_text="1 Milliarde Euro", currency="EUR", evidence="x",
        char_start=0, char_end=1, alignment="exact", flags=("value_not_in_evidence",),
    )  # fmt: skip
    art = ArticleFacts(
        article_id="a", text_sha256="0", text="wir sind bereit",
        statements=(good, ungrounded), trade_figures=(flagged,),
    )  # fmt: skip
    v = art.validated()
    assert v.statements == (good,)
    assert v.trade_figures == ()
    assert len(art.facts()) == 3
