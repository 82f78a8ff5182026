"""REGISTRAR and LOCATION for Python KSR scripts: the same as stdlib/userloc.cfg."""

import KSR
from natdetect import FLB_NATB, FLT_NATS


def registrar():
    """Save a REGISTER's bindings in "location" and answer it (stops the script)."""
    if not KSR.is_REGISTER():
        return
    if KSR.isflagset(FLT_NATS):
        KSR.setbflag(FLB_NATB)
    if KSR.registrar.save("location", 0) < 0:
        KSR.sl.sl_reply_error()
    KSR.x.exit()


def location(relay):
    """The registered contacts become the targets and ``relay()`` runs; none: 404."""
    rc = KSR.registrar.lookup("location")
    if rc < 0:
        # stateless answers: a retransmitted request gets the same reply again
        if rc in (-1, -3):
            KSR.sl.send_reply(404, "Not Found")
            KSR.x.exit()
        if rc == -2:
            KSR.sl.send_reply(405, "Method Not Allowed")
            KSR.x.exit()
    relay()
    KSR.x.exit()
