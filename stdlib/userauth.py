"""AUTH for Python KSR scripts: the same as stdlib/userauth.cfg.

Trusted peers (address table group 1) pass; REGISTER and requests whose From
claims a local domain must authenticate as a subscriber (realm: From domain);
no open relay (foreign From to foreign R-URI: 403).
"""

import KSR


def userauth():
    """Challenge or refuse; returns when the request may go on."""
    if not KSR.is_REGISTER() and KSR.permissions.allow_source_address(1) > 0:
        return
    if KSR.is_REGISTER() or KSR.is_myself_furi():
        realm = KSR.pv.gete("$fd")
        if KSR.auth_db.auth_check(realm, "subscriber", 1) < 0:
            KSR.auth.auth_challenge(realm, 1)
            KSR.x.exit()
        if not KSR.is_method_in("RP"):
            KSR.auth.consume_credentials()
    if not KSR.is_myself_furi() and not KSR.is_myself_ruri():
        KSR.sl.sl_send_reply(403, "Not relaying")
        KSR.x.exit()
