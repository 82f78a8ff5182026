"""The default routes as a registrar and proxy: real ``ksrpy run`` processes on loopback.

Each server gets its own data directory in tmp_path (``--data-dir``) and free
ports; subscribers are added with ``ksrpy user add``. Both routes/default.cfg
and its Python twin routes/default.py run the same scenarios.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipp import SCENARIOS, _final_counts, free_port

pytestmark = pytest.mark.sipp

SIPP = shutil.which("sipp") or "sipp"
ROUTES = {"cfg": str(REPO / "routes" / "default.cfg"), "py": str(REPO / "routes" / "default.py")}


def ksrpy(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ksrpy CLI."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("KSRPY_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "ksrpy", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, input=stdin)


def add_user(data: Path, aor: str, password: str) -> None:
    done = ksrpy("user", "add", aor, password, "--data-dir", str(data))
    assert done.returncode == 0, done.stderr


def server(kind: str, data: Path, *extra: str) -> KsrpyProcess:
    """The default routes (cfg or py) on free UDP and TCP ports of 127.0.0.1."""
    port = free_port()
    return KsrpyProcess(script=ROUTES[kind], listen=(f"udp:127.0.0.1:{port}",
                                                     f"tcp:127.0.0.1:{port}"),
                        extra_args=("--data-dir", str(data), *extra),
                        ctl=str(data.parent / f"ctl-{port}"))


# ------------------------------------------------------------------ a tiny UA


class UA:
    """A UDP user agent on 127.0.0.x: builds requests, answers digest challenges."""

    def __init__(self, proxy: tuple[str, int], ip: str = "127.0.0.1", port: int = 0) -> None:
        self.proxy = proxy
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(3.0)
        self.ip, self.port = self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, ruri: str, *, from_uri: str, to_uri: str | None = None,
                contact: str | None = None, cseq: int = 1, call_id: str | None = None,
                extra: str = "", expires: int | None = None, to_tag: str = "") -> bytes:
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:12]}"
                 ";rport",
                 f"From: <{from_uri}>;tag={uuid.uuid4().hex[:8]}",
                 f"To: <{to_uri or ruri}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {call_id or uuid.uuid4().hex}",
                 f"CSeq: {cseq} {method}",
                 "Max-Forwards: 70"]
        if contact:
            lines.append(f"Contact: <{contact}>")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if extra:
            lines.append(extra)
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.proxy)

    def final(self, timeout: float = 3.0) -> bytes | None:
        """The next final reply (provisional ones skipped), None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                return None
            if data.startswith(b"SIP/2.0 1"):
                continue
            return data
        return None

    def recv(self, timeout: float = 3.0) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65535)
        except TimeoutError:
            return None

    def ask(self, data: bytes, timeout: float = 3.0) -> bytes | None:
        self.send(data)
        return self.final(timeout)

    def register(self, user: str, domain: str, password: str, *, contact: str | None = None,
                 expires: int = 3600) -> bytes | None:
        """REGISTER user@domain, answering the 401; the final reply."""
        aor = f"sip:{user}@{domain}"
        ruri = f"sip:{self.proxy[0]}:{self.proxy[1]}"
        contact = contact or f"sip:{user}@{self.ip}:{self.port}"
        call_id = uuid.uuid4().hex
        first = self.ask(self.request("REGISTER", ruri, from_uri=aor, to_uri=aor,
                                      contact=contact, call_id=call_id, expires=expires))
        if status(first) != 401:
            return first
        header = digest(first, "WWW-Authenticate", "Authorization", user, password,
                        "REGISTER", ruri)
        return self.ask(self.request("REGISTER", ruri, from_uri=aor, to_uri=aor,
                                     contact=contact, call_id=call_id, cseq=2,
                                     expires=expires, extra=header))


def status(reply: bytes | None) -> int | None:
    if not reply or not reply.startswith(b"SIP/2.0 "):
        return None
    return int(reply[8:11])


def header(reply: bytes, name: str) -> str | None:
    match = re.search(rb"^" + name.encode() + rb":\s*(.*?)\r$", reply, re.M | re.I)
    return match.group(1).decode() if match else None


def digest(challenge: bytes, hname: str, aname: str, user: str, password: str, method: str,
           uri: str) -> str:
    """The (Proxy-)Authorization header line answering a challenge (MD5, qop=auth)."""
    text = header(challenge, hname) or ""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', text))
    realm, nonce = params["realm"], params["nonce"]
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1, ha2, cnonce = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}"), "0a4f113b"
    response = md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
    return (f'{aname}: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{response}", qop=auth, nc=00000001, cnonce="{cnonce}", '
            "algorithm=MD5")


# ------------------------------------------------------------------ sipp


def udp_bound(port: int) -> bool:
    """True when some socket is bound to this UDP port (read from /proc/net/udp)."""
    text = Path("/proc/net/udp").read_text()
    return any(line.split()[1].endswith(f":{port:04X}") for line in text.splitlines()[1:])


@contextmanager
def sipp_uas(scenario: str, port: int, calls: int = 1) -> Iterator[subprocess.Popen[str]]:
    workdir = tempfile.mkdtemp(prefix="uas-")
    cmd = [SIPP, "-sf", str(SCENARIOS / scenario), "-p", str(port), "-i", "127.0.0.1",
           "-t", "u1", "-m", str(calls), "-nostdin", "-timeout", "40s", "-trace_stat",
           "-stf", os.path.join(workdir, "stats.csv"), "-fd", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, cwd=workdir)
    proc.workdir = workdir  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 15
        while not udp_bound(port) and proc.poll() is None:
            assert time.monotonic() < deadline, "sipp did not bind its port"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def sipp_uac(scenario: str, target: tuple[str, int], *args: str, calls: int = 1,
             ip: str = "127.0.0.1") -> tuple[int, int, str]:
    workdir = tempfile.mkdtemp(prefix="uac-")
    stats = os.path.join(workdir, "stats.csv")
    cmd = [SIPP, f"{target[0]}:{target[1]}", "-sf", str(SCENARIOS / scenario), "-t", "u1",
           "-i", ip, "-p", str(free_port()), *args, "-m", str(calls), "-r", "5",
           "-timeout", "30s", "-timeout_error", "-recv_timeout", "5000", "-nostdin",
           "-trace_stat", "-stf", stats, "-fd", "1"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=60)
    ok, failed = _final_counts(stats)
    return ok, failed, proc.stdout + proc.stderr


# ------------------------------------------------------------------ the CLI


def test_user_cli_stores_hashes_in_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    add_user(data, "bob@example.org", "other")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    listed = ksrpy("user", "list", "--data-dir", str(data))
    assert listed.stdout.split() == ["alice@127.0.0.1", "bob@example.org"]
    conn = sqlite3.connect(data / "ksrpy.db")
    row = conn.execute("SELECT password, ha1 FROM subscriber WHERE username='alice'").fetchone()
    conn.close()
    assert row[0] == ""
    assert row[1] == hashlib.md5(b"alice:127.0.0.1:secret").hexdigest()
    assert b"secret" not in (data / "ksrpy.db").read_bytes()
    removed = ksrpy("user", "rm", "bob@example.org", "--data-dir", str(data))
    assert removed.returncode == 0
    again = ksrpy("user", "rm", "bob@example.org", "--data-dir", str(data))
    assert again.returncode == 1 and "no subscriber" in again.stderr
    bad = ksrpy("user", "add", "nodomain", "pw", "--data-dir", str(data))
    assert bad.returncode == 1 and "user@domain" in bad.stderr


def test_password_prompt_and_address_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = ksrpy("user", "add", "carol@127.0.0.1", "--data-dir", str(data), stdin="pw1\npw1\n")
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(data / "ksrpy.db")
    ha1 = conn.execute("SELECT ha1 FROM subscriber").fetchone()[0]
    conn.close()
    assert ha1 == hashlib.md5(b"carol:127.0.0.1:pw1").hexdigest()
    assert ksrpy("address", "add", "192.0.2.0/24", "--data-dir", str(data)).returncode == 0
    listed = ksrpy("address", "list", "--data-dir", str(data)).stdout
    assert listed.split() == ["1", "192.0.2.0/24", "0"]
    assert ksrpy("address", "add", "not-an-ip", "--data-dir", str(data)).returncode == 1


def test_check_without_arguments_passes() -> None:
    done = ksrpy("check")
    assert done.returncode == 0, done.stderr
    assert ksrpy("check", "-f", ROUTES["py"]).returncode == 0


# ------------------------------------------------------------------ registrar


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_register_then_the_binding_survives_a_restart(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    proxy = server(kind, data)
    with proxy:
        ok, failed, out = sipp_uac("register_auth.xml", proxy.udp, "-s", "alice", "-au", "alice",
                                   "-ap", "secret", calls=2)
        assert (ok, failed) == (2, 0), out + proxy.log()
        callee = UA(proxy.udp)
        reply = callee.register("alice", "127.0.0.1", "secret")
        assert status(reply) == 200, reply
        assert f"sip:alice@127.0.0.1:{callee.port}" in (header(reply, "Contact") or "")
        # Subscribers added while the server runs are known at once: offline CLI, RPC.
        late = UA(proxy.udp)
        assert status(late.register("dave", "127.0.0.1", "dpw")) == 401
        add_user(data, "dave@127.0.0.1", "dpw")
        assert status(late.register("dave", "127.0.0.1", "dpw")) == 200
        rpc = ksrpy("rpc", "--ctl", proxy.ctl, "auth_db.subscriber_add", "erin@127.0.0.1", "epw")
        assert rpc.returncode == 0, rpc.stderr
        assert status(late.register("erin", "127.0.0.1", "epw")) == 200
        late.close()
    # A new process on the same data directory knows the binding: a call reaches it.
    with server(kind, data) as again:
        callee.proxy = again.udp
        caller = UA(again.udp)
        host, port = again.udp
        caller.send(caller.request("INVITE", f"sip:alice@{host}:{port}",
                                   from_uri="sip:carol@example.org"))
        arrived = callee.recv(5.0)
        assert arrived is not None and arrived.startswith(
            f"INVITE sip:alice@127.0.0.1:{callee.port} SIP/2.0".encode()), again.log()
        assert re.search(rb"^Record-Route: <sip:127\.0\.0\.1:\d+;lr;ftag=", arrived, re.M)
        caller.close()
    callee.close()


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_wrong_password_is_challenged_then_banned(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    with server(kind, data) as proxy:
        # 127.0.0.1 is exempt from bans in the default routes: attack from 127.0.0.2.
        attacker = UA(proxy.udp, ip="127.0.0.2")
        codes = [status(attacker.register("alice", "127.0.0.1", "wrong")) for _ in range(5)]
        assert codes == [401] * 5, proxy.log()
        assert attacker.register("alice", "127.0.0.1", "secret") is None  # banned: silence
        assert "BAN ip=127.0.0.2" in proxy.log()
        # An unknown user counts too; a good client elsewhere is unaffected.
        good = UA(proxy.udp)
        assert status(good.register("alice", "127.0.0.1", "secret")) == 200
        attacker.close()
        good.close()
    # The ban is kept in the data directory: still silent after a restart.
    with server(kind, data) as again:
        attacker = UA(again.udp, ip="127.0.0.2")
        assert attacker.ask(attacker.request("OPTIONS", f"sip:{again.udp[0]}:{again.udp[1]}",
                                             from_uri="sip:x@example.org"), 1.0) is None
        attacker.close()


# ------------------------------------------------------------------ proxy


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_authenticated_call_reaches_the_registered_callee(tmp_path: Path, kind: str) -> None:
    """sipp caller (407, then credentials) -> proxy -> registered sipp callee; BYE via RR."""
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    add_user(data, "bob@127.0.0.1", "bobpw")
    with server(kind, data) as proxy:
        uas_port = free_port()
        reg = UA(proxy.udp, port=uas_port)
        assert status(reg.register("alice", "127.0.0.1", "secret")) == 200
        reg.close()
        with sipp_uas("uas_call.xml", uas_port) as uas:
            ok, failed, out = sipp_uac("uac_auth_call.xml", proxy.udp, "-s", "alice",
                                       "-key", "caller", "bob", "-au", "bob", "-ap", "bobpw")
            assert (ok, failed) == (1, 0), out[-3000:] + proxy.log()[-3000:]
            uas.wait(15)
            assert uas.returncode == 0, (uas.stdout.read() if uas.stdout else "")[-2000:]


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_no_open_relay_and_unknown_users(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    add_user(data, "bob@127.0.0.1", "bobpw")
    with server(kind, data) as proxy:
        host, port = proxy.udp
        ua = UA(proxy.udp, ip="127.0.0.3")
        local_from = f"sip:bob@{host}:{port}"
        # A foreign caller to a foreign domain: 403, never relayed.
        reply = ua.ask(ua.request("INVITE", "sip:carol@example.net",
                                  from_uri="sip:mallory@example.org"))
        assert status(reply) == 403, proxy.log()
        # A From that claims the local domain must authenticate, whatever the target.
        challenge = ua.ask(ua.request("INVITE", "sip:carol@example.net", from_uri=local_from))
        assert status(challenge) == 407
        assert 'Proxy-Authenticate: Digest realm="127.0.0.1"' in challenge.decode()
        # Authenticated, but nobody of that name is registered here: 404.
        ruri = f"sip:nobody@{host}:{port}"
        first = ua.ask(ua.request("INVITE", ruri, from_uri=local_from, call_id="c1"))
        assert status(first) == 407
        creds = digest(first, "Proxy-Authenticate", "Proxy-Authorization", "bob", "bobpw",
                       "INVITE", ruri)
        reply = ua.ask(ua.request("INVITE", ruri, from_uri=local_from, call_id="c1", cseq=2,
                                  extra=creds))
        assert status(reply) == 404, proxy.log()
        # A foreign caller to an unregistered local user: 404 too.
        reply = ua.ask(ua.request("MESSAGE", f"sip:alice@{host}:{port}",
                                  from_uri="sip:mallory@example.org"))
        assert status(reply) == 404
        # An in-dialog request that does not route through us: 404.
        reply = ua.ask(ua.request("BYE", f"sip:alice@{host}:{port}",
                                  from_uri="sip:mallory@example.org", to_tag="x1"))
        assert status(reply) == 404
        ua.close()


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_trusted_peer_relays_without_auth(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    add_user(data, "bob@127.0.0.1", "bobpw")
    assert ksrpy("address", "add", "127.0.0.4", "--data-dir", str(data)).returncode == 0
    with server(kind, data) as proxy:
        host, port = proxy.udp
        target = UA(proxy.udp)  # a "foreign" next hop: another port is not us
        peer = UA(proxy.udp, ip="127.0.0.4")
        ruri = f"sip:carol@127.0.0.1:{target.port}"
        peer.send(peer.request("INVITE", ruri, from_uri=f"sip:bob@{host}:{port}"))
        arrived = target.recv(5.0)
        assert arrived is not None and arrived.startswith(f"INVITE {ruri} ".encode()), \
            proxy.log()
        # Not trusted: the same request is challenged.
        other = UA(proxy.udp, ip="127.0.0.5")
        reply = other.ask(other.request("INVITE", ruri, from_uri=f"sip:bob@{host}:{port}"))
        assert status(reply) == 407
        for ua in (target, peer, other):
            ua.close()


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_nated_client_is_reached_at_its_source_address(tmp_path: Path, kind: str) -> None:
    """A Contact with a private address: the binding keeps the source as received."""
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    with server(kind, data) as proxy:
        host, port = proxy.udp
        nated = UA(proxy.udp)
        reply = nated.register("alice", "127.0.0.1", "secret",
                               contact="sip:alice@192.168.1.20:5062")
        assert status(reply) == 200, proxy.log()
        # The caller is behind a NAT too: its Contact gets an alias of its source, and
        # the Record-Route says nat=yes.
        caller = UA(proxy.udp)
        caller.send(caller.request("INVITE", f"sip:alice@{host}:{port}",
                                   from_uri="sip:carol@example.org",
                                   contact="sip:carol@10.1.2.3:5060"))
        arrived = nated.recv(5.0)
        assert arrived is not None and arrived.startswith(
            b"INVITE sip:alice@192.168.1.20:5062 SIP/2.0"), proxy.log()
        assert f"alias=127.0.0.1~{caller.port}~1" in (header(arrived, "Contact") or "")
        assert ";nat=yes" in (header(arrived, "Record-Route") or "")
        # The callee answers with its private Contact: the caller gets an alias of
        # the callee's public address, so its ACK and BYE can reach it.
        head = arrived.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
        keep = [h for h in head if h.split(b":", 1)[0].lower() in
                (b"via", b"from", b"call-id", b"cseq", b"record-route")]
        to = next(h for h in head if h.lower().startswith(b"to:"))
        answer = b"\r\n".join([b"SIP/2.0 200 OK", *keep, to + b";tag=callee1",
                                b"Contact: <sip:alice@192.168.1.20:5062>",
                                b"Content-Length: 0", b"", b""])
        nated.sock.sendto(answer, proxy.udp)
        final = caller.final(5.0)
        assert status(final) == 200, proxy.log()
        contact = header(final, "Contact") or ""
        assert f"alias=127.0.0.1~{nated.port}~1" in contact, contact
        nated.close()
        caller.close()


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_cancel_reaches_the_ringing_callee(tmp_path: Path, kind: str) -> None:
    """A call from another domain to a registered user, cancelled while it rings: 487."""
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    with server(kind, data) as proxy:
        uas_port = free_port()
        reg = UA(proxy.udp, port=uas_port)
        assert status(reg.register("alice", "127.0.0.1", "secret")) == 200
        reg.close()
        with sipp_uas("uas_ring.xml", uas_port) as uas:
            ok, failed, out = sipp_uac("uac_cancel.xml", proxy.udp, "-s", "alice")
            assert (ok, failed) == (1, 0), out[-3000:] + proxy.log()[-3000:]
            uas.wait(15)
            assert uas.returncode == 0


def test_register_over_tcp(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data, "alice@127.0.0.1", "secret")
    with server("cfg", data) as proxy:
        workdir = tempfile.mkdtemp(prefix="uac-")
        stats = os.path.join(workdir, "stats.csv")
        cmd = [SIPP, f"{proxy.tcp[0]}:{proxy.tcp[1]}", "-sf",
               str(SCENARIOS / "register_auth.xml"), "-t", "t1", "-i", "127.0.0.1", "-p",
               str(free_port()), "-s", "alice", "-au", "alice", "-ap", "secret", "-m", "3",
               "-r", "5", "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_stat",
               "-stf", stats, "-fd", "1"]
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=60)
        assert _final_counts(stats) == (3, 0), done.stdout[-2000:] + proxy.log()


@pytest.mark.parametrize("kind", ["cfg", "py"])
def test_alias_define_adds_a_local_domain(tmp_path: Path, kind: str) -> None:
    """-A ALIAS=name: users of that domain register and must authenticate to call."""
    data = tmp_path / "data"
    add_user(data, "bob@sip.example.test", "bobpw")
    with server(kind, data, "-A", "ALIAS=sip.example.test") as proxy:
        ua = UA(proxy.udp)
        assert status(ua.register("bob", "sip.example.test", "bobpw")) == 200, proxy.log()
        local = ua.ask(ua.request("INVITE", "sip:carol@example.net",
                                  from_uri="sip:bob@sip.example.test"))
        assert status(local) == 407
        foreign = ua.ask(ua.request("INVITE", "sip:carol@example.net",
                                    from_uri="sip:bob@elsewhere.test"))
        assert status(foreign) == 403
        # Calls to the alias domain are local: bob is found.
        caller = UA(proxy.udp)
        caller.send(caller.request("INVITE", "sip:bob@sip.example.test",
                                   from_uri="sip:carol@example.net"))
        arrived = ua.recv(5.0)
        assert arrived is not None and arrived.startswith(b"INVITE sip:bob@127.0.0.1:")
        ua.close()
        caller.close()
