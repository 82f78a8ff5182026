"""Hidden identity: Server header text, server_signature=no, sip_warning, no version leaks."""

from __future__ import annotations

from pathlib import Path

from ksrpy import __version__
from tests.unit.test_cfg_compile import _engine, _request

BODY = 'request_route { sl_send_reply("404", "Not here"); }\n'


def test_default_server_header_names_no_version(tmp_path: Path) -> None:
    reply = _request(_engine(tmp_path, BODY))[0]
    assert reply.get_header("Server") == "ksrpy"
    assert __version__ not in reply.raw.decode()
    assert reply.get_header("Warning") is None


def test_server_header_replaced_and_removed(tmp_path: Path) -> None:
    custom = _engine(tmp_path, 'server_header="Server: Simple Server"\n' + BODY)
    assert _request(custom)[0].get_header("Server") == "Simple Server"
    hidden = _engine(tmp_path, "server_signature=no\n" + BODY)
    reply = _request(hidden)[0]
    assert reply.get_header("Server") is None and not reply.has_header("Server")


def test_sip_warning_only_when_asked(tmp_path: Path) -> None:
    noisy = _engine(tmp_path, "sip_warning=1\n" + BODY)
    warning = _request(noisy)[0].get_header("Warning")
    assert warning is not None and warning.startswith("392 127.0.0.1:5070 ")
    assert "req_src_ip=10.9.9.9" in warning
