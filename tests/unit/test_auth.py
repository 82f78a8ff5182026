"""auth and auth_db: digest math, nonces, return codes, challenge shapes, stores, bans."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path

import pytest

from ksrpy.core.engine import Engine
from ksrpy.modules.auth.digest import (
    calc_ha1,
    calc_ha2,
    calc_response,
    check_shape,
    hash_hex,
    verify,
)
from ksrpy.modules.auth.nonce import NonceFactory, NonceStatus, ReplayTable
from ksrpy.modules.auth_db.backends import parse_file
from ksrpy.sip.digest import parse_credentials
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo
from tests.unit.test_cfg_compile import _engine

RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)
REALM = "example.com"
NONCE_RE = re.compile(r'nonce="([^"]+)"')

# ------------------------------------------------------------------ digest math


def test_rfc2617_md5_qop_auth_vector() -> None:
    ha1 = calc_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    ha2 = calc_ha2("MD5", "GET", "/dir/index.html")
    resp = calc_response("MD5", ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", ha2, "auth",
                         "00000001", "0a4f113b")
    assert resp == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(("alg", "want"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_vectors(alg: str, want: str) -> None:
    ha1 = calc_ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life")
    ha2 = calc_ha2(alg, "GET", "/dir/index.html")
    resp = calc_response(alg, ha1, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ha2, "auth",
                         "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    assert resp == want


def test_rfc2617_no_qop_and_auth_int() -> None:
    ha1 = calc_ha1("MD5", "u", "r", "p")
    plain = calc_response("MD5", ha1, "n", calc_ha2("MD5", "INVITE", "sip:x"))
    assert plain == hash_hex("MD5", f"{ha1}:n:{hash_hex('MD5', 'INVITE:sip:x')}")
    ha2 = calc_ha2("MD5", "INVITE", "sip:x", "auth-int", b"body")
    assert ha2 == hash_hex("MD5", f"INVITE:sip:x:{hash_hex('MD5', b'body')}")


def _creds(**kw: str) -> str:
    base = {"username": "alice", "realm": REALM, "nonce": "n", "uri": "sip:x",
            "response": "0" * 32}
    base.update(kw)
    return "Digest " + ", ".join(f'{k}="{v}"' for k, v in base.items())


def test_shape_checks() -> None:
    assert check_shape(parse_credentials(_creds()), "MD5") is not None
    assert check_shape(parse_credentials(_creds(response="0" * 31)), "MD5") is None
    assert check_shape(parse_credentials(_creds()), "SHA-256") is None  # MD5 by default
    assert check_shape(parse_credentials(_creds(qop="auth")), "MD5") is None  # nc/cnonce
    ok = _creds(qop="auth", nc="00000001", cnonce="c")
    assert check_shape(parse_credentials(ok), "MD5") is not None
    sha = _creds(algorithm="SHA-256", response="0" * 64)
    assert check_shape(parse_credentials(sha), "SHA-256") is not None


def test_verify_md5_sess() -> None:
    ha1 = calc_ha1("MD5", "alice", REALM, "pw")
    sess = hash_hex("MD5", f"{ha1}:n:c")
    resp = calc_response("MD5", sess, "n", calc_ha2("MD5", "REGISTER", "sip:x"), "auth",
                         "00000001", "c")
    creds = parse_credentials(_creds(algorithm="MD5-sess", qop="auth", nc="00000001",
                                     cnonce="c", response=resp))
    checked = check_shape(creds, "MD5")
    assert checked is not None and verify(checked, ha1, "REGISTER")


# ------------------------------------------------------------------ nonces


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _factory(clock: Clock, **kw: object) -> NonceFactory:
    return NonceFactory(b"s" * 32, 300, 3, ReplayTable(4, 4), clock)  # type: ignore[arg-type]


def test_nonce_valid_expired_drift_forged() -> None:
    clock = Clock()
    f = _factory(clock)
    nonce = f.make()
    assert len(nonce) == 40
    assert f.check(nonce, lambda c: []) is NonceStatus.OK
    clock.now += 301
    assert f.check(nonce, lambda c: []) is NonceStatus.STALE
    clock.now -= 301
    other = NonceFactory(b"t" * 32, clock=clock)
    assert other.check(nonce, lambda c: []) is NonceStatus.INVALID
    flipped = nonce[:20] + ("A" if nonce[20] != "A" else "B") + nonce[21:]
    assert f.check(flipped, lambda c: []) is NonceStatus.INVALID
    assert f.check("garbage", lambda c: []) is NonceStatus.INVALID
    clock.now -= 10  # the nonce now appears to come from the future
    assert f.check(nonce, lambda c: []) is NonceStatus.STALE


def test_nonce_bound_parts() -> None:
    f = _factory(Clock())
    nonce = f.make(3, ["sip:a@b", "call-1"])
    assert len(nonce) == 60
    assert f.check(nonce, lambda c: ["sip:a@b", "call-1"]) is NonceStatus.OK
    assert f.check(nonce, lambda c: ["sip:a@b", "call-2"]) is NonceStatus.STALE


def test_nonce_count_and_one_time() -> None:
    f = _factory(Clock())
    nonce = f.make(nc=True)
    assert f.check(nonce, lambda c: [], "00000001") is NonceStatus.OK
    assert f.check(nonce, lambda c: [], "00000001") is NonceStatus.STALE  # replayed nc
    assert f.check(nonce, lambda c: [], "00000002") is NonceStatus.OK
    assert f.check(nonce, lambda c: [], "00000100") is NonceStatus.STALE  # nc > 255
    otn = f.make(otn=True)
    assert f.check(otn, lambda c: []) is NonceStatus.OK
    assert f.check(otn, lambda c: []) is NonceStatus.REUSED
    # The table is bounded (16 slots here): old nonces lose their state and go stale.
    old = f.make(otn=True)
    for _ in range(16):
        f.make(otn=True)
    assert f.check(old, lambda c: []) is NonceStatus.STALE


def test_nonce_from_previous_process_is_stale_when_tracked() -> None:
    clock = Clock()
    first = _factory(clock)
    nonce = first.make(otn=True)
    clock.now += 5
    second = _factory(clock)
    assert second.check(nonce, lambda c: []) is NonceStatus.STALE


# ------------------------------------------------------------------ script level

AUTH_HEADER = """\
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "auth.so"
"""


def _send(engine: Engine, method: str = "REGISTER", ruri: str = "sip:example.com",
          user: str = "alice", extra: str = "", callid: str = "c1",
          src: ReceiveInfo = RCV) -> list[SIPMessage]:
    transport = engine.transport
    assert transport is not None
    before = len(transport.sent)  # type: ignore[attr-defined]
    raw = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK1\r\n"
           f"From: <sip:{user}@{REALM}>;tag=f1\r\nTo: <sip:{user}@{REALM}>\r\n"
           f"Call-ID: {callid}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}"
           "Content-Length: 0\r\n\r\n")
    engine.handle(raw.encode(), src)
    return [SIPMessage.parse(s[3]) for s in transport.sent[before:]]  # type: ignore[attr-defined]


def _authorization(nonce: str, password: str = "secret", user: str = "alice",
                   method: str = "REGISTER", uri: str = "sip:example.com", nc: str = "00000001",
                   alg: str = "MD5", realm: str = REALM, proxy: bool = False) -> str:
    ha1 = calc_ha1(alg, user, realm, password)
    resp = calc_response(alg, ha1, nonce, calc_ha2(alg, method, uri), "auth", nc, "cn")
    name = "Proxy-Authorization" if proxy else "Authorization"
    algo = f", algorithm={alg}" if alg != "MD5" else ""
    return (f'{name}: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", qop=auth, nc={nc}, cnonce="cn"{algo}\r\n')


def _challenge(engine: Engine, method: str = "REGISTER", **kw: str) -> str:
    replies = _send(engine, method, ruri="sip:challenge@example.com", **kw)
    assert len(replies) == 1
    name = "WWW-Authenticate" if method == "REGISTER" else "Proxy-Authenticate"
    header = replies[0].get_header(name)
    assert header is not None
    found = NONCE_RE.search(header)
    assert found is not None
    return found.group(1)


def _rc(engine: Engine, extra: str = "", **kw: str) -> str:
    replies = _send(engine, extra=extra, **kw)
    assert len(replies) == 1
    return replies[0].reason


PV_ROUTE = """\
request_route {
    if ($rU == "challenge") { auth_challenge("$fd", "1"); exit; }
    $var(rc) = pv_auth_check("$fd", "secret", "0", "1");
    sl_send_reply("299", "rc=$var(rc)");
}
"""


def _pv_engine(tmp_path: Path, modparams: str = "") -> Engine:
    return _engine(tmp_path, PV_ROUTE, header=AUTH_HEADER + modparams)


def test_challenge_header_shapes(tmp_path: Path) -> None:
    body = """\
    request_route {
        if ($rU == "w") { www_challenge("$fd", "1"); exit; }
        if ($rU == "p") { proxy_challenge("$fd", "3"); exit; }
        if ($rU == "s") { auth_challenge("$fd", "16"); exit; }
        auth_challenge("$fd", "0");
    }
    """
    engine = _engine(tmp_path, body, header=AUTH_HEADER)
    www = _send(engine, ruri="sip:w@example.com")[0]
    assert (www.status, www.reason) == (401, "Unauthorized")
    assert re.fullmatch(r'Digest realm="example\.com", nonce="[A-Za-z0-9+/]{40}", qop="auth"',
                        www.get_header("WWW-Authenticate") or "")
    prx = _send(engine, ruri="sip:p@example.com")[0]
    assert (prx.status, prx.reason) == (407, "Proxy Authentication Required")
    assert (prx.get_header("Proxy-Authenticate") or "").endswith(', qop="auth-int"')
    stale = _send(engine, ruri="sip:s@example.com")[0]
    assert (stale.get_header("WWW-Authenticate") or "").endswith('", stale=true')
    inv = _send(engine, "INVITE", ruri="sip:x@example.com")[0]
    assert inv.status == 407
    assert re.fullmatch(r'Digest realm="example\.com", nonce="[^"]+"',
                        inv.get_header("Proxy-Authenticate") or "")


def test_challenge_sha256_algorithm(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path, 'modparam("auth", "algorithm", "SHA-256")\n')
    reply = _send(engine, ruri="sip:challenge@example.com")[0]
    assert (reply.get_header("WWW-Authenticate") or "").endswith(
        ', qop="auth", algorithm=SHA-256')
    nonce = NONCE_RE.findall(reply.get_header("WWW-Authenticate") or "")[0]
    assert _rc(engine, _authorization(nonce, alg="SHA-256")) == "rc=1"
    assert _rc(engine, _authorization(_challenge(engine))) == "rc=-1"  # MD5 answer


def test_pv_auth_check_return_codes(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path)
    assert _rc(engine, _authorization(_challenge(engine))) == "rc=1"
    assert _rc(engine, _authorization(_challenge(engine), "bad")) == "rc=-2"
    assert _rc(engine) == "rc=-5"
    assert _rc(engine, _authorization(_challenge(engine), realm="other.org")) == "rc=-5"
    forged = "A" * 40
    assert _rc(engine, _authorization(forged)) == "rc=-1"
    mismatch = _authorization(_challenge(engine), user="bob")
    assert _rc(engine, mismatch) == "rc=-8"
    broken = _authorization(_challenge(engine)).replace('username="alice", ', "")
    assert _rc(engine, broken) == "rc=-1"


def test_nonce_expiry_gives_stale_and_stale_challenge(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path)
    nonce = _challenge(engine)
    factory = engine.modules["auth"].factory()  # type: ignore[attr-defined]
    factory.clock = lambda: 4_000_000_000.0
    assert _rc(engine, _authorization(nonce)) == "rc=-4"


def test_nonce_count_replay_is_stale(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path, 'modparam("auth", "nonce_count", 1)\n')
    nonce = _challenge(engine)
    assert _rc(engine, _authorization(nonce)) == "rc=1"
    assert _rc(engine, _authorization(nonce)) == "rc=-4"
    assert _rc(engine, _authorization(nonce, nc="00000002")) == "rc=1"


def test_one_time_nonce_reuse(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path, 'modparam("auth", "one_time_nonce", 1)\n')
    nonce = _challenge(engine)
    assert _rc(engine, _authorization(nonce)) == "rc=1"
    assert _rc(engine, _authorization(nonce)) == "rc=-6"


def test_auth_checks_register_binds_callid(tmp_path: Path) -> None:
    engine = _pv_engine(tmp_path, 'modparam("auth", "auth_checks_register", 2)\n')
    nonce = _challenge(engine)
    assert _rc(engine, _authorization(nonce), callid="c1") == "rc=1"
    assert _rc(engine, _authorization(nonce), callid="other") == "rc=-4"


def test_realm_prefix_and_has_credentials(tmp_path: Path) -> None:
    body = """\
    request_route {
        $var(rc) = has_credentials("sip.example.com");
        sl_send_reply("299", "rc=$var(rc)");
    }
    """
    engine = _engine(tmp_path, body,
                     header=AUTH_HEADER + 'modparam("auth", "realm_prefix", "sip.")\n')
    assert _rc(engine, _authorization("n")) == "rc=1"
    assert _rc(engine) == "rc=-1"


def test_consume_credentials_and_authinfo(tmp_path: Path) -> None:
    body = """\
    request_route {
        if ($rU == "challenge") { auth_challenge("$fd", "1"); exit; }
        if (pv_www_authenticate("$fd", "secret", "0")) {
            consume_credentials();
            $var(h) = $hdr(Authorization);
            sl_send_reply("200", "gone=[$var(h)]");
            exit;
        }
        sl_send_reply("403", "no");
    }
    """
    engine = _engine(tmp_path, body,
                     header=AUTH_HEADER + 'modparam("auth", "add_authinfo_hdr", 1)\n')
    nonce = _challenge(engine)
    reply = _send(engine, extra=_authorization(nonce))[0]
    assert reply.status == 200
    info = reply.get_header("Authentication-Info") or ""
    assert info.startswith(f'nextnonce="{nonce}", qop=auth, rspauth="')
    assert info.endswith('", cnonce="cn", nc=00000001')


# ------------------------------------------------------------------ auth_db

DB_ROUTE = """\
request_route {
    if ($rU == "challenge") { auth_challenge("$fd", "1"); exit; }
    $var(rc) = auth_check("$fd", "subscriber", "1");
    sl_send_reply("299", "rc=$var(rc)");
}
"""


def _sqlite(path: Path, password: str = "secret") -> str:
    conn = sqlite3.connect(path)
    conn.executescript(Path("/usr/share/kamailio/db_sqlite/standard-create.sql").read_text()
                       if Path("/usr/share/kamailio/db_sqlite/standard-create.sql").exists()
                       else "CREATE TABLE version (table_name VARCHAR(32), table_version INT);")
    conn.executescript(textwrap.dedent("""\
        CREATE TABLE subscriber (
            id INTEGER PRIMARY KEY NOT NULL, username VARCHAR(64) DEFAULT '' NOT NULL,
            domain VARCHAR(64) DEFAULT '' NOT NULL, password VARCHAR(64) DEFAULT '' NOT NULL,
            ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL);
        """))
    conn.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                 "VALUES (?, ?, ?, ?, ?)",
                 ("alice", REALM, password, calc_ha1("MD5", "alice", REALM, password),
                  calc_ha1("MD5", f"alice@{REALM}", REALM, password)))
    conn.commit()
    conn.close()
    return f"sqlite://{path}"


def _db_engine(tmp_path: Path, params: str, extra_header: str = "") -> Engine:
    header = AUTH_HEADER + extra_header + 'loadmodule "auth_db.so"\n' + params
    engine = _engine(tmp_path, DB_ROUTE, header=header)
    engine.init_modules()
    return engine


@pytest.mark.parametrize("calculate", ["0", "1"])
def test_auth_db_sqlite(tmp_path: Path, calculate: str) -> None:
    url = _sqlite(tmp_path / "k.db")
    column = "ha1" if calculate == "0" else "password"
    engine = _db_engine(tmp_path, f'modparam("auth_db", "db_url", "{url}")\n'
                        f'modparam("auth_db", "calculate_ha1", {calculate})\n'
                        f'modparam("auth_db", "password_column", "{column}")\n')
    assert _rc(engine, _authorization(_challenge(engine))) == "rc=1"
    assert _rc(engine, _authorization(_challenge(engine), "wrong")) == "rc=-2"
    assert _rc(engine, _authorization(_challenge(engine, user="carol"), user="carol"),
               user="carol") == "rc=-3"
    assert _rc(engine) == "rc=-5"
    # From/To user differs from the auth user: -8 with flags 1.
    assert _rc(engine, _authorization(_challenge(engine), user="alice"), user="bob") == "rc=-8"


def test_auth_db_use_domain_and_is_subscriber(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "k.db")
    body = """\
    request_route {
        $var(a) = is_subscriber("sip:alice@example.com", "subscriber", "1");
        $var(b) = is_subscriber("sip:alice@other.org", "subscriber", "1");
        $var(c) = is_subscriber("sip:alice@other.org", "subscriber", "0");
        sl_send_reply("299", "$var(a) $var(b) $var(c)");
    }
    """
    header = (AUTH_HEADER + 'loadmodule "auth_db.so"\n'
              f'modparam("auth_db", "db_url", "{url}")\n')
    engine = _engine(tmp_path, body, header=header)
    engine.init_modules()
    assert _rc(engine) == "1 -1 1"


def test_file_backend_and_rpcs(tmp_path: Path) -> None:
    cred = tmp_path / "credentials"
    ha1 = calc_ha1("MD5", "bob", REALM, "bobpw")
    cred.write_text(f"# users\nalice@{REALM} secret\nbob@{REALM}:{ha1}\n")
    assert parse_file(cred.read_text())[("bob", REALM)] == {"ha1": ha1}
    engine = _db_engine(tmp_path, f'modparam("auth_db", "credentials_file", "{cred}")\n')
    assert _rc(engine, _authorization(_challenge(engine))) == "rc=1"
    bob = _authorization(_challenge(engine, user="bob"), "bobpw", user="bob")
    assert _rc(engine, bob, user="bob") == "rc=1"
    module = engine.modules["auth_db"]
    module.rpc_subscriber_add(f"carol@{REALM}", "carolpw")  # type: ignore[attr-defined]
    assert f"carol@{REALM}:{calc_ha1('MD5', 'carol', REALM, 'carolpw')}" in cred.read_text()
    carol = _authorization(_challenge(engine, user="carol"), "carolpw", user="carol")
    assert _rc(engine, carol, user="carol") == "rc=1"
    assert module.rpc_subscriber_list() == [  # type: ignore[attr-defined]
        f"alice@{REALM}", f"bob@{REALM}", f"carol@{REALM}"]
    module.rpc_subscriber_rm(f"carol@{REALM}")  # type: ignore[attr-defined]
    carol = _authorization(_challenge(engine, user="carol"), "carolpw", user="carol")
    assert _rc(engine, carol, user="carol") == "rc=-3"


def test_sqlite_rpcs_store_ha1(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    engine = _db_engine(tmp_path, f'modparam("auth_db", "db_url", "sqlite://{db}")\n')
    module = engine.modules["auth_db"]
    module.rpc_subscriber_add(f"alice@{REALM}", "secret")  # type: ignore[attr-defined]
    row = sqlite3.connect(db).execute("SELECT password, ha1, ha1b FROM subscriber").fetchone()
    assert row == ("", calc_ha1("MD5", "alice", REALM, "secret"),
                   calc_ha1("MD5", f"alice@{REALM}", REALM, "secret"))
    assert _rc(engine, _authorization(_challenge(engine))) == "rc=1"
    assert module.rpc_subscriber_list() == [f"alice@{REALM}"]  # type: ignore[attr-defined]
    module.rpc_subscriber_rm(f"alice@{REALM}")  # type: ignore[attr-defined]
    assert module.rpc_subscriber_list() == []  # type: ignore[attr-defined]


def test_bad_passwords_ban_the_source(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "k.db")
    engine = _db_engine(
        tmp_path, f'modparam("auth_db", "db_url", "{url}")\nmodparam("ban", "auth_fail_max", 3)\n',
        extra_header='loadmodule "htable.so"\nloadmodule "ban.so"\n')
    ban = engine.modules["ban"]
    for _ in range(2):
        assert _rc(engine, _authorization(_challenge(engine), "wrong")) == "rc=-2"
    assert not ban.banned(RCV.src_ip)  # type: ignore[attr-defined]
    assert _rc(engine, _authorization(_challenge(engine), "wrong")) == "rc=-2"
    assert ban.banned(RCV.src_ip)  # type: ignore[attr-defined]
