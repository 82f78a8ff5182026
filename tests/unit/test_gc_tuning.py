"""ksrpy run tunes the garbage collector once the script is loaded."""

from __future__ import annotations

import gc

import pytest

from ksrpy.core.server import GC_GEN0_THRESHOLD, tune_gc


@pytest.fixture
def restore_gc():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_freezes_loaded_objects_and_raises_gen0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KSRPY_GC_GEN0", raising=False)
    _gen0, gen1, gen2 = gc.get_threshold()
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (GC_GEN0_THRESHOLD, gen1, gen2)


@pytest.mark.usefixtures("restore_gc")
def test_gen0_threshold_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSRPY_GC_GEN0", "5000")
    tune_gc()
    assert gc.get_threshold()[0] == 5000
