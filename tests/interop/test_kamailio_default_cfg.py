"""Debian's /etc/kamailio/kamailio.cfg with its default defines: only missing modules remain."""

from __future__ import annotations

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
    # Every module the default cfg loads exists now (acc and textopsx were the last):
    # it loads cleanly, with its defaults and with the usual feature defines.
    feature_defines = {"WITH_AUTH": "1", "WITH_NAT": "1", "WITH_ANTIFLOOD": "1",
                       "WITH_USRLOCDB": "1", "WITH_ACCDB": "1", "DBURL": '"sqlite:///tmp/x.db"'}
    for defines in ({}, feature_defines):
        issues = check_script(str(DEFAULT_CFG), Engine(CoreConfig(defines=defines)))
        assert [str(i) for i in issues] == [], defines


def test_default_kamailio_cfg_syntax_is_clean() -> None:
    if not DEFAULT_CFG.exists():
        pytest.fail("/etc/kamailio/kamailio.cfg is missing: apt-get install kamailio")
    assert check_script(str(DEFAULT_CFG), Engine(), syntax_only=True) == []
