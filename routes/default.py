"""ksrpy's default routes: a small, safe stateless edge.

* requests with too many hops get 483, Max-Forwards is added or decremented;
* OPTIONS to this server (keepalives, monitoring) get 200;
* ACKs are absorbed (nothing to answer);
* everything else gets a stateless reply until the stateful proxy exists:
  REGISTER and INVITE 503 (no registrar or relay yet), other requests 501 or 404.
"""

import KSR


def ksr_request_route():
    """Per request: REQINIT-style checks, then the keepalive answer or a refusal."""
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()

    if KSR.is_ACK():
        KSR.x.exit()

    if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.is_null("$rU"):
        KSR.sl.sl_send_reply(200, "Keepalive")
        KSR.x.exit()

    if KSR.is_method_in("RI"):
        KSR.sl.sl_send_reply(503, "Service Unavailable")
        KSR.x.exit()

    if KSR.siputils.has_totag() > 0:
        KSR.sl.sl_send_reply(481, "Call/Transaction Does Not Exist")
        KSR.x.exit()

    if KSR.is_myself_ruri():
        KSR.sl.sl_send_reply(501, "Not Implemented")
    else:
        KSR.sl.sl_send_reply(404, "Not Found")
