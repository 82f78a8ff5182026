"""Every module's export table is consistent with its implementation, and docs are current."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ksrpy.core.engine import Engine
from ksrpy.docgen import render
from ksrpy.modules import AVAILABLE, ModuleNotAvailable, load_module_class
from ksrpy.modules.exports import ArgKind

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_exported_methods_accept_their_declared_arguments(name: str) -> None:
    cls = load_module_class(name)
    assert cls.name == name
    table = cls.export_table()
    for fexp in [*table.functions.values(), *table.kemi.values()]:
        method = getattr(cls, fexp.method)
        params = list(inspect.signature(method).parameters.values())[2:]  # self, ctx
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert len(positional) == len(fexp.args), f"{name}.{fexp.name}"
        for decl, param in zip(fexp.args, positional, strict=True):
            assert decl.optional == (param.default is not inspect.Parameter.empty), (
                f"{name}.{fexp.name}({decl.name})"
            )
            assert isinstance(decl.kind, ArgKind)
        assert fexp.doc, f"{name}.{fexp.name} has no docstring"


def test_unknown_module_names_what_is_available() -> None:
    with pytest.raises(ModuleNotAvailable, match="'nosuch' is not available"):
        load_module_class("nosuch")


def test_modparam_checks_name_and_type() -> None:
    engine = Engine()
    maxfwd = engine.load_module("maxfwd", {"max_limit": "20"})
    assert maxfwd.settings["max_limit"] == 20
    with pytest.raises(ValueError, match="no parameter 'max_limt'"):
        engine.load_module("maxfwd", {"max_limt": 1})
    with pytest.raises(ValueError, match="expects an integer"):
        engine.load_module("maxfwd", {"max_limit": "ten"})


def test_module_reference_in_docs_is_current() -> None:
    current = (REPO / "docs" / "modules.md").read_text()
    assert current == render(), "run: python -m ksrpy.docgen > docs/modules.md"
