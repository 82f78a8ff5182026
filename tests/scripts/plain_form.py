"""Plain-function KSR script used by the integration tests."""

import sys

import KSR


def reqinit():
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        return -255
    return 1


def ksr_request_route():
    if reqinit() == -255:
        return
    user = KSR.pv.get("$rU")
    if user == "echo":
        reason = "Echo " + KSR.pv.get("$rm") + " from " + KSR.pv.get("$si") + " " + KSR.pv.get("$proto")  # noqa: E501
        KSR.sl.sl_send_reply(200, reason)
        KSR.x.exit()
    if user == "flags":
        KSR.setflag(3)
        KSR.pv.sets("$var(x)", "value")
        ok = KSR.isflagset(3) and not KSR.isflagset(4) and KSR.pv.get("$var(x)") == "value"
        KSR.sl.sl_send_reply(200 if ok else 500, "Flags")
        KSR.x.exit()
    if user == "sysexit":
        KSR.sl.sl_send_reply(202, "Before sys.exit")
        sys.exit()
    if user == "crash":
        raise ValueError("deliberate failure in the route")
    if user == "drop":
        KSR.x.drop()
    if user == "hdr":
        KSR.sl.sl_send_reply(200, KSR.pv.gete("$hdr(X-Test)") or "none")
        KSR.x.exit()
    KSR.sl.sl_send_reply(404, "Not Here")
