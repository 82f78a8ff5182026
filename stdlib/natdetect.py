"""NATDETECT, NATMANAGE, DLGURI for Python KSR scripts: the same as stdlib/natdetect.cfg.

Signalling-only NAT traversal (ksrpy relays no RTP): symmetric replies, the
source address kept for NATed registrations, Contact aliases for NATed callers
and callees, ``;nat=yes`` in the Record-Route of their dialogs. Needs the
modparams ``received_avp`` (nathelper and registrar) and usrloc ``nat_bflag``
set to FLB_NATB.
"""

import KSR

FLT_NATS = 5  # message flag: the request came from behind a NAT
FLB_NATB = 6  # branch flag: the branch goes to a client behind a NAT


def natdetect():
    """force_rport; for a NATed client: received address or Contact alias, FLT_NATS."""
    KSR.force_rport()
    if KSR.nathelper.nat_uac_test(19) > 0:
        if KSR.is_REGISTER():
            KSR.nathelper.fix_nated_register()
        elif KSR.siputils.is_first_hop() > 0:
            KSR.nathelper.set_contact_alias()
        KSR.setflag(FLT_NATS)


def natmanage():
    """From branch, reply and failure routes: mark NATed dialogs, alias NATed callees."""
    if KSR.siputils.is_reply() > 0:
        if KSR.siputils.is_first_hop() > 0 and (
                KSR.isbflagset(FLB_NATB) or KSR.nathelper.nat_uac_test(1) > 0):
            KSR.nathelper.set_contact_alias()
        return
    in_dialog = KSR.siputils.has_totag() > 0
    if in_dialog and KSR.rr.check_route_param("nat=yes") > 0:
        KSR.setbflag(FLB_NATB)
    if not (KSR.isflagset(FLT_NATS) or KSR.isbflagset(FLB_NATB)):
        return
    if not in_dialog:
        if KSR.tmx.t_is_branch_route() > 0:
            KSR.rr.add_rr_param(";nat=yes")
    elif KSR.isbflagset(FLB_NATB):
        KSR.set_forward_no_connect()


def dlguri():
    """In-dialog requests towards an aliased Contact go to the alias address."""
    if not KSR.isdsturiset():
        KSR.nathelper.handle_ruri_alias()
