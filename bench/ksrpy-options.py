"""ksrpy counterpart of bench/kamailio-options.cfg, for bench/server_bench.py.

The same logic as the Kamailio config, as a KSR Python script: REQINIT-style
Max-Forwards check, ACKs absorbed, 200 "Keepalive" to OPTIONS for this server
without a user part, 404 otherwise. Kept in bench/ so that the benchmark does
not change when ksrpy's default routes do.
"""

import KSR


def ksr_request_route() -> None:
    """Per request: Max-Forwards, then the keepalive answer or 404."""
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()

    if KSR.is_ACK():
        KSR.x.exit()

    if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU"):
        KSR.sl.sl_send_reply(200, "Keepalive")
        KSR.x.exit()

    KSR.sl.sl_send_reply(404, "Not Found")
