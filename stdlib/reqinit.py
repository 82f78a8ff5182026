"""REQINIT for Python KSR scripts: the same checks as stdlib/reqinit.cfg.

    import KSR
    from reqinit import reqinit

    def ksr_request_route():
        reqinit()          # stops the script itself (KSR.x.exit) when it has answered
        ...
"""

import re

import KSR

SCANNERS = re.compile("friendly-scanner|sipcli|sipvicious|VaxSIPUserAgent", re.IGNORECASE)


def reqinit():
    """Flood check, scanner drop, Max-Forwards, OPTIONS keepalive, sanity."""
    KSR.set_reply_no_connect()
    if KSR.siputils.has_totag() > 0:
        KSR.set_forward_no_connect()

    if not KSR.is_myself_srcip():
        if KSR.pike.pike_check_req() < 0:
            KSR.pv.seti("$sht(ipban=>$si)", 1)
            KSR.x.exit()

    if SCANNERS.search(KSR.pv.gete("$ua")):
        KSR.x.exit()

    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()

    if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU"):
        KSR.sl.sl_send_reply(200, "Keepalive")
        KSR.x.exit()

    if KSR.sanity.sanity_check(17895, 7) < 0:
        KSR.err(f"Malformed SIP request from {KSR.pv.get('$si')}:{KSR.pv.get('$sp')}\n")
        KSR.x.exit()
