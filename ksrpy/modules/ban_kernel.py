"""Mirror bans into kernel ipsets (pyroute2), so a firewall rule can drop banned sources.

ksrpy keeps two sets, ``<name>`` (IPv4) and ``<name>-v6`` (IPv6), of type
hash:ip with per-entry timeouts. The drop rule is the administrator's, e.g.
``iptables -I INPUT -m set --match-set ksrpy-ban src -j DROP`` (docs/hardening.md).

pyroute2 drives netlink through an event loop of its own, which cannot run
inside ksrpy's loop; so one worker thread owns the netlink handle and the
routes only queue "add"/"remove" requests (bans are rare, a queue is plenty).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ksrpy.ban")


class KernelBanError(RuntimeError):
    """The kernel ipset cannot be used (no CAP_NET_ADMIN, no ipset support)."""


def _open_ipset() -> Any:
    """An IPSet handle built with the stock loop policy (pyroute2's loop cannot be uvloop)."""
    from pyroute2.ipset import IPSet

    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        return IPSet()
    finally:
        asyncio.set_event_loop_policy(policy)


class KernelBans:
    """Add and remove banned addresses in kernel ipsets, from a worker thread."""

    def __init__(self, name: str) -> None:
        self.names = {4: name, 6: f"{name}-v6"}
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], queue.Queue[Any] | None] | None] = (
            queue.Queue(maxsize=10_000))
        ready: queue.Queue[BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, args=(ready,), name="ksrpy-ipset",
                                        daemon=True)
        self._thread.start()
        error = ready.get(timeout=30)
        if error is not None:
            raise KernelBanError(f"kernel bans need ipset support and CAP_NET_ADMIN: {error}")

    def _work(self, ready: queue.Queue[BaseException | None]) -> None:
        try:
            ipset = _open_ipset()
        except Exception as exc:  # noqa: BLE001 - reported to the constructor
            ready.put(exc)
            return
        try:
            for family, set_name in self.names.items():
                ipset.create(set_name, stype="hash:ip", timeout=0, exclusive=False,
                             family=socket.AF_INET if family == 4 else socket.AF_INET6)
        except Exception as exc:  # noqa: BLE001
            ready.put(exc)
            ipset.close()
            return
        ready.put(None)
        while (job := self._jobs.get()) is not None:
            fn, reply = job
            try:
                result: Any = fn(ipset)
            except Exception as exc:  # noqa: BLE001 - a failed kernel update is logged
                result = exc
                if reply is None:
                    log.error("kernel ipset update failed: %s", exc)
            if reply is not None:
                reply.put(result)
        ipset.close()

    def _submit(self, fn: Callable[[Any], Any]) -> None:
        try:
            self._jobs.put_nowait((fn, None))
        except queue.Full:
            log.error("kernel ipset queue full; update dropped")

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        reply: queue.Queue[Any] = queue.Queue()
        self._jobs.put((fn, reply))
        result = reply.get(timeout=30)
        if isinstance(result, Exception):
            raise result
        return result

    def add(self, ip: str, seconds: int) -> None:
        """Queue adding ``ip`` for ``seconds``."""
        set_name = self.names[6 if ":" in ip else 4]
        self._submit(lambda s: s.add(set_name, ip, timeout=max(int(seconds), 1),
                                     exclusive=False))

    def remove(self, ip: str) -> None:
        """Queue removing ``ip`` (absent is fine: it may have timed out)."""
        set_name = self.names[6 if ":" in ip else 4]

        def delete(s: Any) -> None:
            try:
                s.delete(set_name, ip, exclusive=False)
            except Exception:  # noqa: BLE001,S110 - already gone is the normal case
                pass

        self._submit(delete)

    def sync(self) -> None:
        """Wait until every queued update has reached the kernel (tests, shutdown)."""
        self._call(lambda s: None)

    def close(self) -> None:
        """Flush the queue and stop the worker."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout=5)
