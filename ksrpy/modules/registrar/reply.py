"""REGISTER replies as Kamailio 5.6's registrar builds them.

Verified on loopback against Kamailio 5.6.3: one ``Contact:`` header listing
every valid binding as ``<uri>;q=0.5;expires=N`` separated by ", " (``q``
only when one was given or default_q is set; ``received="..."``,
``+sip.instance="..."`` and ``reg-id=`` when stored); no Date header; errors
carry ``P-Registrar-Error: <text>`` and the bindings when the AoR existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..usrloc.records import Q_UNSPECIFIED, Contact

REASONS = {200: "OK", 400: "Bad Request", 420: "Bad Extension", 421: "Extension Required",
           423: "Interval Too Brief", 439: "First Hop Lacks Outbound Support",
           500: "Server Internal Error", 503: "Service Unavailable"}

#: Error name -> (status, P-Registrar-Error text), Kamailio's rerrno table.
ERRORS: dict[str, tuple[int, str]] = {
    "INV_CSEQ": (400, "Invalid CSeq number"),
    "TO_USER": (400, "No username in To URI"),
    "AOR_PARSE": (400, "Error while parsing AOR"),
    "INV_EXP": (400, "Invalid expires param in contact"),
    "INV_Q": (400, "Invalid q param in contact"),
    "PARSE": (400, "Message parse error"),
    "TO_MISS": (400, "To header not found"),
    "CID_MISS": (400, "Call-ID header not found"),
    "CS_MISS": (400, "CSeq header not found"),
    "PARSE_CONT": (400, "Contact parse error"),
    "STAR_EXP": (400, "* used in contact and expires is not zero"),
    "STAR_CONT": (400, "* used in contact and more than 1 contact"),
    "TOO_MANY": (503, "Too many registered contacts"),
    "CONTACT_LEN": (400, "Contact/received too long"),
    "CALLID_LEN": (400, "Callid too long"),
    "PARSE_PATH": (400, "Path parse error"),
    "PATH_UNSUP": (420, "No support for found Path indicated"),
    "OB_REQD": (420, "No support for Outbound on server"),
    "INV_REGID": (400, "Invalid Reg-Id number"),
    "LOW_EXP": (423, "Interval too brief"),
    "UL_FULL": (503, "Location table full"),  # ksrpy: max_contacts_total reached
}


class RegError(Exception):
    """A REGISTER is refused; ``name`` keys ERRORS."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def q_text(q: int) -> str:
    """Kamailio's q2str: 1000 -> '1', 500 -> '0.5', 50 -> '0.05', 0 -> '0'."""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return ("0." + f"{q:03d}").rstrip("0")


def contact_header(contacts: list[Contact], now: int, rcv_param: str) -> str | None:
    """The Contact header line listing ``contacts`` (None when there is none)."""
    parts = []
    for c in contacts:
        text = f"<{c.uri}>"
        if c.q != Q_UNSPECIFIED:
            text += f";q={q_text(c.q)}"
        text += f";expires={int(c.expires) - now if c.expires else 0}"
        if rcv_param and c.received:
            text += f';{rcv_param}="{c.received}"'
        if c.instance:
            text += f';+sip.instance="{c.instance}"'
        if c.reg_id > 0:
            text += f";reg-id={c.reg_id}"
        parts.append(text)
    return "Contact: " + ", ".join(parts) if parts else None


@dataclass
class PreparedReply:
    """A reply save() decided: status, reason and extra header lines."""

    code: int
    reason: str
    headers: list[str]
