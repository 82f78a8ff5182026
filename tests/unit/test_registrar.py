"""registrar + usrloc: save/lookup rules, reply shapes recorded from Kamailio 5.6.3, RPCs,
expiry with a fake clock and persistence across a restart (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksrpy.core.engine import Engine
from ksrpy.sip.message import SIPMessage
from tests.unit.test_cfg_compile import RCV, _engine

HEADER = """\
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
"""
ROUTE = """request_route {
  if (is_method("REGISTER")) { save("location"); exit; }
  lookup("location"); $var(rc) = $rc;
  sl_send_reply("200", "lookup rc=$var(rc) ru=$ru du=$du");
}
"""
A = "sip:alice@example.com"


def make(tmp_path: Path, params: str = "") -> Engine:
    """An engine running ROUTE with extra modparams."""
    return _engine(tmp_path, ROUTE, header=HEADER + params)


def send(engine: Engine, method: str, ruri: str, to: str = A, extra: str = "",
         cid: str = "c1", cseq: int = 1) -> SIPMessage | None:
    """Send one request; the reply (None when none)."""
    t = engine.transport
    before = len(t.sent)  # type: ignore[union-attr,attr-defined]
    raw = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK1\r\n"
           f"From: <{to}>;tag=f1\r\nTo: <{to}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\n"
           f"Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")
    engine.handle(raw.encode(), RCV)
    sent = t.sent[before:]  # type: ignore[union-attr,attr-defined]
    return SIPMessage.parse(sent[-1][3]) if sent else None


def reg(engine: Engine, extra: str, cid: str = "c1", cseq: int = 1) -> SIPMessage:
    """A REGISTER for alice; its reply."""
    reply = send(engine, "REGISTER", "sip:example.com", A, extra, cid, cseq)
    assert reply is not None
    return reply


def shape(reply: SIPMessage) -> tuple[str, str | None, str | None]:
    """Status line, Contact and P-Registrar-Error of a reply."""
    return (f"{reply.status} {reply.reason}", reply.get_header("Contact"),
            reply.get_header("P-Registrar-Error"))


C1, C2, C3 = ("<sip:alice@10.0.0.1:5060>", "<sip:alice@10.0.0.2:5060>",
              "<sip:alice@10.0.0.3:5060>")
ALL3 = f"{C3};q=1;expires=60, {C2};q=0.5;expires=120, {C1};expires=3600"

#: (extra headers, Call-ID, CSeq) -> reply shape, as Kamailio 5.6.3 answered with
#: modparam("registrar", "max_contacts", 3) (recorded on loopback).
KAMAILIO_SEQUENCE = [
    ((f"Contact: {C1}\r\n", "c1", 1), ("200 OK", f"{C1};expires=3600", None)),
    ((f"Contact: {C2};q=0.5;expires=120\r\n", "c1", 2),
     ("200 OK", f"{C2};q=0.5;expires=120, {C1};expires=3600", None)),
    ((f"Contact: {C3};q=1\r\nExpires: 30\r\n", "c1", 3), ("200 OK", ALL3, None)),
    (("", "c1", 4), ("200 OK", ALL3, None)),
    ((f"Contact: {C3}\r\n", "c1", 2), ("400 Bad Request", ALL3, "Invalid CSeq number")),
    ((f"Contact: {C3}\r\n", "c1", 3), ("200 OK", ALL3, None)),  # retransmission
    (("Contact: <sip:alice@10.0.0.9:5060>\r\n", "other", 1),
     ("503 Service Unavailable", ALL3, "Too many registered contacts")),
    (("Contact: *\r\n", "c1", 10),
     ("400 Bad Request", None, "* used in contact and expires is not zero")),
    (("Contact: *\r\nExpires: 0\r\n", "c1", 11), ("200 OK", None, None)),
    (("Contact: <sip:a@b>\r\nContact: *\r\nExpires: 0\r\n", "c1", 12),
     ("400 Bad Request", None, "* used in contact and more than 1 contact")),
    (('Contact: "Al" <sip:alice@10.0.0.1:5060;transport=tcp>;q=0.7;expires=100;'
      '+sip.instance="<urn:uuid:1>";reg-id=1\r\n', "c1", 14),
     ("200 OK", '<sip:alice@10.0.0.1:5060;transport=tcp>;q=0.7;expires=100;'
                '+sip.instance="<urn:uuid:1>";reg-id=1', None)),
    (("Contact: <sip:alice@10.0.0.1:5060;transport=tcp>;expires=0\r\n", "c1", 15),
     ("200 OK", None, None)),
    (("Contact: <sip:zzz@10.0.0.1:5060>;q=2\r\n", "c1", 17),
     ("400 Bad Request", None, "Invalid q param in contact")),
    (("Contact: <sip:zzz@10.0.0.1:5060>\r\nExpires: abc\r\n", "c1", 18),
     ("200 OK", "<sip:zzz@10.0.0.1:5060>;expires=3600", None)),
]


class Clock:
    """A settable clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_reply_shapes_match_kamailio(tmp_path: Path) -> None:
    engine = make(tmp_path, 'modparam("registrar", "max_contacts", 3)\n')
    engine.modules["usrloc"].set_clock(Clock())  # type: ignore[attr-defined]
    for (extra, cid, cseq), expected in KAMAILIO_SEQUENCE:
        assert shape(reg(engine, extra, cid, cseq)) == expected, extra


def test_lookup_sets_ruri_du_and_branches(tmp_path: Path) -> None:
    engine = make(tmp_path)
    reg(engine, f"Contact: {C1};q=0.2\r\n")
    reg(engine, f'Contact: {C2};q=0.9;received="sip:1.2.3.4:5070"\r\n', cseq=2)
    ctx_reply = send(engine, "OPTIONS", A)
    assert ctx_reply is not None
    assert ctx_reply.reason == "lookup rc=1 ru=sip:alice@10.0.0.2:5060 du=sip:1.2.3.4:5070"
    assert send(engine, "OPTIONS", "sip:bob@example.com").reason.startswith(  # type: ignore
        "lookup rc=-1")


def test_min_expires_mode_423(tmp_path: Path) -> None:
    engine = make(tmp_path, 'modparam("registrar", "min_expires_mode", 1)\n')
    reply = reg(engine, f"Contact: {C1}\r\nExpires: 10\r\n")
    assert (reply.status, reply.reason) == (423, "Interval Too Brief")
    assert reply.get_header("Min-Expires") == "60"


def test_expiry_with_fake_clock_and_rpcs(tmp_path: Path) -> None:
    engine = make(tmp_path)
    ul = engine.modules["usrloc"]
    clock = Clock()
    ul.set_clock(clock)  # type: ignore[attr-defined]
    reg(engine, f"Contact: {C1};expires=100\r\n")
    found = ul.rpc_lookup("location", "alice")  # type: ignore[attr-defined]
    assert found["AoR"] == "alice"
    assert found["Contacts"][0]["Contact"]["Expires"] == 100
    clock.now += 101
    assert ul.sweep() == 1  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="AOR not found"):
        ul.rpc_lookup("location", "alice")  # type: ignore[attr-defined]
    assert ul.rpc_add("location", "bob", "sip:bob@1.2.3.4", 300, 0.5, ".", 0, 0, 0) == {}
    dump = ul.rpc_dump()  # type: ignore[attr-defined]
    assert dump["Domains"][0]["Domain"]["AoRs"][0]["Info"]["AoR"] == "bob"
    assert ul.rpc_rm_contact("location", "bob", "sip:bob@1.2.3.4") == {}
    with pytest.raises(Exception, match="Domain table not found"):
        ul.rpc_lookup("nosuch", "bob")  # type: ignore[attr-defined]


def test_sqlite_persistence_across_restart(tmp_path: Path) -> None:
    params = (f'modparam("usrloc", "db_mode", 1)\n'
              f'modparam("usrloc", "db_url", "sqlite:///{tmp_path}/ul.db")\n')
    first = make(tmp_path, params)
    first.init_modules()
    reg(first, f"Contact: {C1}\r\n")
    for module in first.modules.values():
        module.destroy()
    second = make(tmp_path, params)
    second.init_modules()
    reply = send(second, "OPTIONS", A)
    assert reply is not None and reply.reason.startswith("lookup rc=1 ru=sip:alice@10.0.0.1")


def test_location_is_bounded_with_503_and_a_log_line(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    engine = make(tmp_path, 'modparam("usrloc", "max_contacts_total", 3)\n')
    users = [f"sip:u{i}@example.com" for i in range(5)]
    replies = [send(engine, "REGISTER", "sip:example.com", aor,
                    f"Contact: <sip:u{i}@10.0.0.{i}:5060>\r\n", cid=f"c{i}")
               for i, aor in enumerate(users)]
    assert [r.status if r else None for r in replies] == [200, 200, 200, 503, 503]
    assert "max_contacts_total=3" in caplog.text
    # Refreshing an existing binding needs no room; freeing one makes room again.
    refresh = send(engine, "REGISTER", "sip:example.com", users[0],
                   "Contact: <sip:u0@10.0.0.0:5060>\r\n", cid="c0", cseq=2)
    assert refresh is not None and refresh.status == 200
    gone = send(engine, "REGISTER", "sip:example.com", users[1],
                "Contact: *\r\nExpires: 0\r\n", cid="c1", cseq=2)
    assert gone is not None and gone.status == 200
    again = send(engine, "REGISTER", "sip:example.com", users[3],
                 "Contact: <sip:u3@10.0.0.3:5060>\r\n", cid="c3", cseq=2)
    assert again is not None and again.status == 200
