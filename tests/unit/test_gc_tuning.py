"""ksrpy run tunes the garbage collector once the script is loaded."""

from __future__ import annotations

import gc

import pytest

from ksrpy.core.server import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restore_gc():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_freezes_loaded_objects_and_sets_thresholds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KSRPY_GC", raising=False)
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == GC_THRESHOLDS


@pytest.mark.usefixtures("restore_gc")
def test_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSRPY_GC", "5000,20,30")
    tune_gc()
    assert gc.get_threshold() == (5000, 20, 30)


@pytest.mark.usefixtures("restore_gc")
@pytest.mark.parametrize("bad", ["5000", "a,b,c", "1,2,-3"])
def test_bad_environment_value_is_logged_and_ignored(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture,
                                                     bad: str) -> None:
    monkeypatch.setenv("KSRPY_GC", bad)
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert "KSRPY_GC" in caplog.text
