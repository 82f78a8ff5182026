"""sipp sends OPTIONS keepalives to ``ksrpy run`` over UDP and TCP: every one gets 200."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import run_sipp

pytestmark = pytest.mark.sipp


@pytest.fixture(scope="module")
def server() -> Iterator[KsrpyProcess]:
    with KsrpyProcess() as proc:
        yield proc


@pytest.mark.parametrize(("proto", "transport"), [("udp", "u1"), ("tcp", "t1")])
def test_sipp_options_all_answered(server: KsrpyProcess, proto: str, transport: str) -> None:
    target = server.udp if proto == "udp" else server.tcp
    result = run_sipp("options_uac.xml", target, transport=transport, calls=500, rate=250)
    assert result.returncode == 0, result.output[-2000:]
    assert result.successful == 500
    assert result.failed == 0
