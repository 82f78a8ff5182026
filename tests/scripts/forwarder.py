"""Stateless forwarder used by the forwarding tests."""

import KSR


def ksr_request_route():
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()
    if KSR.pv.get("$rU") == "noconnect":
        KSR.set_forward_no_connect()
    if KSR.forward() < 0:
        KSR.sl.sl_send_reply(500, "Forward failed")


def ksr_reply_route():
    KSR.info("reply_route saw " + str(KSR.pv.get("$rs")) + " " + KSR.pv.get("$rr"))
    if KSR.pv.get("$rs") == 183:
        KSR.x.drop()
