"""A tm test bench: a cfg or Python script in an in-memory engine, a fake clock, captured sends.

Requests and replies go through ``Engine.handle`` exactly as from the
transport; the transport records what is sent; the clock only moves when a
test says so (``Bench.advance``), which also fires tm's timers.
"""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.modules.tm import TmModule
from ksrpy.script.loader import load_script
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec, ReceiveInfo

ME = ("127.0.0.1", 5070)
UAC = ("10.9.9.9", 40000)


class Capture:
    """A transport that records what the engine sends (and can refuse to)."""

    def __init__(self, bound: list[ListenSpec]) -> None:
        self.bound = bound
        self.sent: list[tuple[str, str, int, bytes, dict[str, Any]]] = []
        self.fail_to: set[tuple[str, int]] = set()

    def send(self, proto: str, ip: str, port: int, data: bytes, **kw: Any) -> bool:
        if (ip, port) in self.fail_to:
            return False
        self.sent.append((proto, ip, port, data, kw))
        return True


@dataclass
class Sent:
    """One message the engine sent."""

    proto: str
    ip: str
    port: int
    msg: SIPMessage
    local: Any = None

    @property
    def dest(self) -> tuple[str, int]:
        """(ip, port) it went to."""
        return (self.ip, self.port)


@dataclass
class Bench:
    """Engine + tm + fake clock."""

    engine: Engine
    tm: TmModule
    transport: Capture
    now: float = 1000.0
    seen: int = 0
    logs: list[str] = field(default_factory=list)

    def clock(self) -> float:
        """The fake time."""
        return self.now

    def advance(self, seconds: float, step: float = 0.05) -> list[Sent]:
        """Move the clock forward, firing timers as tm's loop would; what was sent meanwhile."""
        end = self.now + seconds
        for _ in range(int(seconds / step) + 2):
            if self.now >= end:
                break
            self.now = min(end, self.now + step)
            self.tm.on_timer(self.now)
        return self.new()

    def request(self, raw: str | bytes, src: tuple[str, int] = UAC, proto: str = "udp",
                dst: tuple[str, int] = ME) -> list[Sent]:
        """Feed a request (or any message) from ``src``; what was sent in answer."""
        data = raw.encode() if isinstance(raw, str) else raw
        self.engine.handle(data, ReceiveInfo(proto, src[0], src[1], dst[0], dst[1], None, 4))
        return self.new()

    reply = request

    def new(self) -> list[Sent]:
        """Messages sent since the last call."""
        out = [Sent(p, ip, port, SIPMessage.parse(d), kw.get("local"))
               for p, ip, port, d, kw in self.transport.sent[self.seen:]]
        self.seen = len(self.transport.sent)
        return out

    @property
    def live(self) -> tuple[int, int, int]:
        """(transactions in the table, tm server entries, tm client entries)."""
        assert self.tm.transactions is not None
        return len(self.tm.transactions), len(self.tm.by_server), len(self.tm.by_client)


def bench(tmp_path: Path, script: str, *, kind: str = "cfg", tm_params: str = "",
          listens: tuple[str, ...] = ("udp:127.0.0.1:5070",),
          defines: dict[str, str] | None = None) -> Bench:
    """Load ``script`` (cfg body after the module lines, or Python source) into a bench."""
    if kind == "cfg":
        path = tmp_path / "tm.cfg"
        head = ('loadmodule "sl.so"\nloadmodule "tm.so"\nloadmodule "tmx.so"\n'
                'loadmodule "textops.so"\nloadmodule "xlog.so"\nloadmodule "rr.so"\n'
                'loadmodule "siputils.so"\nloadmodule "corex.so"\n' + tm_params)
        path.write_text(head + textwrap.dedent(script))
    else:
        path = tmp_path / "tm_script.py"
        path.write_text(textwrap.dedent(script))
    engine = Engine(CoreConfig(defines=defines or {}))
    transport = Capture([ListenSpec.parse(x) for x in listens])
    engine.set_routes(load_script(str(path), engine))
    engine.attach_transport(transport)  # type: ignore[arg-type]
    engine.init_modules()
    tm = engine.modules["tm"]
    assert isinstance(tm, TmModule)
    b = Bench(engine, tm, transport)
    tm.clock = b.clock
    _HANDLER.out = b.logs  # the newest bench collects warnings and errors (xlog L_ERR)
    return b


class _ListHandler(logging.Handler):
    """Collects log lines (xlog output, tm errors) into a list."""

    def __init__(self, out: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.append(record.getMessage())


_HANDLER = _ListHandler([])
logging.getLogger("ksrpy").addHandler(_HANDLER)


def invite(ruri: str = "sip:bob@127.0.0.1:5080", *, branch: str | None = None,
           call_id: str = "c1", cseq: int = 1, method: str = "INVITE", to_tag: str = "",
           extra: str = "", via: str = "SIP/2.0/UDP 10.9.9.9:40000") -> str:
    """A request as a UAC would send it (branch "" for an RFC 2543 request without one)."""
    if branch is None:  # one per call and CSeq: a CANCEL shares its INVITE's
        branch = f"z9hG4bK-{call_id}-{cseq}"
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    branch_param = f";branch={branch}" if branch else ""
    return (f"{method} {ruri} SIP/2.0\r\nVia: {via}{branch_param}\r\n"
            f"From: <sip:alice@example.com>;tag=f1\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:alice@10.9.9.9:40000>\r\n{extra}Content-Length: 0\r\n\r\n")


def answer(request: SIPMessage, status: int, reason: str = "", *, to_tag: str = "t2",
           extra: str = "") -> str:
    """A reply to a request the proxy sent (every Via kept)."""
    lines = [f"SIP/2.0 {status} {reason or 'Reason'}"]
    lines += [f"Via: {v}" for v in request.get_header_values("Via")]
    to = request.get_header("To") or ""
    if status > 100 and to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    lines += [f"From: {request.get_header('From')}", f"To: {to}",
              f"Call-ID: {request.call_id}", f"CSeq: {request.get_header('CSeq')}"]
    if extra:
        lines.append(extra.rstrip("\r\n"))
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"
