"""KSR Python twin of bench/stateful-routes.cfg, for bench/stateful_bench.py --variants.

The same routing as the cfg file that ksrpy and Kamailio run in the stateful
call benchmark: Max-Forwards and sanity, CANCEL and retransmissions matched to
their transaction, in-dialog requests by loose_route, record_route on INVITE,
t_relay to the UAS (-A UAS_PORT=PORT on 127.0.0.1). It measures the KEMI path
against the cfg interpreter on the same calls.
"""

import KSR


def ksr_modparams(defines: dict) -> dict:
    """The transaction table bound of bench/ksrpy-stateful.cfg (see there)."""
    return {"tm": {"max_transactions": 300000}}


def ksr_request_route() -> None:
    """Per request: REQINIT, CANCEL, in-dialog, then record-route and relay to the UAS."""
    reqinit()

    if KSR.is_CANCEL():
        if KSR.tm.t_check_trans() > 0:
            relay()
        KSR.x.exit()

    if not KSR.is_ACK():
        KSR.tm.t_check_trans()

    withindlg()

    KSR.hdr.remove("Route")
    if KSR.is_INVITE():
        KSR.rr.record_route()
    KSR.pv.sets("$du", "sip:127.0.0.1:" + str(KSR.pv.get("$def(UAS_PORT)")))
    relay()


def reqinit() -> None:
    """Max-Forwards and the sanity checks of Kamailio's default config."""
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()
    if KSR.sanity.sanity_check(17895, 7) < 0:
        KSR.x.exit()


def withindlg() -> None:
    """Requests with a To tag: loose_route, else absorb the ACK, else 404."""
    if KSR.siputils.has_totag() < 0:
        return
    if KSR.rr.loose_route() > 0:
        relay()
    if KSR.is_ACK():
        if KSR.tm.t_check_trans() > 0:
            relay()
        KSR.x.exit()
    KSR.sl.sl_send_reply(404, "Not here")
    KSR.x.exit()


def relay() -> None:
    """t_relay, or the error reply when it fails; then stop."""
    if KSR.tm.t_relay() < 0:
        KSR.sl.sl_reply_error()
    KSR.x.exit()
