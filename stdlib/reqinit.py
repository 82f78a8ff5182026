"""REQINIT for Python KSR scripts: the same checks as stdlib/reqinit.cfg.

    import KSR
    from reqinit import reqinit

    def ksr_request_route():
        reqinit()          # stops the script itself (KSR.x.exit) when it has answered
        ...
"""

import re

import KSR

SCANNERS = re.compile(
    "sipcli|sipvicious|sip-scan|sipsak|sundayddr|friendly-scanner|iWar|CSipSimple|SIVuS|Gulp"
    "|sipv|smap|friendly-request|VaxIPUserAgent|VaxSIPUserAgent|siparmyknife|Test Agent",
    re.IGNORECASE,
)


def reqinit():
    """Ban check, flood detection, scanner drop, Max-Forwards, OPTIONS keepalive, sanity."""
    if not KSR.pv.is_null("$sht(ipban=>$si)"):
        KSR.x.exit()

    KSR.set_reply_no_connect()
    if KSR.siputils.has_totag() > 0:
        KSR.set_forward_no_connect()

    if not KSR.is_myself_srcip():
        if KSR.pike.pike_check_req() < 0:
            KSR.ban.ban_add(KSR.pv.get("$si"), 0, "pike flood")
            KSR.x.exit()

    if SCANNERS.search(KSR.pv.gete("$ua")):
        KSR.ban.ban_add(KSR.pv.get("$si"), 0, "scanner")
        KSR.x.exit()

    rc = KSR.maxfwd.process_maxfwd(10)
    if rc < 0:
        if rc == -2:
            KSR.sl.sl_send_reply(400, "Bad Max-Forwards")
        else:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()

    if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU"):
        KSR.sl.sl_send_reply(200, "Keepalive")
        KSR.x.exit()

    if KSR.sanity.sanity_check(17895, 7) < 0:
        KSR.notice(f"Malformed SIP request from {KSR.pv.get('$si')}:{KSR.pv.get('$sp')}\n")
        KSR.x.exit()
