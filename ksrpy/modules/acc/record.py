"""One accounting record: Kamailio's fixed fields, the time, the extra values; its log line.

The fixed fields are acc's core set (method, From tag, To tag, Call-ID,
status code, reason phrase). ``log_extra``/``db_extra`` add ``name=$pv``
pairs, read from the request's context when the record is made. The log
line is Kamailio's, byte for byte after the ``ACC: <event>: `` prefix::

    ACC: transaction answered: timestamp=1700000000;method=INVITE;from_tag=a;
    to_tag=b;call_id=c;code=200;reason=OK;src_user=alice

(one line; a null value prints as nothing after ``=``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...script.pv import PV, PVError, resolve
from ...sip.errors import SIPError

if TYPE_CHECKING:
    from ...core.context import Context
    from ...sip.message import SIPMessage

#: The event texts Kamailio puts before the fields.
ANSWERED = "ACC: transaction answered: "
MISSED = "ACC: call missed: "
REQUEST = "ACC: request accounted: "
ACKED = "ACC: request acknowledged: "

#: Log names of the fixed fields, in Kamailio's order.
LOG_NAMES = ("method", "from_tag", "to_tag", "call_id", "code", "reason")


@dataclass(frozen=True)
class Extra:
    """One ``name=$pv`` pair of log_extra / db_extra."""

    name: str
    pv: PV


def parse_extras(text: str, *, limit: int = 64, what: str = "extra") -> tuple[Extra, ...]:
    """``"a=$fU;b=$hdr(X)"`` to Extra pairs (ValueError naming the bad part)."""
    out: list[Extra] = []
    for raw in text.split(";"):
        part = raw.strip()
        if not part:
            continue
        name, sep, spec = part.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise ValueError(f"{what} {part!r}: expected name=$pseudo_variable")
        if not spec.startswith("$"):
            raise ValueError(f"{what} {part!r}: the value must be one pseudo-variable ($...)")
        try:
            pv = resolve(spec)
        except (PVError, ValueError) as exc:
            raise ValueError(f"{what} {part!r}: {exc}") from None
        out.append(Extra(name, pv))
    if len(out) > limit:
        raise ValueError(f"{what}: {len(out)} values, more than acc_extra_size ({limit})")
    return tuple(out)


def extra_values(extras: tuple[Extra, ...], ctx: Context) -> list[tuple[str, str | None]]:
    """(name, value) of each extra for this message; None for a null (or failing) PV."""
    out: list[tuple[str, str | None]] = []
    for extra in extras:
        try:
            value: Any = extra.pv.get(ctx)
        except Exception:  # noqa: BLE001 - a broken value must not cost the record
            value = None
        out.append((extra.name, None if value is None else str(value)))
    return out


def split_comment(comment: str) -> tuple[str, str]:
    """acc_*_request's comment: ``"404 Not here"`` -> ("404", "Not here"); no code -> ""."""
    if len(comment) >= 3 and comment[:3].isdigit() and comment[:3].isascii():
        return comment[:3], comment[3:].lstrip(" \t\r\n\f\v")
    return "", comment


def tag_of(msg: SIPMessage | None, header: str) -> str:
    """The tag of From or To ('' when absent or unparsable)."""
    if msg is None:
        return ""
    try:
        na = msg.from_ if header == "from" else msg.to
    except SIPError:
        return ""
    return na.tag or ""


@dataclass
class Record:
    """The values of one accounting event."""

    method: str
    from_tag: str
    to_tag: str
    call_id: str
    code: str
    reason: str
    when: float = field(default_factory=time.time)
    extras: list[tuple[str, str | None]] = field(default_factory=list)

    def core(self) -> tuple[str, str, str, str, str, str]:
        """The fixed fields in Kamailio's order."""
        return (self.method, self.from_tag, self.to_tag, self.call_id, self.code, self.reason)


def record_for(msg: SIPMessage, to_msg: SIPMessage | None, code: str, reason: str, *,
               swap: bool = False, local_to_tag: str = "") -> Record:
    """A record of request ``msg``; the To tag comes from ``to_msg`` (a reply) when given.

    ``swap`` (detect_direction, upstream request) exchanges the From and To tags;
    ``local_to_tag`` fills an empty To tag (a reply ksrpy generated itself).
    """
    try:
        method = msg.cseq[1]
    except SIPError:
        method = msg.method if msg.is_request else ""
    from_tag = tag_of(msg, "from")
    to_tag = tag_of(to_msg if to_msg is not None else msg, "to")
    if swap:
        from_tag, to_tag = to_tag, from_tag
    if not to_tag:
        to_tag = local_to_tag
    try:
        call_id = msg.call_id or ""
    except SIPError:
        call_id = ""
    return Record(method, from_tag, to_tag, call_id, code, reason)


def time_fields(when: float, mode: int, fmt: str) -> tuple[Any, ...]:
    """The extra time values of time_mode 1-4 (none for 0), for the log and the database."""
    seconds = int(when)
    if mode == 1:
        return (seconds, min(999_999, int((when - seconds) * 1_000_000)))
    if mode == 2:
        return (round(when, 3),)
    if mode in (3, 4):
        parts = time.localtime(seconds) if mode == 3 else time.gmtime(seconds)
        return (time.strftime(fmt, parts),)
    return ()


def log_line(text: str, record: Record, *, time_mode: int = 0, time_attr: str = "time_attr",
             time_exten: str = "time_exten", time_format: str = "%Y-%m-%d %H:%M:%S") -> str:
    """The line Kamailio's acc writes for ``record`` after the event ``text``."""
    head = f"{text}timestamp={int(record.when)}"
    extra_time = time_fields(record.when, time_mode, time_format)
    if time_mode == 1:
        head += f";{time_exten}={extra_time[1]}"
    elif time_mode == 2:
        head += f";{time_attr}={extra_time[0]:.3f}"
    elif time_mode in (3, 4):
        head += f";{time_attr}={extra_time[0]}"
    fields = list(zip(LOG_NAMES, record.core(), strict=True)) + record.extras
    return head + "".join(f";{name}={'' if value is None else value}" for name, value in fields)
