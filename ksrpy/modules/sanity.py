"""sanity: Kamailio's malformed-request filter (sanity_check, sanity_reply).

Each check bit, its order, its reply and its return codes follow Kamailio
5.6.3 as observed on the wire (tests/unit/test_sanity.py lists the evidence).
Where Kamailio answers nothing, the check fails silently; where Kamailio marks
the message "no reply" (missing or unparsable headers), ``sanity_reply()``
stays silent too. The parsers Kamailio uses here are more lenient than
ksrpy's general ones, so the header checks below read the raw values the way
Kamailio does (CSeq and Expires tokens, Proxy-Require lists, digest params).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..sip._cache import memo
from ..sip.errors import SIPError
from ..sip.headers import HeaderId
from ..sip.params import split_quoted
from ..sip.uri import parse_uri
from .exports import ONREPLY_ROUTE, REQUEST_ROUTE, Module, ParamExport, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context
    from ..sip.message import SIPMessage

log = logging.getLogger("ksrpy")

# Message check bits (Kamailio's SANITY_* flags).
RURI_SIP_VERSION = 1
RURI_SCHEME = 2
REQUIRED_HEADERS = 4
VIA_SIP_VERSION = 8  # disabled in Kamailio: always passes
VIA_PROTOCOL = 16  # disabled in Kamailio: always passes
CSEQ_METHOD = 32
CSEQ_VALUE = 64
CONTENT_LENGTH = 128
EXPIRES_VALUE = 256
PROXY_REQUIRE = 512
PARSE_URIS = 1024
DIGEST = 2048
DUPTAGS = 4096
AUTHORIZATION = 8192
VIA1_HEADER = 16384
#: cfg masks must be 1 .. MAX_CHECKS-1 (KEMI masks are not range checked, as in Kamailio).
MAX_CHECKS = 1 << 15

# URI check bits for PARSE_URIS.
URI_RURI = 1
URI_FROM = 2
URI_TO = 4
URI_CONTACT = 8
MAX_URI_CHECKS = 1 << 4

DEFAULT_CHECKS = 3047  # 1|2|4|32|64|128|256|512|2048, Kamailio's default_checks
DEFAULT_URI_CHECKS = 7

PASSED = 1
FAILED = 0

#: URI schemes Kamailio's parser accepts (tels: does not parse in 5.6.3).
_SCHEMES = frozenset(("sip", "sips", "tel", "urn"))
_DIGITS_RE = re.compile(r"[0-9]*")
_TOKEN_END_RE = re.compile(r"[^ \t\r\n,]*")
_MAX_UINT_TEXT = "4294967296"  # Kamailio's str2valid_uint bound (inclusive: its quirk)
_DIGEST_REQUIRED = ("username", "realm", "nonce", "uri", "response")
_WS = " \t\r\n"

_INFO = "sanity.reply"  # ctx.extra: (code, reason) kept for sanity_reply() when noreply=1
_NOREPLY = "sanity.noreply"  # ctx.extra: Kamailio's FL_MSG_NOREPLY (nothing may answer)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed check: the reply to send (code 0: none) and whether to mark "no reply"."""

    code: int = 0
    reason: str = ""
    noreply: bool = False


SILENT = Failure()
SILENT_NOREPLY = Failure(noreply=True)


def str2valid_uint(text: str) -> bool:
    """Kamailio's unsigned-int test: at most 10 digits, not above 4294967296 (sic)."""
    if len(text) > 10 or _DIGITS_RE.fullmatch(text) is None:
        return False
    return len(text) < 10 or text <= _MAX_UINT_TEXT


def parse_str_list(text: str) -> list[str] | None:
    """Kamailio's comma list: trimmed, split on ',', each item trimmed; None when empty."""
    text = text.strip(_WS)
    if not text:
        return None
    return [item.strip(_WS) for item in text.split(",")]


def _uri_ok(text: str) -> bool:
    """True when ``text`` parses as a sip:, sips:, tel: or urn: URI."""
    try:
        return parse_uri(text).scheme in _SCHEMES
    except SIPError:
        return False


def _lenient_name_addr(value: str) -> tuple[str, tuple[str, ...]] | None:
    """(URI text, header param names) of a From/To/Contact entry, None when malformed.

    As Kamailio's to-body parser: the URI itself is not validated here, a
    param may have an empty value, but brackets and quotes must close, nothing
    may follow ``>`` but params, and every param needs a name.
    """
    text = value.strip(_WS)
    if not text:
        return None
    try:
        parts = split_quoted(text, ";")
    except SIPError:
        return None
    addr = parts[0].strip(_WS)
    lt = _unquoted_index(addr, "<")
    if lt >= 0:
        gt = addr.find(">", lt + 1)
        if gt < 0 or addr[gt + 1 :].strip(_WS):
            return None
        uri = addr[lt + 1 : gt].strip(_WS)
    else:
        uri = addr
        if not uri or any(c in uri for c in _WS):
            return None
    names = []
    for param in parts[1:]:
        name = param.partition("=")[0].strip(_WS)
        if not name:
            return None
        names.append(name.lower())
    return uri, tuple(names)


#: The headers sanity's "required headers" check counts (From, To, Call-ID, CSeq).
_REQUIRED_IDS = (HeaderId.FROM, HeaderId.TO, HeaderId.CALL_ID, HeaderId.CSEQ)

#: From/To texts recur in every message of a dialog: parse each once.
lenient_name_addr = memo(_lenient_name_addr)


def _unquoted_index(text: str, char: str) -> int:
    """Index of the first ``char`` outside a quoted string, -1 when none."""
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return i
        i += 1
    return -1


class BadAuthHeader(Exception):
    """The credentials do not parse (Kamailio's parse_credentials < 0)."""


def parse_digest(value: str) -> dict[str, str] | None:
    """Digest params as Kamailio's digest parser reads them; None for another scheme.

    Values are quoted strings (no escapes) or tokens up to whitespace or ',';
    anything between a value and the next ',' is skipped; the last of a
    repeated param wins. Raises BadAuthHeader where Kamailio's parser fails.
    """
    text = value.lstrip(_WS)
    if len(text) < 7 or text[:6].lower() != "digest" or text[6] not in " \t\r\n,":
        return None
    rest = text[7:].lstrip(_WS)
    params: dict[str, str] = {}
    while True:
        eq = rest.find("=")
        if eq < 0:
            raise BadAuthHeader("parameter without '='")
        name = rest[:eq].strip(" \t").lower()
        rest = rest[eq + 1 :].lstrip(_WS)
        if not rest:
            raise BadAuthHeader(f"no value for {name!r}")
        if rest[0] == '"':
            end = rest.find('"', 1)
            if end < 0:
                raise BadAuthHeader(f"unterminated quoted value for {name!r}")
            params[name] = rest[1:end]
            rest = rest[end + 1 :]
        else:
            token = _TOKEN_END_RE.match(rest)
            assert token is not None  # the pattern matches the empty string
            params[name] = token.group(0)
            rest = rest[token.end() :]
        comma = rest.find(",")
        if comma < 0:
            return params
        rest = rest[comma + 1 :].lstrip(_WS)


def _digest_failure(params: dict[str, str]) -> Failure | None:
    """Kamailio's check_dig_cred and the empty-value checks, in its order."""
    missing = [p for p in _DIGEST_REQUIRED if p not in params]
    qop = params.get("qop")
    if qop is not None and qop.strip(_WS).lower() in ("auth", "auth-int"):
        missing += [p for p in ("cnonce", "nc") if p not in params]
    if missing:
        return Failure(400, "Bad Auth Credentials")
    if not params["username"]:
        return Failure(400, "Auth Empty User")
    if not params["nonce"]:
        return Failure(400, "Auth Empty Nonce")
    if not params["response"]:
        return Failure(400, "Auth Empty Response")
    return None


def _body_length(msg: SIPMessage) -> int:
    """Bytes after the empty line ending the headers."""
    return len(msg.raw) - msg.body_start


class SanityModule(Module):
    """Reject malformed requests with the reply Kamailio's sanity module sends."""

    name = "sanity"
    kemi_namespace = "sanity"
    params = (
        ParamExport("default_checks", int, DEFAULT_CHECKS,
                    "Checks run by sanity_check() without arguments (sum of check bits)."),
        ParamExport("uri_checks", int, DEFAULT_URI_CHECKS,
                    "URIs check 1024 parses: 1 R-URI, 2 From, 4 To, 8 Contact."),
        ParamExport("proxy_require", str, "",
                    "Comma list of extensions a Proxy-Require may name (check 512)."),
        ParamExport("autodrop", int, 1,
                    "1: a failed check stops the script (returns 0); 0: returns -1."),
        ParamExport("noreply", int, 0,
                    "1: send no reply on failure; sanity_reply() sends it later."),
    )

    _supported_cache: tuple[str, list[str]] = ("", [])

    def _supported(self) -> list[str]:
        """The parsed proxy_require list (re-parsed when the parameter changes)."""
        text = self.settings["proxy_require"]
        if self._supported_cache[0] != text:
            self._supported_cache = (text, parse_str_list(text) or [])
        return self._supported_cache[1]

    # ------------------------------------------------------------- functions

    @export("sanity_check", ("checks", K.IGP, True), ("uri_checks", K.IGP, True), kemi=None,
            routes=REQUEST_ROUTE | ONREPLY_ROUTE)
    def sanity_check(self, ctx: Context, checks: int | str | None = None,
                     uri_checks: int | str | None = None) -> int:
        """1: passed; failed: 0 (stops the script) with autodrop=1, else -1; -1 bad mask."""
        msg_checks = self.settings["default_checks"] if checks is None else int(checks)
        uris = self.settings["uri_checks"] if uri_checks is None else int(uri_checks)
        if not 1 <= msg_checks < MAX_CHECKS or not 1 <= uris < MAX_URI_CHECKS:
            self.engine.badlog.warning(
                ("sanity", msg_checks, uris),
                "sanity_check(%d, %d): checks must be 1-%d and uri_checks 1-%d",
                msg_checks, uris, MAX_CHECKS - 1, MAX_URI_CHECKS - 1,
            )
            return -1
        if self.run(ctx, msg_checks, uris) == PASSED:
            return 1
        return 0 if self.settings["autodrop"] else -1

    @export("sanity_check", ("checks", K.INT), ("uri_checks", K.INT), cfg=False,
            routes=REQUEST_ROUTE | ONREPLY_ROUTE)
    def ki_sanity_check(self, ctx: Context, checks: int, uri_checks: int) -> int:
        """KEMI: 1 passed, -1 failed (whatever autodrop says; the reply is still sent)."""
        return 1 if self.run(ctx, int(checks), int(uri_checks)) == PASSED else -1

    @export("sanity_check_defaults", cfg=False, routes=REQUEST_ROUTE | ONREPLY_ROUTE)
    def ki_sanity_check_defaults(self, ctx: Context) -> int:
        """KEMI: the default_checks/uri_checks parameters; 1 passed, -1 failed."""
        return self.ki_sanity_check(ctx, self.settings["default_checks"],
                                    self.settings["uri_checks"])

    @export("sanity_reply", routes=REQUEST_ROUTE | ONREPLY_ROUTE)
    def sanity_reply(self, ctx: Context) -> int:
        """With noreply=1, send the reply the last failed check chose (else 500); 1, -1 on error."""
        msg = ctx.msg
        if not msg.is_request or msg.method == "ACK" or not self.settings["noreply"]:
            return 1
        if ctx.extra.get(_NOREPLY):
            return 1
        code, reason = ctx.extra.get(_INFO) or (500, "Server Sanity Failure")
        return 1 if self.engine.send_reply(ctx, code, reason) else -1

    # ---------------------------------------------------------------- engine

    def run(self, ctx: Context, checks: int, uri_checks: int) -> int:
        """Run the checks in Kamailio's order; PASSED or FAILED (the reply is handled)."""
        if self.settings["noreply"]:
            ctx.extra.pop(_INFO, None)
        failure = self.first_failure(ctx, checks, uri_checks)
        if failure is None:
            return PASSED
        self._fail(ctx, failure)
        return FAILED

    def first_failure(self, ctx: Context, checks: int, uri_checks: int) -> Failure | None:
        """The first failing check of ``checks`` (in Kamailio's order), None when all pass."""
        request = ctx.msg.is_request
        steps = (
            # Checks reading the request line are skipped for replies: Kamailio reads
            # the status line as a request line there and always fails them.
            (RURI_SIP_VERSION, request, self._ruri_sip_version),
            (RURI_SCHEME, request, self._ruri_scheme),
            (REQUIRED_HEADERS, True, self._required_headers),
            (VIA1_HEADER, True, self._via1),
            (CSEQ_METHOD, request, self._cseq_method),
            (CSEQ_VALUE, True, self._cseq_value),
            (CONTENT_LENGTH, True, self._content_length),
            (EXPIRES_VALUE, True, self._expires),
            (PROXY_REQUIRE, True, self._proxy_require),
        )
        for bit, applies, check in steps:
            if checks & bit and applies:
                failure = check(ctx)
                if failure is not None:
                    return failure
        if checks & PARSE_URIS:
            failure = self._parse_uris(ctx, uri_checks)
            if failure is not None:
                return failure
        if checks & DIGEST:
            failure = self._digest(ctx, strict=True)
            if failure is not None:
                return failure
        if checks & AUTHORIZATION:
            failure = self._digest(ctx, strict=False)
            if failure is not None:
                return failure
        if checks & DUPTAGS:
            return self._duptags(ctx)
        return None

    def _fail(self, ctx: Context, failure: Failure) -> None:
        """Reply (or keep the reply for sanity_reply) as Kamailio's sanity_reply() helper."""
        if failure.noreply:
            ctx.extra[_NOREPLY] = True
        msg = ctx.msg
        if not failure.code or not msg.is_request or msg.method == "ACK":
            return
        if self.settings["noreply"]:
            ctx.extra[_INFO] = (failure.code, failure.reason)
            return
        if not ctx.extra.get(_NOREPLY):
            self.engine.send_reply(ctx, failure.code, failure.reason)

    # ---------------------------------------------------------------- checks

    def _ruri_sip_version(self, ctx: Context) -> Failure | None:
        version = ctx.msg.start_line.rsplit(b" ", 1)[-1]
        _, slash, number = version.partition(b"/")
        if not slash:
            return SILENT
        if number != b"2.0":
            return Failure(505, "Version Not Supported (R-URI)")
        return None

    def _ruri_scheme(self, ctx: Context) -> Failure | None:
        uri = ctx.ruri_uri()
        if uri is None or uri.scheme not in _SCHEMES:
            return Failure(400, "Bad Request URI")
        return None

    def _required_headers(self, ctx: Context) -> Failure | None:
        msg = ctx.msg
        counts = [len(msg.header_indices(hid)) for hid in _REQUIRED_IDS]
        if 0 in counts or not msg.header_indices(HeaderId.VIA):
            # Kamailio's core drops these before the script; sanity marks them no-reply.
            return SILENT_NOREPLY
        if any(n > 1 for n in counts):
            return SILENT
        return None

    def _via1(self, ctx: Context) -> Failure | None:
        try:
            via = ctx.msg.via1
        except SIPError:
            return SILENT_NOREPLY
        # Kamailio's Via parser refuses any version but SIP/2.0 (its core drops those).
        if not via.host or via.protocol.replace(" ", "").upper() != "SIP/2.0":
            return SILENT_NOREPLY
        return None

    def _cseq_tokens(self, ctx: Context) -> list[str] | None:
        """CSeq as Kamailio's core parser splits it: exactly a number and a method token."""
        value = ctx.msg.header_by_id(HeaderId.CSEQ)
        if value is None:
            return None
        tokens = value.split()
        return tokens if len(tokens) == 2 else None

    def _cseq_method(self, ctx: Context) -> Failure | None:
        tokens = self._cseq_tokens(ctx)
        if tokens is None:
            return SILENT_NOREPLY
        if tokens[1] != ctx.msg.method:
            return Failure(400, "CSeq method does not match request method")
        return None

    def _cseq_value(self, ctx: Context) -> Failure | None:
        tokens = self._cseq_tokens(ctx)
        if tokens is None:
            return SILENT_NOREPLY
        if not str2valid_uint(tokens[0]):
            return Failure(400, "CSeq number is illegal")
        return None

    def _content_length(self, ctx: Context) -> Failure | None:
        msg = ctx.msg
        value = msg.header_by_id(HeaderId.CONTENT_LENGTH)
        if value is None:
            return None
        if not value.isdigit() or int(value) != _body_length(msg):
            return Failure(400, "Content-Length mis-match")
        return None

    def _expires(self, ctx: Context) -> Failure | None:
        value = ctx.msg.header_by_id(HeaderId.EXPIRES)
        if value is None:
            return None
        tokens = value.split()
        if not tokens:
            return Failure(400, "Bad Expires Header")
        if not str2valid_uint(tokens[0]):
            return Failure(400, "Expires value is illegal")
        return None

    def _proxy_require(self, ctx: Context) -> Failure | None:
        value = ctx.msg.header_by_id(HeaderId.PROXY_REQUIRE)
        if value is None:
            return None
        required = parse_str_list(value)
        if required is None:
            return Failure(400, "Bad Proxy Require Header")
        supported = self._supported()
        for token in required:
            if token not in supported:
                # Kamailio adds the header as a reply lump: later replies carry it too.
                ctx.reply_lumps.append(f"Unsupported: {token}")
                return Failure(420, "Bad Proxy Require Extension")
        return None

    def _parse_uris(self, ctx: Context, uri_checks: int) -> Failure | None:
        msg = ctx.msg
        if uri_checks & URI_RURI and msg.is_request:
            failure = self._ruri_scheme(ctx)
            if failure is not None:
                return failure
        for bit, hid, reason in ((URI_FROM, HeaderId.FROM, "Invalid From Header"),
                                 (URI_TO, HeaderId.TO, "Ivalid To Header")):  # sic, Kamailio's
            if uri_checks & bit:
                value = msg.header_by_id(hid)
                if value is None:
                    return SILENT_NOREPLY
                parsed = lenient_name_addr(value)
                if parsed is None and hid == HeaderId.TO:
                    # Kamailio's core parses To itself and drops the request when it cannot.
                    return SILENT_NOREPLY
                if parsed is None or not _uri_ok(parsed[0]):
                    return Failure(400, reason)
        if uri_checks & URI_CONTACT:
            return self._contacts(msg)
        return None

    def _contacts(self, msg: SIPMessage) -> Failure | None:
        """Every Contact header must parse; the URIs of the first one must too."""
        uris: list[list[str]] = []
        for value in msg.get_headers("Contact"):
            try:
                parts = [p.strip(_WS) for p in split_quoted(value, ",")]
            except SIPError:
                return Failure(400, "Bad Contact Header")
            found = []
            for part in parts:
                if part == "*":
                    continue
                parsed = lenient_name_addr(part)
                if parsed is None:
                    return Failure(400, "Bad Contact Header")
                found.append(parsed[0])
            uris.append(found)
        if uris and not all(_uri_ok(uri) for uri in uris[0]):
            return Failure(400, "Bad Contact URI")
        return None

    def _digest(self, ctx: Context, *, strict: bool) -> Failure | None:
        """Checks 2048 (strict: another scheme fails, silently) and 8192 (it passes)."""
        msg = ctx.msg
        for value in [*msg.get_headers("Authorization"), *msg.get_headers("Proxy-Authorization")]:
            try:
                params = parse_digest(value)
            except BadAuthHeader:
                return Failure(400, "Bad Auth Header")
            if params is None:
                # Kamailio stops at the first non-Digest credential ("not applicable").
                return SILENT if strict else None
            failure = _digest_failure(params)
            if failure is not None:
                return failure
        return None

    def _duptags(self, ctx: Context) -> Failure | None:
        msg = ctx.msg
        tags = []
        for hid in (HeaderId.FROM, HeaderId.TO):
            value = msg.header_by_id(hid)
            parsed = None if value is None else lenient_name_addr(value)
            if parsed is None:
                return SILENT_NOREPLY
            tags.append(parsed[1].count("tag"))
        if tags[0] > 1:
            return Failure(400, "Many From Tag Params")
        if tags[1] > 1:
            return Failure(400, "Many To Tag Params")
        return None
