"""The same REQINIT route in cfg and in Python: CPU per message in-process, and the ratio.

No sockets: messages are fed to the engine and replies captured, so the figure
is the route's cost (parse, REQINIT, reply build), the part the two script
languages could differ in. Sources rotate over 65 536 addresses so pike
counts but never blocks. Best of N repeats (the machine is shared and noisy).

    python bench/reqinit_bench.py [--messages 5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from ksrpy.core.engine import Engine
from ksrpy.script.loader import load_script
from ksrpy.transport.address import ListenSpec, ReceiveInfo

HERE = Path(__file__).resolve().parent

KEEPALIVE = (
    "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {ip}:5061;branch=z9hG4bK-{n};rport\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:sipp@{ip}:5061>;tag={n}\r\nTo: <sip:127.0.0.1:5060>\r\n"
    "Call-ID: {n}@{ip}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: sipp\r\nContent-Length: 0\r\n\r\n"
)
INVITE = (
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {ip}:5061;branch=z9hG4bK-{n};rport\r\n"
    "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@example.com>;tag={n}\r\n"
    "To: <sip:bob@example.com>\r\nCall-ID: {n}@{ip}\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@{ip}:5061>\r\nUser-Agent: softphone\r\n"
    "Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"
)


class NullTransport:
    """Counts sends instead of using sockets."""

    def __init__(self) -> None:
        self.bound = [ListenSpec("udp", "127.0.0.1", 5060)]
        self.sent = 0

    def send(self, *args: Any, **kwargs: Any) -> bool:
        self.sent += 1
        return True


def _engine(script: Path) -> tuple[Engine, NullTransport]:
    engine = Engine()
    engine.set_routes(load_script(str(script), engine))
    engine.init_modules()
    transport = NullTransport()
    engine.attach_transport(transport)  # type: ignore[arg-type]
    return engine, transport


def _messages(template: str, count: int) -> list[tuple[bytes, ReceiveInfo]]:
    out = []
    for n in range(count):
        ip = f"10.{n >> 8 & 255}.{n & 255}.{1 + n % 200}"
        out.append((template.format(ip=ip, n=n).encode(),
                    ReceiveInfo("udp", ip, 5061, "127.0.0.1", 5060, None, 4)))
    return out


def measure(script: Path, template: str, count: int, repeats: int) -> float:
    """Best CPU µs per message over ``repeats`` passes of ``count`` messages."""
    engine, transport = _engine(script)
    messages = _messages(template, count)
    for data, rcv in messages[:500]:
        engine.handle(data, rcv)
    best = float("inf")
    for _ in range(repeats):
        before = transport.sent
        start = time.process_time()
        for data, rcv in messages:
            engine.handle(data, rcv)
        best = min(best, (time.process_time() - start) / count * 1e6)
        assert transport.sent - before == count, "every message must get one reply"
    return best


def main() -> None:
    """Run both scripts on both messages; print µs/message and the cfg/Python ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'message':10} {'cfg us/msg':>11} {'python us/msg':>14} {'cfg/python':>11}")
    ratios = []
    for label, template in (("OPTIONS", KEEPALIVE), ("INVITE", INVITE)):
        cfg = measure(HERE / "reqinit" / "edge.cfg", template, args.messages, args.repeats)
        py = measure(HERE / "reqinit" / "edge.py", template, args.messages, args.repeats)
        ratios.append(cfg / py)
        print(f"{label:10} {cfg:11.1f} {py:14.1f} {cfg / py:11.2f}")
    print(f"median ratio cfg/python: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
