"""WITHINDLG for Python KSR scripts: the same as stdlib/withindlg.cfg.

    from withindlg import withindlg

    withindlg(relay)      # relay: the script's RELAY function; stops the script when
                          # the request had a To tag
"""

import KSR
from natdetect import dlguri, natmanage


def withindlg(relay):
    """In-dialog requests follow Record-Route (relay), a matched ACK is relayed, else 404."""
    if KSR.siputils.has_totag() < 0:
        return
    if KSR.rr.loose_route() > 0:
        dlguri()
        if KSR.is_ACK():
            natmanage()
        elif KSR.is_NOTIFY():
            KSR.rr.record_route()
        relay()
        KSR.x.exit()
    if KSR.is_ACK():
        if KSR.tm.t_check_trans() > 0:
            relay()
        KSR.x.exit()
    KSR.sl.sl_send_reply(404, "Not here")
    KSR.x.exit()
