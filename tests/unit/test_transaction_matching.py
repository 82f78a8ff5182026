"""Transaction matching: §17.2.3 requests (branch and RFC 2543), §17.1.3 responses, §9.2 CANCEL."""

from __future__ import annotations

import pytest

from ksrpy.core.forward import BRANCH_COOKIE as FORWARD_COOKIE
from ksrpy.sip.errors import SIPParseError
from ksrpy.sip.message import SIPMessage
from ksrpy.sip.reply import build_reply
from ksrpy.sip.transaction import (
    BRANCH_COOKIE,
    ClientKey,
    Created,
    LegacyKey,
    ServerKey,
    ServerTransaction,
    TransactionTable,
    TransactionUsageError,
    build_ack,
    build_cancel,
    cancel_target_key,
    client_key,
    has_magic_cookie,
    response_key,
    server_key,
)


def request(method: str = "INVITE", *, branch: str | None = "z9hG4bKm1",
            via: str = "SIP/2.0/UDP Host.Example.COM", cseq: int = 5, to_tag: str | None = None,
            ruri: str = "sip:bob@example.com", from_tag: str = "f1",
            call_id: str = "cid-1") -> SIPMessage:
    branch_param = f";branch={branch}" if branch is not None else ""
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return SIPMessage.parse((
        f"{method} {ruri} SIP/2.0\r\n"
        f"Via: {via}{branch_param}\r\n"
        "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKlower\r\n"
        f"From: <sip:alice@example.com>;tag={from_tag}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode())


def reply(req: SIPMessage, status: int, to_tag: str = "t1") -> bytes:
    return build_reply(req, status, src_ip="192.0.2.5", src_port=5060, to_tag=to_tag)


# ------------------------------------------------------------------ the keys


def test_cookie_is_the_one_the_core_uses() -> None:
    assert BRANCH_COOKIE == FORWARD_COOKIE == "z9hG4bK"
    assert has_magic_cookie("z9hG4bKx") and not has_magic_cookie("z9hg4bkx")
    assert not has_magic_cookie(None) and not has_magic_cookie("1234")


def test_rfc3261_key_is_branch_sent_by_and_method() -> None:
    assert server_key(request()) == ServerKey("z9hG4bKm1", "host.example.com:5060", "INVITE")
    assert server_key(request("ACK")).method == "INVITE"  # §17.2.3: ACK matches its INVITE
    assert server_key(request("CANCEL")).method == "CANCEL"
    assert cancel_target_key(request("CANCEL")) == server_key(request())


def test_sent_by_compares_host_case_insensitively_with_default_ports() -> None:
    base = server_key(request(via="SIP/2.0/UDP host.example.com:5060"))
    assert server_key(request()) == base
    tls = server_key(request(via="SIP/2.0/TLS host.example.com"))
    assert isinstance(tls, ServerKey) and tls.sent_by == "host.example.com:5061"
    assert server_key(request(via="SIP/2.0/UDP host.example.com:5080")) != base


@pytest.mark.parametrize("change", [
    {"branch": "z9hG4bKm2"}, {"branch": "z9hG4bKM1"}, {"via": "SIP/2.0/UDP other.example.com"},
])
def test_rfc3261_keys_differ_when_branch_or_sent_by_differ(change: dict) -> None:
    assert server_key(request(**change)) != server_key(request())


def test_rfc3261_key_ignores_what_2543_matching_uses() -> None:
    changed = request(ruri="sip:other@example.com", cseq=99, call_id="x", from_tag="zz")
    assert server_key(changed) == server_key(request())


def test_legacy_key_without_the_cookie() -> None:
    key = server_key(request(branch="1234"))
    assert key == LegacyKey("sip:bob@example.com", "f1", "cid-1", 5, "INVITE",
                            "SIP/2.0/UDP Host.Example.COM;branch=1234")
    no_branch = server_key(request(branch=None))
    assert isinstance(no_branch, LegacyKey) and no_branch.top_via == "SIP/2.0/UDP Host.Example.COM"
    # ACK: the CSeq number (not method) and the top Via; the method becomes INVITE.
    assert server_key(request("ACK", branch="1234")) == key


@pytest.mark.parametrize("change", [
    {"ruri": "sip:carol@example.com"}, {"from_tag": "f2"}, {"call_id": "cid-2"}, {"cseq": 6},
    {"via": "SIP/2.0/UDP host.example.com"},
])
def test_legacy_keys_differ_on_each_field(change: dict) -> None:
    assert server_key(request(branch=None, **change)) != server_key(request(branch=None))


def test_response_key_is_branch_and_cseq_method() -> None:
    req = request()
    assert response_key(SIPMessage.parse(reply(req, 180))) == ClientKey("z9hG4bKm1", "INVITE")
    assert client_key(req) == ClientKey("z9hG4bKm1", "INVITE")
    cancel_reply = SIPMessage.parse(reply(request("CANCEL"), 200))
    assert response_key(cancel_reply) == ClientKey("z9hG4bKm1", "CANCEL")
    assert response_key(SIPMessage.parse(reply(request(branch=None), 200))) is None
    with pytest.raises(TransactionUsageError):
        client_key(request(branch=None))


def test_missing_via_is_a_parse_error_with_a_status() -> None:
    msg = SIPMessage.parse(b"OPTIONS sip:x SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\n"
                           b"To: <sip:x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")
    with pytest.raises(SIPParseError) as info:
        server_key(msg)
    assert info.value.status == 400


# -------------------------------------------------------- matching in a table


def add(table: TransactionTable, req: SIPMessage) -> ServerTransaction:
    made = table.add_server(req, 0.0, "peer", reliable=False)
    assert isinstance(made, Created) and isinstance(made.transaction, ServerTransaction)
    return made.transaction


@pytest.mark.parametrize("branch", ["z9hG4bKm1", "legacy-77", None])
def test_retransmission_and_ack_match_the_invite(branch: str | None) -> None:
    table = TransactionTable()
    inv = request(branch=branch)
    tx = add(table, inv)
    assert table.match_request(request(branch=branch)) is tx
    final = reply(inv, 486, to_tag="neg1")
    tx.send_response(final, 0.1)
    ack = SIPMessage.parse(build_ack(inv, SIPMessage.parse(final)))
    assert table.match_request(ack) is tx
    assert table.match_request(request("BYE", branch=branch)) is None
    assert table.match_request(request(branch=branch, via="SIP/2.0/UDP elsewhere")) is None


def test_legacy_ack_must_carry_the_to_tag_of_the_final_response() -> None:
    table = TransactionTable()
    inv = request(branch=None)
    tx = add(table, inv)
    assert table.match_request(request("ACK", branch=None, to_tag="neg1")) is None  # no final
    tx.send_response(reply(inv, 486, to_tag="neg1"), 0.1)
    assert table.match_request(request("ACK", branch=None, to_tag="neg1")) is tx
    assert table.match_request(request("ACK", branch=None, to_tag="other")) is None
    assert table.match_request(request("ACK", branch=None)) is None


def test_legacy_request_must_carry_the_original_to_tag() -> None:
    table = TransactionTable()
    tx = add(table, request("BYE", branch=None, to_tag="dlg1"))
    assert table.match_request(request("BYE", branch=None, to_tag="dlg1")) is tx
    assert table.match_request(request("BYE", branch=None, to_tag="dlg2")) is None
    assert table.match_request(request("BYE", branch=None)) is None


def test_ack_for_2xx_has_a_new_branch_and_goes_to_the_tu() -> None:
    table = TransactionTable()
    inv = request()
    add(table, inv).send_response(reply(inv, 200), 0.1)
    assert table.receive_request(request("ACK", branch="z9hG4bKnew", to_tag="t1"), 0.2) is None


@pytest.mark.parametrize("branch", ["z9hG4bKm1", "legacy-77"])
def test_cancel_matches_its_invite_server_transaction(branch: str) -> None:
    table = TransactionTable()
    inv = request(branch=branch)
    tx = add(table, inv)
    cancel = SIPMessage.parse(build_cancel(inv))
    assert table.match_request(cancel) is None  # a CANCEL is its own transaction ...
    assert table.match_cancel(cancel) is tx  # ... that names the INVITE it cancels
    cancel_tx = add(table, cancel)
    assert table.match_request(SIPMessage.parse(build_cancel(inv))) is cancel_tx
    assert table.match_cancel(request("CANCEL", branch="z9hG4bKzzz")) is None
    with pytest.raises(TransactionUsageError):
        table.match_cancel(inv)


def test_legacy_cancel_needs_the_same_to_tag() -> None:
    table = TransactionTable()
    add(table, request(branch=None))
    assert table.match_cancel(request("CANCEL", branch=None, to_tag="x")) is None
    assert table.match_cancel(request("CANCEL", branch=None)) is not None


def test_cancel_does_not_match_a_non_invite() -> None:
    table = TransactionTable()
    add(table, request("OPTIONS"))
    assert table.match_cancel(request("CANCEL")) is None


def test_responses_match_client_transactions_by_branch_and_method() -> None:
    table = TransactionTable()
    inv = request()
    made = table.add_client(inv, 0.0, "next", reliable=False)
    cancel = table.add_client(build_cancel(inv), 0.5, "next", reliable=False)
    assert isinstance(made, Created) and isinstance(cancel, Created)
    ringing = SIPMessage.parse(reply(inv, 180))
    assert table.match_response(ringing) is made.transaction
    ok_cancel = SIPMessage.parse(reply(request("CANCEL"), 200))
    assert table.match_response(ok_cancel) is cancel.transaction
    stray = SIPMessage.parse(reply(request(branch="z9hG4bKother"), 200))
    assert table.match_response(stray) is None and table.receive_response(stray, 1.0) is None
