"""ksrpy's default routes in Python: the same secure edge registrar and proxy as
routes/default.cfg.

REQINIT, NATDETECT, CANCEL, WITHINDLG, AUTH (digest for REGISTER and local
callers, trusted peers from the address table, no open relay), SIPOUT,
REGISTRAR (SQLite write-through), LOCATION, RELAY. The helpers live in
stdlib/*.py; module parameters come from ``ksr_modparams`` (a ksrpy extension:
Python scripts have no modparam lines).
"""

import KSR
from natdetect import FLB_NATB, natdetect, natmanage
from reqinit import reqinit
from userauth import userauth
from userloc import location, registrar
from withindlg import withindlg

DEFAULT_DBURL = "sqlite:///var/lib/ksrpy/ksrpy.db"


def _unquote(value):
    """A define's value without the quotes a string define carries (-A 'DBURL="..."')."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def ksr_modparams(defines):
    """The modparams of routes/default.cfg; DBURL comes from ``ksrpy run`` (data dir)."""
    dburl = _unquote(defines.get("DBURL", DEFAULT_DBURL))
    alias = _unquote(defines.get("ALIAS", ""))
    return {
        "core": {"alias": [alias] if alias else []},
        "tm": {"failure_reply_mode": 3, "fr_timer": 30000, "fr_inv_timer": 120000},
        "rr": {"append_fromtag": 1},
        "registrar": {"method_filtering": 1, "max_expires": 3600, "max_contacts": 10,
                      "received_avp": "$avp(RECEIVED)"},
        "usrloc": {"db_url": dburl, "db_mode": 1, "timer_interval": 60, "use_domain": 0,
                   "nat_bflag": FLB_NATB},
        "auth_db": {"db_url": dburl, "calculate_ha1": 0, "password_column": "ha1",
                    "use_domain": 1},
        "permissions": {"db_url": dburl, "load_backends": 1},
        "nathelper": {"received_avp": "$avp(RECEIVED)"},
        "pike": {"sampling_time_unit": 2, "reqs_density_per_unit": 30, "remove_latency": 4,
                 "trusted": "127.0.0.1/32"},
        "htable": {"db_url": dburl,
                   "htable": "ipban=>size=8;autoexpire=300;dbtable=ipban;dbmode=1;"},
        "ban": {"default_seconds": 300, "exempt": "127.0.0.1/32", "auth_fail_max": 5,
                "auth_fail_window": 60, "auth_fail_seconds": 600},
    }


def ksr_request_route():
    """Per request: checks, NAT, dialogs, authentication, registrar, location, relay."""
    reqinit()
    natdetect()

    if KSR.is_CANCEL():
        if KSR.tm.t_check_trans() > 0:
            relay()
        KSR.x.exit()

    withindlg(relay)

    # only initial requests (no To tag) from here on
    userauth()

    KSR.hdr.remove("Route")
    if KSR.is_method_in("IS"):
        KSR.rr.record_route()

    # foreign domains: only authenticated users and trusted peers get here
    if not KSR.is_myself_ruri():
        relay()
        KSR.x.exit()

    if KSR.is_PUBLISH():
        KSR.sl.sl_send_reply(404, "Not here")
        KSR.x.exit()
    registrar()
    if KSR.pv.is_null("$rU"):
        KSR.sl.sl_send_reply(484, "Address Incomplete")
        KSR.x.exit()
    location(relay)


def relay():
    """Stateful relay with the branch, reply and failure routes armed; stops the script."""
    if KSR.is_method_in("IBSU") and KSR.tm.t_is_set("branch_route") < 0:
        KSR.tm.t_on_branch("ksr_branch_manage")
    if KSR.is_method_in("ISU") and KSR.tm.t_is_set("onreply_route") < 0:
        KSR.tm.t_on_reply("ksr_onreply_manage")
    if KSR.is_INVITE() and KSR.tm.t_is_set("failure_route") < 0:
        KSR.tm.t_on_failure("ksr_failure_manage")
    if KSR.tm.t_relay() < 0:
        KSR.sl.sl_reply_error()
    KSR.x.exit()


def ksr_branch_manage():
    """Each outgoing branch."""
    natmanage()


def ksr_onreply_manage():
    """Replies inside a transaction."""
    status = KSR.pv.get("$rs")
    if isinstance(status, int) and 100 <= status < 300:
        natmanage()


def ksr_failure_manage():
    """A negative final reply of every branch."""
    natmanage()
    if KSR.tm.t_is_canceled() > 0:
        KSR.x.exit()
