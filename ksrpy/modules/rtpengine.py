"""rtpengine: present so that scripts load, but ksrpy relays no media.

Every function logs one error line ("media relay not supported by ksrpy:
rtpengine_manage() did nothing"), rate-limited per function, and returns -1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exports import ArgKind as K
from .exports import export
from .rtpproxy import MediaRelayStub, _params

if TYPE_CHECKING:
    from ..core.context import Context


class RtpengineModule(MediaRelayStub):
    """Kamailio's rtpengine functions; none relays media in ksrpy (each returns -1)."""

    name = "rtpengine"
    kemi_namespace = "rtpengine"
    params = _params(
        "rtpengine_sock", "rtpengine_disable_tout", "rtpengine_tout_ms", "rtpengine_retr",
        "rtpengine_allow_op", "queried_nodes_limit", "extra_id_pv", "setid_avp",
        "setid_default", "force_send_interface", "read_sdp_pv", "write_sdp_pv",
        "rtp_inst_pvar", "hash_table_size", "hash_table_tout", "db_url", "table_name",
        "mos_min_pv", "mos_max_pv", "mos_average_pv", "hash_algo", "media_duration",
        "control_cmd_tos", "rtpengine_ping_interval",
    )

    @export("rtpengine_manage", ("flags", K.SPVE, True))
    def rtpengine_manage(self, ctx: Context, flags: str = "") -> int:
        """Would offer/answer/delete by message type: logs an error, returns -1."""
        return self.unsupported("rtpengine_manage")

    @export("rtpengine_manage0", cfg=False)
    def rtpengine_manage0(self, ctx: Context) -> int:
        """rtpengine_manage() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpengine_manage")

    @export("rtpengine_offer", ("flags", K.SPVE, True))
    def rtpengine_offer(self, ctx: Context, flags: str = "") -> int:
        """Would rewrite an SDP offer: logs an error, returns -1."""
        return self.unsupported("rtpengine_offer")

    @export("rtpengine_offer0", cfg=False)
    def rtpengine_offer0(self, ctx: Context) -> int:
        """rtpengine_offer() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpengine_offer")

    @export("rtpengine_answer", ("flags", K.SPVE, True))
    def rtpengine_answer(self, ctx: Context, flags: str = "") -> int:
        """Would rewrite an SDP answer: logs an error, returns -1."""
        return self.unsupported("rtpengine_answer")

    @export("rtpengine_answer0", cfg=False)
    def rtpengine_answer0(self, ctx: Context) -> int:
        """rtpengine_answer() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpengine_answer")

    @export("rtpengine_delete", ("flags", K.SPVE, True))
    def rtpengine_delete(self, ctx: Context, flags: str = "") -> int:
        """Would end the media session: logs an error, returns -1."""
        return self.unsupported("rtpengine_delete")

    @export("rtpengine_delete0", cfg=False)
    def rtpengine_delete0(self, ctx: Context) -> int:
        """rtpengine_delete() (KEMI form): logs an error, returns -1."""
        return self.unsupported("rtpengine_delete")

    @export("rtpengine_query", ("flags", K.SPVE, True))
    def rtpengine_query(self, ctx: Context, flags: str = "") -> int:
        """Would query session statistics: logs an error, returns -1."""
        return self.unsupported("rtpengine_query")

    @export("start_recording", ("flags", K.SPVE, True))
    def start_recording(self, ctx: Context, flags: str = "") -> int:
        """Would start recording: logs an error, returns -1."""
        return self.unsupported("start_recording")

    @export("stop_recording", ("flags", K.SPVE, True))
    def stop_recording(self, ctx: Context, flags: str = "") -> int:
        """Would stop recording: logs an error, returns -1."""
        return self.unsupported("stop_recording")

    @export("block_media", ("flags", K.SPVE, True))
    def block_media(self, ctx: Context, flags: str = "") -> int:
        """Would block media: logs an error, returns -1."""
        return self.unsupported("block_media")

    @export("unblock_media", ("flags", K.SPVE, True))
    def unblock_media(self, ctx: Context, flags: str = "") -> int:
        """Would unblock media: logs an error, returns -1."""
        return self.unsupported("unblock_media")

    @export("block_dtmf", ("flags", K.SPVE, True))
    def block_dtmf(self, ctx: Context, flags: str = "") -> int:
        """Would block DTMF: logs an error, returns -1."""
        return self.unsupported("block_dtmf")

    @export("unblock_dtmf", ("flags", K.SPVE, True))
    def unblock_dtmf(self, ctx: Context, flags: str = "") -> int:
        """Would unblock DTMF: logs an error, returns -1."""
        return self.unsupported("unblock_dtmf")

    @export("play_media", ("flags", K.SPVE))
    def play_media(self, ctx: Context, flags: str) -> int:
        """Would play media: logs an error, returns -1."""
        return self.unsupported("play_media")

    @export("stop_media", ("flags", K.SPVE, True))
    def stop_media(self, ctx: Context, flags: str = "") -> int:
        """Would stop media: logs an error, returns -1."""
        return self.unsupported("stop_media")

    @export("set_rtpengine_set", ("setid", K.IGP), ("setid2", K.IGP, True))
    def set_rtpengine_set(self, ctx: Context, setid: int, setid2: int = -1) -> int:
        """Would choose an rtpengine set: logs an error, returns -1."""
        return self.unsupported("set_rtpengine_set")
