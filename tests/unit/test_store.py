"""State stores: memory, a real SQLite file, a real redis-server; URLs; write-behind batching.

The redis tests start their own ``redis-server`` on a free loopback port
(``--save "" --appendonly no``); when it is not installed they fail, naming
the Debian package to install.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksrpy.store import (
    BufferedStore,
    KeyValueStore,
    StoreError,
    check_url,
    open_store,
    pack_value,
    unpack_value,
)
from ksrpy.store.base import Pending, Row
from ksrpy.store.sqlite import SqliteStore

REDIS_PACKAGE_HINT = ("redis-server is not installed; install the Debian package "
                      "'redis-server' (apt-get install -y redis-server)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(exe: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free port, answering PING (a few tries against port races)."""
    last = ""
    for _attempt in range(3):
        port = _free_port()
        log = workdir / f"redis-{port}.log"
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(5)
        last = log.read_text(errors="replace") if log.exists() else ""
    pytest.fail(f"redis-server did not start:\n{last}")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a throw-away redis-server."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail(REDIS_PACKAGE_HINT)
    proc, port = _start_redis(exe, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _redis_url(base: str) -> str:
    """A URL with a prefix of its own, so tests do not see each other's tables."""
    return f"{base}?prefix=t{uuid.uuid4().hex[:8]}:"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One URL per backend."""
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    return _redis_url(request.getfixturevalue("redis_server"))


# ------------------------------------------------------------ every backend


def test_put_load_delete_clear(store_url: str) -> None:
    store = open_store(store_url)
    try:
        store.put("ipban", "10.0.0.1", 1, None)
        store.put("ipban", "10.0.0.2", "x", 1700000000.5)
        store.put("ipban", "é:ü", -(2**63), 12.0)
        store.put("other", "10.0.0.1", 2**63 - 1, None)
        store.put("ipban", "10.0.0.1", 7, 99.0)  # replaces
        assert store.load("ipban") == {"10.0.0.1": (7, 99.0), "10.0.0.2": ("x", 1700000000.5),
                                       "é:ü": (-(2**63), 12.0)}
        store.delete("ipban", "10.0.0.2")
        store.delete("ipban", "never-there")
        assert set(store.load("ipban")) == {"10.0.0.1", "é:ü"}
        store.clear("ipban")
        store.put("ipban", "after-clear", "v", None)
        assert store.load("ipban") == {"after-clear": ("v", None)}
        assert store.load("other") == {"10.0.0.1": (2**63 - 1, None)}
        assert store.load("empty") == {}
    finally:
        store.close()
    with pytest.raises(StoreError, match="closed"):
        store.put("ipban", "k", 1, None)


def test_values_are_int_or_str(store_url: str) -> None:
    store = open_store(store_url)
    try:
        store.put("t", "bool", True, None)
        assert store.load("t")["bool"] == (1, None)
        for bad in (1.5, [1], None, b"x"):
            with pytest.raises(TypeError, match="int or str"):
                store.put("t", "k", bad, None)  # type: ignore[arg-type]
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_rows_survive_reopening(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = (f"sqlite://{tmp_path}/state.db" if kind == "sqlite"
           else _redis_url(request.getfixturevalue("redis_server")))
    first = open_store(url, flush_interval=3600, batch_size=10_000)
    for i in range(500):
        first.put("ipban", f"10.0.{i // 256}.{i % 256}", i, 2e9 + i)
    first.delete("ipban", "10.0.0.0")
    first.close()  # a clean stop writes everything
    second = open_store(url)
    try:
        rows = second.load("ipban")
        assert len(rows) == 499 and rows["10.0.1.243"] == (499, 2e9 + 499)
    finally:
        second.close()


# ------------------------------------------------------------------- SQLite


def _rows_on_disk(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM ksrpy_kv").fetchone()[0])


def test_sqlite_file_format_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite://{path}")
    store.put("ipban", "10.0.0.1", "banned", 123.0)
    store.flush()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = db.execute("SELECT tname, key, value, expires FROM ksrpy_kv").fetchone()
        assert db.execute("SELECT value FROM ksrpy_meta WHERE name='schema'").fetchone() == ("1",)
    assert row[:2] == ("ipban", "10.0.0.1") and row[3] == 123.0
    assert unpack_value(row[2]) == "banned" and row[2] == pack_value("banned")
    store.close()


def test_sqlite_writes_are_batched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    now = [0.0]
    store = SqliteStore(str(path), batch_size=50, flush_interval=1.0, clock=lambda: now[0])
    for i in range(49):
        store.put("t", f"k{i}", i, None)
    assert _rows_on_disk(path) == 0 and store.pending == 49  # still in the buffer
    store.put("t", "k49", 49, None)
    assert _rows_on_disk(path) == 50 and store.pending == 0  # the batch is full: one flush
    for _ in range(100):
        store.put("t", "hot", 1, None)  # the same key coalesces into one pending row
    assert store.pending == 1 and not store.flush_due()
    now[0] = 1.5
    assert store.flush_due()
    store.put("t", "k50", 50, None)  # the interval has passed: this change flushes
    assert _rows_on_disk(path) == 52
    store.close()


def test_sqlite_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no directory"):
        open_store(f"sqlite://{tmp_path}/missing/state.db")
    path = tmp_path / "state.db"
    open_store(f"sqlite://{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE ksrpy_meta SET value='99' WHERE name='schema'")
    with pytest.raises(StoreError, match="format 99"):
        open_store(f"sqlite://{path}")


# -------------------------------------------------------------------- Redis


def test_redis_layout_and_prefix(redis_server: str) -> None:
    import msgpack
    import redis

    prefix = f"p{uuid.uuid4().hex[:6]}:"
    store = open_store(f"{redis_server}?prefix={prefix}")
    store.put("ipban", "10.0.0.1", 1, 1700000000.0)
    store.put("ipban", "10.0.0.2", "two", None)
    store.close()
    raw = redis.Redis.from_url(redis_server)
    try:
        fields = raw.hgetall(f"{prefix}ipban")
        assert {k.decode(): msgpack.unpackb(v) for k, v in fields.items()} == {
            "10.0.0.1": [1, 1700000000.0], "10.0.0.2": ["two", None]}
        assert raw.ttl(f"{prefix}ipban") == -1  # no Redis TTL: expiry is in the row
    finally:
        raw.close()


def test_redis_unreachable_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open"):
        open_store(f"redis://127.0.0.1:{_free_port()}/0", timeout=0.5)


# ------------------------------------------------- write-behind failure path


class FlakyStore(BufferedStore):
    """A buffered store whose backend fails while ``down`` is set."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__(batch_size=1, flush_interval=1.0, clock=lambda: clock[0])
        self.rows: dict[str, dict[str, Row]] = {}
        self.down = False
        self.writes = 0

    def _write(self, cleared: set[str], pending: Pending) -> None:
        self.writes += 1
        if self.down:
            raise OSError("backend down")
        for table in cleared:
            self.rows.pop(table, None)
        for table, rows in pending.items():
            target = self.rows.setdefault(table, {})
            for key, row in rows.items():
                if row is None:
                    target.pop(key, None)
                else:
                    target[key] = (unpack_value(row[0]), row[1])

    def _load(self, table: str) -> dict[str, Row]:
        return dict(self.rows.get(table, {}))

    def _close(self) -> None:
        pass


def test_failed_flush_keeps_changes_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    clock = [100.0]
    store = FlakyStore(clock)
    store.down = True
    store.put("t", "a", 1, None)
    assert store.writes == 1 and store.pending == 1
    store.put("t", "b", 2, None)
    store.clear("u")
    assert store.writes == 1, "no retry during the back-off"
    assert "retrying in 5s" in caplog.text
    clock[0] += 5
    store.put("t", "c", 3, None)
    assert store.writes == 2 and store.pending == 4, "retried once, failed again"
    store.down = False
    clock[0] += 10  # back-off doubled to 10 s
    store.put("t", "d", 4, None)
    assert store.pending == 0
    assert store.load("t") == {"a": (1, None), "b": (2, None), "c": (3, None), "d": (4, None)}
    store.down = True
    store.put("t", "e", 5, None)
    store.down = False
    store.close()  # close ignores the back-off: nothing is lost on a clean stop
    assert store.rows["t"]["e"] == (5, None)


# --------------------------------------------------------------------- URLs


@pytest.mark.parametrize(("url", "kind"), [
    ("memory:", "memory"),
    ("sqlite:///var/lib/ksrpy/state.db", "sqlite"),
    ("sqlite://relative/state.db", "sqlite"),
    ("redis://127.0.0.1:6379/0", "redis"),
    ("rediss://:secret@cache:6380/2", "redis"),
    ("unix:///run/redis.sock?db=1", "redis"),
])
def test_url_schemes(url: str, kind: str) -> None:
    assert check_url(url) == kind


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://kamailio:kamailiorw@localhost/kamailio", "not in Kamailio's mysql database"),
    ("postgres://k@localhost/kamailio", "use sqlite:///path/file.db or redis://"),
    ("text:///etc/kamailio/dbtext", "Kamailio's text database"),
    ("sqlite://", "names no file"),
    ("ftp://host/x", "unknown scheme 'ftp'"),
    ("/tmp/state.db", "has no scheme"),
])
def test_bad_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_sqlite_url_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ksrpy.store import sqlite_path

    assert sqlite_path("sqlite:///var/lib/x.db") == "/var/lib/x.db"
    assert sqlite_path("sqlite:////var/lib/x.db") == "/var/lib/x.db"
    assert sqlite_path("sqlite://x.db") == "x.db"
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite://rel.db")
    store.close()
    assert (tmp_path / "rel.db").exists()


def test_memory_store_is_a_key_value_store() -> None:
    store = open_store("memory:")
    assert isinstance(store, KeyValueStore)
    store.put("t", "k", "v", None)
    store.close()
    with pytest.raises(StoreError):
        store.load("t")
