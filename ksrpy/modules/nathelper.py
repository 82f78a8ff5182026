"""nathelper: NAT detection and Contact/R-URI fixes for clients behind NAT (no pinging).

``natping_interval`` and the ``sipping_*`` parameters are accepted so that
Kamailio scripts load, but ksrpy sends no keepalives: a non-zero
``natping_interval`` is logged once at start-up.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import TYPE_CHECKING

from ..script.pv import resolve
from ..sip.errors import SIPError
from ..sip.message import decode, encode
from ..sip.nameaddr import NameAddr, split_header_values
from ..sip.uri import parse_uri
from .exports import ArgKind as K
from .exports import Module, ParamExport, export

if TYPE_CHECKING:
    from ..core.context import Context

log = logging.getLogger("ksrpy.nathelper")

_PRIVATE = tuple(ipaddress.ip_network(n) for n in
                 ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
#: Kamailio's protocol numbers, as used in ``;alias=ip~port~proto``.
PROTO_NUMBERS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
PROTO_NAMES = {v: k for k, v in PROTO_NUMBERS.items()}
_SDP_ADDR = re.compile(r"^(c=IN IP[46] |o=(?:\S+ ){3}IN IP[46] )([^\s/]+)", re.MULTILINE)
_SDP_C = re.compile(r"^c=IN IP[46] ([^\s/]+)", re.MULTILINE)


def is_private(ip: str) -> bool:
    """True for an RFC 1918 or RFC 6598 IPv4 address."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    return addr.version == 4 and any(addr in net for net in _PRIVATE)


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.strip("[]").lower() == b.strip("[]").lower()


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


class NathelperModule(Module):
    """NAT tests (nat_uac_test), Contact rewriting and aliases, received AVP for save()."""

    name = "nathelper"
    kemi_namespace = "nathelper"
    params = (
        ParamExport("received_avp", str, "", "PV receiving fix_nated_register()'s URI "
                    "(set registrar's received_avp to the same, e.g. $avp(RECEIVED))."),
        ParamExport("natping_interval", int, 0, "Accepted; ksrpy sends no NAT pings."),
        ParamExport("ping_nated_only", int, 0, "Accepted; no pinging."),
        ParamExport("natping_processes", int, 1, "Accepted; no pinging."),
        ParamExport("natping_socket", str, "", "Accepted; no pinging."),
        ParamExport("sipping_bflag", int, -1, "Accepted; no pinging."),
        ParamExport("sipping_from", str, "", "Accepted; no pinging."),
        ParamExport("sipping_method", str, "OPTIONS", "Accepted; no pinging."),
        ParamExport("natping_disable_bflag", int, -1, "Accepted; no pinging."),
        ParamExport("force_socket", str, "", "Accepted, ignored."),
        ParamExport("nortpproxy_str", str, "a=nortpproxy:yes", "SDP line fix_nated_sdp "
                    "flag 4 adds."),
        ParamExport("keepalive_timeout", int, 0, "Accepted; no pinging."),
        ParamExport("udpping_from_path", int, 0, "Accepted; no pinging."),
        ParamExport("append_sdp_oldmediaip", int, 1, "Accepted, ignored."),
        ParamExport("filter_server_id", int, 0, "Accepted, ignored."),
        ParamExport("nat_addr_mode", int, 1, "Accepted; private ranges are RFC 1918 + 6598."),
        ParamExport("alias_name", str, "alias", "Name of the Contact/R-URI alias parameter."),
    )

    def init(self) -> None:
        """Warn that NAT pinging is not done."""
        if self.settings["natping_interval"]:
            log.warning("nathelper: natping_interval is set but ksrpy sends no NAT pings")

    # ------------------------------------------------------------------ tests

    @export("is_rfc1918", ("ip", K.SPVE))
    def is_rfc1918(self, ctx: Context, ip: str) -> int:
        """1 when the address is RFC 1918 / RFC 6598 private, else -1."""
        return 1 if is_private(str(ip)) else -1

    def _first_contact(self, ctx: Context) -> NameAddr | None:
        try:
            contacts = ctx.msg.contacts
        except SIPError:
            return None
        return contacts[0] if isinstance(contacts, list) and contacts else None

    def _sdp_addresses(self, ctx: Context) -> list[str]:
        return _SDP_C.findall(decode(ctx.msg.body)) if ctx.msg.body else []

    @export("nat_uac_test", ("flags", K.IGP))
    def nat_uac_test(self, ctx: Context, flags: int | str) -> int:
        """1 when any test selected by the ``flags`` bits detects NAT, else -1 (README bits)."""
        try:
            bits = int(flags)
        except (TypeError, ValueError):
            return -1
        msg, rcv = ctx.msg, ctx.rcv
        try:
            via = msg.via1
        except SIPError:
            via = None
        contact = self._first_contact(ctx) if bits & (1 | 128) else None
        tests = (
            (1, lambda: contact is not None and is_private(contact.uri.host_no_brackets)),
            (2, lambda: via is not None and not _same_ip(via.host, rcv.src_ip)),
            (4, lambda: via is not None and is_private(via.host)),
            (8, lambda: any(is_private(a) for a in self._sdp_addresses(ctx))),
            (16, lambda: via is not None and (via.port or 5060) != rcv.src_port),
            (32, lambda: is_private(rcv.src_ip)),
            (64, lambda: rcv.proto.lower() in ("ws", "wss")),
            (128, lambda: contact is not None and (contact.uri.port or 5060) != rcv.src_port),
            (256, lambda: any(not _same_ip(a, rcv.src_ip) for a in self._sdp_addresses(ctx))),
            (512, lambda: self._targets_differ(ctx)),
        )
        for bit, test in tests:
            if bits & bit and test():
                return 1
        return -1

    def _targets_differ(self, ctx: Context) -> bool:
        """Bit 512: R-URI vs $du (requests), 2nd Via vs its received/rport (replies)."""
        if ctx.rcv.proto.lower() in ("ws", "wss"):
            return True
        if ctx.msg.is_request:
            if not ctx.dst_uri:
                return False
            try:
                ruri, duri = parse_uri(ctx.ruri), parse_uri(ctx.dst_uri)
            except SIPError:
                return False
            return (ruri.host.lower(), ruri.port or 5060) != (duri.host.lower(), duri.port or 5060)
        try:
            vias = ctx.msg.vias
        except SIPError:
            return False
        if len(vias) < 2:
            return False
        second = vias[1]
        if second.received and not _same_ip(second.received, second.host):
            return True
        return bool(second.rport) and int(second.rport) != (second.port or 5060)

    # --------------------------------------------------------- Contact edits

    def _rewrite_first_contact(self, ctx: Context, new_uri: str, *, bracket: bool) -> int:
        """Replace the first Contact URI text in the first Contact header."""
        msg = ctx.msg
        value = msg.get_header("Contact")
        contact = self._first_contact(ctx)
        if value is None or contact is None:
            return -1
        entries = split_header_values(value)
        entry, old = entries[0], str(contact.uri)
        at = entry.find(old)
        if at < 0:
            return -1
        if bracket and "<" not in entry[:at]:
            new_uri = f"<{new_uri}>"
        entries[0] = entry[:at] + new_uri + entry[at + len(old):]
        msg.set_header_value("Contact", ", ".join(entries))
        return 1

    @export("fix_nated_contact")
    def fix_nated_contact(self, ctx: Context) -> int:
        """Rewrite the first Contact URI's host:port to the source address; -1 without one."""
        contact = self._first_contact(ctx)
        if contact is None or not contact.uri.is_sip:
            return -1
        rcv = ctx.rcv
        uri = contact.uri.replace(host=_host(rcv.src_ip), port=rcv.src_port)
        return self._rewrite_first_contact(ctx, str(uri), bracket=False)

    @export("fix_nated_register")
    def fix_nated_register(self, ctx: Context) -> int:
        """Store sip:src_ip:src_port[;transport=x] in the received_avp PV (for save())."""
        target = self.settings["received_avp"]
        if not target:
            return 1  # as Kamailio: nothing to do without the parameter
        if not ctx.msg.is_request or ctx.msg.method != "REGISTER":
            return -1
        rcv = ctx.rcv
        uri = f"sip:{_host(rcv.src_ip)}:{rcv.src_port}"
        if rcv.proto.lower() != "udp":
            uri += f";transport={rcv.proto.lower()}"
        resolve(target).set(ctx, uri)
        return 1

    def _alias_value(self, ip: str, port: int | str, proto: str) -> str | None:
        number = PROTO_NUMBERS.get(str(proto).lower())
        if number is None:
            return None
        return f"{ip.strip('[]')}~{int(port)}~{number}"

    def _add_alias(self, ctx: Context, alias: str, *, trim: bool = False) -> int:
        contact = self._first_contact(ctx)
        if contact is None or not contact.uri.is_sip:
            return -1
        uri = contact.uri
        name = self.settings["alias_name"]
        if trim and name in uri.params:
            uri = uri.replace(params=uri.params.remove(name))
        text = f"{uri}" if not uri.headers else str(uri.replace(headers=None))
        new = f"{text};{name}={alias}"
        if uri.headers:
            new += f"?{uri.headers}"
        return self._rewrite_first_contact(ctx, new, bracket=True)

    @export("add_contact_alias", ("ip", K.SPVE, True), ("port", K.SPVE, True),
            ("proto", K.SPVE, True))
    def add_contact_alias(self, ctx: Context, ip: str = "", port: str = "",
                          proto: str = "") -> int:
        """Add ;alias=ip~port~proto to the Contact URI; 2 when the source matches it."""
        rcv = ctx.rcv
        if ip or port or proto:
            if not (ip and port and proto):
                return -1
            try:
                alias = self._alias_value(ip, port, proto)
            except ValueError:
                return -1
            return -1 if alias is None else self._add_alias(ctx, alias)
        contact = self._first_contact(ctx)
        if contact is None or not contact.uri.is_sip:
            return -1
        uri = contact.uri
        uri_proto = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
        if (_same_ip(uri.host_no_brackets, rcv.src_ip)
                and (uri.port or 5060) == rcv.src_port and uri_proto == rcv.proto.lower()):
            return 2
        alias = self._alias_value(rcv.src_ip, rcv.src_port, rcv.proto)
        return -1 if alias is None else self._add_alias(ctx, alias)

    @export("add_contact_alias_addr", ("ip", K.STR), ("port", K.STR), ("proto", K.STR),
            cfg=False)
    def add_contact_alias_addr(self, ctx: Context, ip: str, port: str, proto: str) -> int:
        """add_contact_alias with an explicit address (KEMI form)."""
        return self.add_contact_alias(ctx, ip, port, proto)

    @export("set_contact_alias", ("trim", K.INT, True))
    def set_contact_alias(self, ctx: Context, trim: int = 0) -> int:
        """Add ;alias=src_ip~src_port~proto to the forwarded Contact (trim=1 drops an old one)."""
        rcv = ctx.rcv
        alias = self._alias_value(rcv.src_ip, rcv.src_port, rcv.proto)
        return -1 if alias is None else self._add_alias(ctx, alias, trim=bool(trim))

    @export("set_contact_alias_trim", cfg=False)
    def set_contact_alias_trim(self, ctx: Context) -> int:
        """set_contact_alias(1) (KEMI form)."""
        return self.set_contact_alias(ctx, 1)

    @export("handle_ruri_alias", ("mode", K.INT, True))
    def handle_ruri_alias(self, ctx: Context, mode: int = 0) -> int:
        """R-URI ;alias=ip~port~proto -> $du, alias removed: 1; 2 when none; -1 on error."""
        if not ctx.msg.is_request:
            return -1
        name = re.escape(self.settings["alias_name"])
        text = ctx.ruri
        head, sep, tail = text.partition("?")
        found = list(re.finditer(rf";{name}=([^;]*)", head, re.IGNORECASE))
        if not found:
            return 2
        m = found[0] if mode == 0 else found[-1]
        parts = m.group(1).split("~")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            return -1
        proto = PROTO_NAMES.get(int(parts[2]))
        if proto is None:
            return -1
        dst = f"sip:{_host(parts[0])}:{int(parts[1])}"
        if proto != "udp":
            dst += f";transport={proto}"
        ctx.dst_uri = dst
        ctx.new_ruri = head[: m.start()] + head[m.end():] + sep + tail
        return 1

    @export("handle_ruri_alias_mode", ("mode", K.INT), cfg=False)
    def handle_ruri_alias_mode(self, ctx: Context, mode: int) -> int:
        """handle_ruri_alias with a mode (KEMI form)."""
        return self.handle_ruri_alias(ctx, mode)

    # -------------------------------------------------------------------- SDP

    @export("fix_nated_sdp", ("flags", K.IGP), ("ip", K.SPVE, True))
    def fix_nated_sdp(self, ctx: Context, flags: int | str, ip: str = "") -> int:
        """SDP fixes: 1 a=direction:active, 2 c= to source IP, 4 nortpproxy, 8 o= address."""
        msg = ctx.msg
        if not msg.body:
            return -1
        try:
            bits = int(flags)
        except (TypeError, ValueError):
            return -1
        body = decode(msg.body)
        new_ip = ip or ctx.rcv.src_ip
        replaced = 0

        def swap(m: re.Match[str]) -> str:
            nonlocal replaced
            is_c = m.group(1).startswith("c=")
            if (is_c and bits & 2) or (not is_c and bits & 8):
                if m.group(2) != new_ip:
                    replaced += 1
                return m.group(1) + new_ip
            return m.group(0)

        new = _SDP_ADDR.sub(swap, body) if bits & (2 | 8) else body
        eol = "\r\n" if "\r\n" in body else "\n"
        if not new.endswith(("\n", "\r")) and new:
            new += eol
        if bits & 1 and "a=direction:active" not in new:
            new += "a=direction:active" + eol
        if bits & 4 and self.settings["nortpproxy_str"] not in new:
            new += self.settings["nortpproxy_str"] + eol
        if new != body:
            msg.set_body(encode(new))
        return 1 if replaced else 2

    @export("fix_nated_sdp_ip", ("flags", K.INT), ("ip", K.STR), cfg=False)
    def fix_nated_sdp_ip(self, ctx: Context, flags: int, ip: str) -> int:
        """fix_nated_sdp with an address (KEMI form)."""
        return self.fix_nated_sdp(ctx, flags, ip)
