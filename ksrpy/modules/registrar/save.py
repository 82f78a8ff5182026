"""save(): REGISTER processing as Kamailio 5.6's registrar (save.c, sip_msg.c).

Return codes: 1 inserted, 2 updated, 3 deleted, 4 contacts returned (no
Contact), -1 error, -2 too many contacts. A REGISTER repeating a binding's
Call-ID with a lower CSeq gets 400 "Invalid CSeq number"; the same CSeq
within cseq_delay counts as a retransmission (200 OK, nothing changed).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...sip.errors import SIPError
from ...sip.nameaddr import NameAddr, parse_name_addr
from ...sip.params import split_header_values, unquote_string
from ..usrloc.module import FL_MEM
from ..usrloc.records import ALL_METHODS, Contact, Domain, Record
from .reply import ERRORS, REASONS, PreparedReply, RegError, contact_header

if TYPE_CHECKING:
    from ...core.context import Context
    from ..usrloc.module import UsrlocModule

SAVE_MEM = 0x01
SAVE_NOREPLY = 0x02
SAVE_REPLACE = 0x04
SAVE_NOVARIATION = 0x08
SAVE_PREPARE = 0x10

_Q_RE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?|\.\d{1,3}")
METHOD_BITS = {"INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32,
               "SUBSCRIBE": 64, "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024,
               "UPDATE": 2048, "REFER": 4096, "PUBLISH": 8192, "KDMQ": 16384}
OTHER_METHOD = 32768


def method_bit(method: str) -> int:
    """Kamailio's bit for a method (OTHER for unknown ones)."""
    return METHOD_BITS.get(method.upper(), OTHER_METHOD)


def allow_mask(values: list[str]) -> int:
    """The methods mask of Allow header values (ALL_METHODS when there is none)."""
    if not values:
        return ALL_METHODS
    mask = 0
    for value in values:
        for name in value.split(","):
            if name.strip():
                mask |= method_bit(name.strip())
    return mask


def parse_q(text: str | None) -> int:
    """A q parameter as Kamailio's integer q; RegError INV_Q when malformed."""
    if text is None or text == "":
        raise ValueError("no q")
    if not _Q_RE.fullmatch(text):
        raise RegError("INV_Q")
    return int(round(float(text) * 1000))


@dataclass
class Parsed:
    """What save() reads from a REGISTER."""

    star: bool
    contacts: list[NameAddr]
    expires_hf: int  # -1: absent or invalid


def _expires_hf(ctx: Context) -> int:
    value = ctx.msg.get_header("Expires")
    if value is None:
        return -1
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 10 else -1


def parse_register(ctx: Context, max_size: int) -> Parsed:
    """Contacts, star and Expires of a REGISTER (Kamailio's check_contacts rules)."""
    values = ctx.msg.get_headers("Contact")
    expires_hf = _expires_hf(ctx)
    if values and values[0].strip().startswith("*"):
        if expires_hf != 0:
            raise RegError("STAR_EXP")
        if len(values) > 1:
            raise RegError("STAR_CONT")
        return Parsed(True, [], expires_hf)
    contacts: list[NameAddr] = []
    for value in values:
        for part in split_header_values(value.strip()) if value.strip() else []:
            if part.strip().startswith("*"):
                raise RegError("STAR_CONT")
            try:
                na = parse_name_addr(part)
            except SIPError:
                raise RegError("PARSE_CONT") from None
            if len(str(na.uri)) > max_size:
                raise RegError("CONTACT_LEN")
            contacts.append(na)
    return Parsed(False, contacts, expires_hf)


class SaveMixin:
    """save() and its helpers; mixed into RegistrarModule."""

    settings: dict[str, Any]

    @property
    def usrloc(self) -> UsrlocModule:  # pragma: no cover - see RegistrarModule
        """The usrloc module."""
        raise NotImplementedError

    def _xavp_cfg(self, ctx: Context, name: str) -> Any:  # pragma: no cover - see module
        raise NotImplementedError

    def aor_from_uri(self, uri: str) -> str:  # pragma: no cover - see RegistrarModule
        """The AoR key of a URI."""
        raise NotImplementedError

    # ---------------------------------------------------------------- expires

    def contact_expires(self, ctx: Context, param: str | None, expires_hf: int,
                        novariation: bool, now: int) -> int:
        """Absolute expiry of one contact (0: remove); RegError LOW_EXP in mode 1."""
        s = self.settings
        xe = self._xavp_cfg(ctx, "expires")
        if isinstance(xe, int) and xe >= 0:
            e, rng = xe, 0
        elif param is None or param == "":
            if expires_hf < 0:
                e, rng = s["default_expires"], s["default_expires_range"]
            else:
                e, rng = expires_hf, s["expires_range"]
        elif param.isdigit():
            e, rng = int(param), s["expires_range"]
        else:
            e, rng = s["default_expires"], s["default_expires_range"]
        if e == 0:
            return 0
        if e < s["min_expires"]:
            if s["min_expires_mode"]:
                raise RegError("LOW_EXP")
            e = s["min_expires"]
        if not novariation and rng:
            low = e - rng / 100 * e
            e = int(low + random.randrange(100) / 100 * (e - low))
            e = max(e, s["min_expires"])
        if s["max_expires"] and e > s["max_expires"]:
            e = s["max_expires"]
        return e + now

    def contact_q(self, ctx: Context, na: NameAddr) -> int:
        """q of a contact: set_q_override, xavp_cfg q, the q parameter, else default_q."""
        override = ctx.extra.get("reg_q_override")
        if override is not None:
            return int(override)
        xq = self._xavp_cfg(ctx, "q")
        if isinstance(xq, int):
            if not 0 <= xq <= 1000:
                raise RegError("INV_Q")
            return xq
        text = na.params.get("q") if "q" in na.params else None
        if text is None or text == "":
            return int(self.settings["default_q"])
        return parse_q(text)

    # ------------------------------------------------------------------- save

    def do_save(self, ctx: Context, table: str, flags: int, uri: str | None
                ) -> tuple[int, PreparedReply | None]:
        """Run save(); the return code and the reply to send (None: none at all)."""
        ul = self.usrloc
        try:
            target = uri if uri else ctx.msg.to.uri.__str__()
            aor = self.aor_from_uri(target)
        except (SIPError, ValueError):
            return -1, None
        domain = ul.domain(table)
        assert domain is not None
        now = int(ul.clock())
        shown: list[Contact] | None = None
        rc = 1
        try:
            if not ctx.msg.call_id:
                raise RegError("CID_MISS")
            try:
                cseq = ctx.msg.cseq[0]
            except SIPError:
                raise RegError("CS_MISS") from None
            if len(ctx.msg.call_id) > 255:
                raise RegError("CALLID_LEN")
            parsed = parse_register(ctx, self.settings["contact_max_size"])
            self._check_outbound(ctx)
            path, path_rcv = self._path_vector(ctx)
            rec = domain.get(aor)
            if parsed.star:
                if rec is not None:
                    ul.delete_record(domain, aor, mem_only=bool(flags & SAVE_MEM))
                rc = 3
            elif not parsed.contacts:
                rc = 4
            else:
                base = self._base_info(ctx, cseq, path, path_rcv, flags, now)
                if rec is None or not rec.contacts:
                    rc = self._insert(ctx, domain, aor, parsed, base, flags, now)
                else:
                    shown = rec.contacts
                    rc = self._update(ctx, domain, rec, parsed, base, flags, now)
        except RegError as err:
            rec = domain.get(aor)
            valid = rec.valid(now) if rec is not None and shown is not None else []
            self.engine.stats["registrar_rejected_regs"] += 1  # type: ignore[attr-defined]
            return (-2 if err.name == "TOO_MANY" else -1), self._error_reply(err, valid)
        self.engine.stats["registrar_accepted_regs"] += 1  # type: ignore[attr-defined]
        rec = domain.get(aor)
        valid = rec.valid(now) if rec is not None else []
        return rc, self._ok_reply(ctx, valid, now, path)

    def _base_info(self, ctx: Context, cseq: int, path: str, path_rcv: str, flags: int,
                   now: int) -> dict[str, Any]:
        rcv = ctx.rcv
        ua = ctx.msg.user_agent
        received = path_rcv
        if not received and self.settings["received_avp"]:
            from ...script.pv import resolve

            value = resolve(self.settings["received_avp"]).get(ctx)
            received = str(value) if value not in (None, "") else ""
        tcp = rcv.proto in ("tcp", "tls", "ws", "wss")
        return {
            "callid": ctx.msg.call_id, "cseq": cseq, "path": path, "received": received,
            "user_agent": ua if ua and len(ua) < 256 else "n/a",
            "socket": self._socket(ctx), "flags": FL_MEM if flags & SAVE_MEM else 0,
            "cflags": int(ctx.extra.get("bflags", 0)) | (self._nat_flag() if path_rcv else 0),
            "methods": allow_mask(ctx.msg.get_header_values("Allow")), "last_modified": now,
            "tcpconn_id": rcv.conn_id if tcp and rcv.conn_id is not None else -1,
        }

    def _socket(self, ctx: Context) -> str:
        rcv = ctx.rcv
        host = f"[{rcv.dst_ip}]" if ":" in rcv.dst_ip else rcv.dst_ip
        return f"{rcv.proto}:{host}:{rcv.dst_port}"

    def _nat_flag(self) -> int:
        bflag = self.usrloc.settings.get("nat_bflag", -1)
        return 1 << bflag if isinstance(bflag, int) and 0 <= bflag < 64 else 0

    def _contact_fields(self, ctx: Context, na: NameAddr, base: dict[str, Any], e: int
                        ) -> dict[str, Any]:
        fields = dict(base)
        fields["expires"] = e
        fields["q"] = self.contact_q(ctx, na)
        params = na.params
        if "received" in params and params.get("received"):
            fields["received"] = (params.get("received") or "").strip('"')
        if "methods" in params and params.get("methods"):
            fields["methods"] = allow_mask([(params.get("methods") or "").strip('"')])
        instance = params.get("+sip.instance") if "+sip.instance" in params else None
        fields["instance"] = instance.strip().strip('"') if instance else ""
        fields["reg_id"] = 0
        reg_id = params.get("reg-id") if "reg-id" in params else None
        if fields["instance"] and reg_id:
            if not reg_id.isdigit() or int(reg_id) == 0:
                raise RegError("INV_REGID")
            fields["reg_id"] = int(reg_id)
        return fields

    def _insert(self, ctx: Context, domain: Domain, aor: str, parsed: Parsed,
                base: dict[str, Any], flags: int, now: int) -> int:
        ul = self.usrloc
        maxc = self._max_contacts(ctx)
        novar = bool(flags & SAVE_NOVARIATION)
        added: list[Contact] = []
        try:
            for na in parsed.contacts:
                param = na.params.get("expires") if "expires" in na.params else None
                e = self.contact_expires(ctx, param, parsed.expires_hf, novar, now)
                if e == 0:
                    continue
                if maxc > 0 and len(added) >= maxc:
                    raise RegError("TOO_MANY")
                fields = self._contact_fields(ctx, na, base, e)
                uri = str(na.uri)
                same = next((c for c in added if c.uri == uri), None)
                if same is not None:
                    ul.update(domain, same, **fields)
                    continue
                if not ul.has_room():
                    raise RegError("UL_FULL")
                contact = Contact(aor, uri, **fields)
                ul.insert(domain, contact)
                added.append(contact)
        except RegError:
            for contact in added:
                ul.delete(domain, contact)
            raise
        return 1

    def _update(self, ctx: Context, domain: Domain, rec: Record, parsed: Parsed,
                base: dict[str, Any], flags: int, now: int) -> int:
        ul = self.usrloc
        replace = bool(flags & SAVE_REPLACE)
        novar = bool(flags & SAVE_NOVARIATION)
        cseq, callid, path = base["cseq"], base["callid"], base["path"]
        if not replace:
            maxc = self._max_contacts(ctx)
            if maxc > 0:
                self._test_max(ctx, rec, parsed, base, maxc, now)
        rc = 0
        for na in parsed.contacts:
            param = na.params.get("expires") if "expires" in na.params else None
            e = self.contact_expires(ctx, param, parsed.expires_hf, novar, now)
            fields = self._contact_fields(ctx, na, base, e)
            uri = str(na.uri)
            status, found = ul.find(rec, uri, callid, cseq, path)
            if status == -1:
                raise RegError("INV_CSEQ")
            if status == -2:
                if e != 0 and replace:
                    break
                continue
            if found is None:
                if e == 0:
                    continue
                if not ul.has_room():
                    raise RegError("UL_FULL")
                contact = Contact(rec.aor, uri, **fields)
                ul.insert(domain, contact)
                rc = 1
                if replace:
                    self._drop_others(domain, rec, contact)
                    break
                continue
            if e == 0:
                ul.delete(domain, found, mem_only=bool(flags & SAVE_MEM))
                rc = 3
                continue
            if replace:
                self._drop_others(domain, rec, found)
            if found.instance and found.callid != callid:
                for other in [c for c in rec.contacts
                              if c is not found and c.instance == found.instance]:
                    ul.delete(domain, other)
            fields.pop("ruid", None)
            ul.update(domain, found, **fields)
            rc = 2
            if replace:
                break
        return rc or 1

    def _drop_others(self, domain: Domain, rec: Record, keep: Contact) -> None:
        for other in [c for c in rec.contacts if c is not keep]:
            self.usrloc.delete(domain, other)

    def _test_max(self, ctx: Context, rec: Record, parsed: Parsed, base: dict[str, Any],
                  maxc: int, now: int) -> None:
        num = len(rec.valid(now))
        for na in parsed.contacts:
            param = na.params.get("expires") if "expires" in na.params else None
            try:
                e = self.contact_expires(ctx, param, parsed.expires_hf, True, now)
            except RegError:
                e = 1
            status, found = self.usrloc.find(rec, str(na.uri), base["callid"], base["cseq"],
                                             base["path"])
            if status == -1:
                raise RegError("INV_CSEQ")
            if status == -2:
                continue
            if found is None and e != 0:
                num += 1
            elif found is not None and e == 0:
                num -= 1
        if num > maxc:
            raise RegError("TOO_MANY")

    def _max_contacts(self, ctx: Context) -> int:
        xm = self._xavp_cfg(ctx, "max_contacts")
        return xm if isinstance(xm, int) else int(self.settings["max_contacts"])

    # ---------------------------------------------------------- path, outbound

    def _path_vector(self, ctx: Context) -> tuple[str, str]:
        """The Path headers joined, and the received= of the first one (path_use_received)."""
        if not self.settings["use_path"]:
            return "", ""
        values = [v.strip() for v in ctx.msg.get_headers("Path") if v.strip()]
        if not values:
            return "", ""
        path = ",".join(values)
        received = ""
        if self.settings["path_use_received"]:
            try:
                first = parse_name_addr(split_header_values(values[0])[0])
            except (SIPError, IndexError):
                raise RegError("PARSE_PATH") from None
            value = first.uri.params.get("received") if "received" in first.uri.params else None
            received = unquote_string(value) if value else ""
        return path, received

    def _check_outbound(self, ctx: Context) -> None:
        require = ",".join(ctx.msg.get_header_values("Require")).lower()
        if "outbound" in [t.strip() for t in require.split(",")]:
            raise RegError("OB_REQD")

    def _supports(self, ctx: Context, tag: str) -> bool:
        values = ",".join(ctx.msg.get_header_values("Supported")).lower()
        return tag in [t.strip() for t in values.split(",")]

    # ---------------------------------------------------------------- replies

    def _ok_reply(self, ctx: Context, valid: list[Contact], now: int, path: str
                  ) -> PreparedReply:
        headers = []
        line = contact_header(valid, now, self.settings["received_param"])
        if line:
            headers.append(line)
        mode = self.settings["path_mode"]
        if path and mode != 0:
            if self._supports(ctx, "path"):
                headers.append(f"Path: {path}")
            elif mode == 2:
                headers += ["Unsupported: path", f"Path: {path}",
                            f"P-Registrar-Error: {ERRORS['PATH_UNSUP'][1]}"]
                return PreparedReply(420, REASONS[420], headers)
        return PreparedReply(200, REASONS[200], headers)

    def _error_reply(self, err: RegError, valid: list[Contact]) -> PreparedReply:
        code, info = ERRORS[err.name]
        headers = []
        line = contact_header(valid, int(self.usrloc.clock()), self.settings["received_param"])
        if line:
            headers.append(line)
        if err.name == "OB_REQD":
            headers.append("Unsupported: outbound")
        if err.name == "LOW_EXP":
            headers.append(f"Min-Expires: {self.settings['min_expires']}")
        headers.append(f"P-Registrar-Error: {info}")
        if code >= 500 and self.settings["retry_after"]:
            headers.append(f"Retry-After: {self.settings['retry_after']}")
        return PreparedReply(code, REASONS[code], headers)

