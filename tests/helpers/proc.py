"""Start ``ksrpy run`` as a subprocess on free loopback ports and stop it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class KsrpyProcess:
    """A running ``ksrpy run``; ``udp``/``tcp`` hold the bound (ip, port)."""

    script: str | None = None
    listen: tuple[str, ...] = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0")
    extra_args: tuple[str, ...] = ()
    #: Control socket path; "none" (the default) keeps tests off the shared default socket.
    ctl: str = "none"
    env: dict[str, str] = field(default_factory=dict)
    #: Command words put before python (e.g. ``ip netns exec NS`` to run in a namespace).
    prefix: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    bound: dict[str, tuple[str, int]] = field(default_factory=dict)
    stderr_path: str = ""

    def start(self, timeout: float = 15.0) -> KsrpyProcess:
        """Start the process and wait until it has written its bound sockets."""
        tmp = tempfile.mkdtemp(prefix="ksrpy-test-")
        ready = os.path.join(tmp, "ready")
        self.stderr_path = os.path.join(tmp, "stderr.log")
        cmd = [*self.prefix, sys.executable, "-m", "ksrpy", "run", "--ready-file", ready]
        if self.script:
            cmd += ["-f", self.script]
        for item in self.listen:
            cmd += ["-l", item]
        cmd += ["--ctl", self.ctl, *self.extra_args]
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        if self.script is None and "KSRPY_DATA_DIR" not in self.env:
            # The default routes keep subscribers, registrations and bans in a data
            # directory: a fresh one per process, never the machine's /var/lib/ksrpy.
            env["KSRPY_DATA_DIR"] = os.path.join(tmp, "data")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=err, stderr=err,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ksrpy exited with {self.proc.returncode}:\n{self.log()}")
            if os.path.exists(ready):
                text = Path(ready).read_text()
                if text.endswith("\n"):
                    self._parse_ready(text)
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"ksrpy did not start within {timeout}s:\n{self.log()}")

    def _parse_ready(self, text: str) -> None:
        for line in text.split():
            proto, rest = line.split(":", 1)
            host, _, port = rest.rpartition(":")
            self.bound.setdefault(proto, (host.strip("[]"), int(port)))

    @property
    def udp(self) -> tuple[str, int]:
        """The first UDP socket."""
        return self.bound["udp"]

    @property
    def tcp(self) -> tuple[str, int]:
        """The first TCP socket."""
        return self.bound["tcp"]

    def log(self) -> str:
        """What the process logged so far."""
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL if needed; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def __enter__(self) -> KsrpyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
