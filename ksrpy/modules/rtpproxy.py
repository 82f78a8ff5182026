"""rtpproxy: present so that scripts load, but ksrpy relays no media.

Every function logs one error line ("media relay not supported by ksrpy:
rtpproxy_manage() did nothing"), at most once per ``LOG_INTERVAL`` seconds per
function, and returns -1: a script never believes media is relayed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .exports import ArgKind as K
from .exports import Module, ParamExport, export

if TYPE_CHECKING:
    from ..core.context import Context

log = logging.getLogger("ksrpy.media")

#: Seconds between two error lines for the same function.
LOG_INTERVAL = 60.0


class MediaRelayStub(Module):
    """Shared base: each exported function reports that no media relay exists."""

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        super().__init__(engine, settings)
        self._last_log: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}

    def unsupported(self, function: str) -> int:
        """Log (rate-limited) that ``function`` did nothing; return -1."""
        now = time.monotonic()
        last = self._last_log.get(function)
        if last is not None and now - last < LOG_INTERVAL:
            self.suppressed[function] = self.suppressed.get(function, 0) + 1
            return -1
        self._last_log[function] = now
        skipped = self.suppressed.pop(function, 0)
        more = f" ({skipped} more calls since the last report)" if skipped else ""
        log.error("media relay not supported by ksrpy: %s() did nothing%s", function, more)
        return -1


def _params(*names: str) -> tuple[ParamExport, ...]:
    return tuple(ParamExport(n, str, "", "Accepted, ignored (no media relay).") for n in names)


class RtpproxyModule(MediaRelayStub):
    """Kamailio's rtpproxy functions; none relays media in ksrpy (each returns -1)."""

    name = "rtpproxy"
    kemi_namespace = "rtpproxy"
    params = _params(
        "rtpproxy_sock", "rtpproxy_disable_tout", "rtpproxy_tout", "rtpproxy_retr",
        "nortpproxy_str", "timeout_socket", "ice_candidate_priority_avp", "extra_id_pv",
        "db_url", "table_name", "rtp_inst_pvar", "rtpp_notify_socket", "rtpproxy_sock_mode",
    )

    @export("rtpproxy_manage", ("flags", K.SPVE, True), ("ip", K.SPVE, True))
    def rtpproxy_manage(self, ctx: Context, flags: str = "", ip: str = "") -> int:
        """Would offer/answer/delete by message type: logs an error, returns -1."""
        return self.unsupported("rtpproxy_manage")

    @export("rtpproxy_manage0", cfg=False)
    def rtpproxy_manage0(self, ctx: Context) -> int:
        """rtpproxy_manage() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpproxy_manage")

    @export("rtpproxy_offer", ("flags", K.SPVE, True), ("ip", K.SPVE, True))
    def rtpproxy_offer(self, ctx: Context, flags: str = "", ip: str = "") -> int:
        """Would rewrite an SDP offer: logs an error, returns -1."""
        return self.unsupported("rtpproxy_offer")

    @export("rtpproxy_offer0", cfg=False)
    def rtpproxy_offer0(self, ctx: Context) -> int:
        """rtpproxy_offer() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpproxy_offer")

    @export("rtpproxy_answer", ("flags", K.SPVE, True), ("ip", K.SPVE, True))
    def rtpproxy_answer(self, ctx: Context, flags: str = "", ip: str = "") -> int:
        """Would rewrite an SDP answer: logs an error, returns -1."""
        return self.unsupported("rtpproxy_answer")

    @export("rtpproxy_answer0", cfg=False)
    def rtpproxy_answer0(self, ctx: Context) -> int:
        """rtpproxy_answer() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpproxy_answer")

    @export("rtpproxy_destroy", ("flags", K.SPVE, True), aliases=("unforce_rtp_proxy",))
    def rtpproxy_destroy(self, ctx: Context, flags: str = "") -> int:
        """Would end the media session: logs an error, returns -1."""
        return self.unsupported("rtpproxy_destroy")

    @export("rtpproxy_destroy0", cfg=False)
    def rtpproxy_destroy0(self, ctx: Context) -> int:
        """rtpproxy_destroy() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpproxy_destroy")

    @export("rtpproxy_stream2uac", ("prompt", K.SPVE), ("count", K.IGP))
    def rtpproxy_stream2uac(self, ctx: Context, prompt: str, count: int) -> int:
        """Would play a prompt to the caller: logs an error, returns -1."""
        return self.unsupported("rtpproxy_stream2uac")

    @export("rtpproxy_stream2uas", ("prompt", K.SPVE), ("count", K.IGP))
    def rtpproxy_stream2uas(self, ctx: Context, prompt: str, count: int) -> int:
        """Would play a prompt to the callee: logs an error, returns -1."""
        return self.unsupported("rtpproxy_stream2uas")

    @export("rtpproxy_stop_stream2uac")
    def rtpproxy_stop_stream2uac(self, ctx: Context) -> int:
        """Would stop a prompt: logs an error, returns -1."""
        return self.unsupported("rtpproxy_stop_stream2uac")

    @export("rtpproxy_stop_stream2uas")
    def rtpproxy_stop_stream2uas(self, ctx: Context) -> int:
        """Would stop a prompt: logs an error, returns -1."""
        return self.unsupported("rtpproxy_stop_stream2uas")

    @export("start_recording")
    def start_recording(self, ctx: Context) -> int:
        """Would start recording: logs an error, returns -1."""
        return self.unsupported("start_recording")

    @export("set_rtp_proxy_set", ("setid", K.IGP), kemi="set_rtpproxy_set")
    def set_rtp_proxy_set(self, ctx: Context, setid: int) -> int:
        """Would choose an rtpproxy set: logs an error, returns -1."""
        return self.unsupported("set_rtp_proxy_set")
