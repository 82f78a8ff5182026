"""Debian's /etc/kamailio/kamailio.cfg with its default defines: only missing modules remain."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.script.loader import check_script

pytestmark = pytest.mark.kamailio

DEFAULT_CFG = Path("/etc/kamailio/kamailio.cfg")


def test_default_kamailio_cfg_reports_only_missing_modules_once() -> None:
    if not DEFAULT_CFG.exists():
        pytest.fail("/etc/kamailio/kamailio.cfg is missing: apt-get install kamailio")
    issues = check_script(str(DEFAULT_CFG), Engine(CoreConfig()))
    messages = [i.message for i in issues]
    others = [m for m in messages if not (m.startswith("module '")
                                          and m.endswith("' is not available in ksrpy"))]
    assert others == []
    assert all(n == 1 for n in Counter(messages).values())
    assert all(i.file == str(DEFAULT_CFG) and i.line > 0 for i in issues)


def test_default_kamailio_cfg_syntax_is_clean() -> None:
    if not DEFAULT_CFG.exists():
        pytest.fail("/etc/kamailio/kamailio.cfg is missing: apt-get install kamailio")
    assert check_script(str(DEFAULT_CFG), Engine(), syntax_only=True) == []
