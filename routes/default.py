"""ksrpy's default routes in Python: the same secure stateless edge as routes/default.cfg.

Every request goes through REQINIT (ban check, flood detection with bans,
scanner drop, Max-Forwards, OPTIONS keepalives, sanity); until the stateful
proxy exists, everything else gets a stateless answer.
"""

import KSR
from reqinit import reqinit


def ksr_request_route():
    """Per request: REQINIT, then a stateless answer."""
    reqinit()

    if KSR.is_ACK():
        KSR.x.exit()

    if KSR.siputils.has_totag() > 0:
        KSR.sl.sl_send_reply(481, "Call/Transaction Does Not Exist")
        KSR.x.exit()

    if KSR.is_method_in("RI"):
        KSR.sl.sl_send_reply(503, "Service Unavailable")
        KSR.x.exit()

    if KSR.is_myself_ruri():
        KSR.sl.sl_send_reply(501, "Not Implemented")
    else:
        KSR.sl.sl_send_reply(404, "Not Found")
