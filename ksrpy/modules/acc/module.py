"""acc: transaction accounting to the log and to SQLite (Kamailio's acc module).

The script marks a request with ``setflag(log_flag)`` (and/or ``db_flag``);
when its transaction's final reply goes upstream, tm calls back and acc
writes one record: "transaction answered" for a 2xx (and for a 3xx-6xx when
``failed_transaction_flag`` is set too), "call missed" for an INVITE that
failed with ``log_missed_flag``/``db_missed_flag`` set. ``report_ack`` adds
the ACK of a 2xx, ``report_cancels`` lets CANCEL transactions be accounted.
``acc_log_request``/``acc_db_request``/``acc_request`` write a record at once.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from ...script.pvformat import Format, compile_format
from ...sip.reply import REASONS, stateless_to_tag
from ..exports import ArgKind as K
from ..exports import Module, ParamExport, export
from ..xlog import NUMERIC
from .db import AccDb, Columns, identifier, sqlite_path
from .record import (
    ACKED,
    ANSWERED,
    MISSED,
    REQUEST,
    Extra,
    Record,
    extra_values,
    log_line,
    parse_extras,
    record_for,
    split_comment,
)

if TYPE_CHECKING:
    from ...core.context import Context
    from ...sip.message import SIPMessage

log = logging.getLogger("ksrpy.acc")

_FLAGS = ("log_flag", "log_missed_flag", "db_flag", "db_missed_flag",
          "failed_transaction_flag", "acc_prepare_flag")
_COLUMNS = ("acc_method_column", "acc_from_tag_column", "acc_to_tag_column",
            "acc_callid_column", "acc_sip_code_column", "acc_sip_reason_column",
            "acc_time_column")
_UNSUPPORTED_NONZERO = {
    "early_media": "early_media=1 is not supported: ksrpy's tm reports final replies only, "
                   "so provisional replies with a body cannot be accounted",
    "cdr_enable": "cdr_enable=1 is not supported: CDRs need Kamailio's dialog module, "
                  "which ksrpy does not have",
}


def _ignored(name: str, typ: type, default: Any, what: str) -> ParamExport:
    return ParamExport(name, typ, default, f"Accepted, no effect: {what}.")


class AccModule(Module):
    """Accounting of transactions (flags) and of single requests, to the log and SQLite."""

    name = "acc"
    kemi_namespace = "acc"
    params = (
        ParamExport("log_flag", int, -1, "Request flag: account the transaction in the log."),
        ParamExport("log_missed_flag", int, -1, "Request flag: log a failed INVITE as a "
                                                "missed call."),
        ParamExport("failed_transaction_flag", int, -1, "Request flag: account 3xx-6xx "
                                                        "final replies too."),
        ParamExport("failed_filter", str, "", "Comma-separated codes (300-999) never "
                                              "accounted as failed transactions."),
        ParamExport("report_ack", int, 0, "Account the ACK of an accounted 2xx."),
        ParamExport("report_cancels", int, 0, "Account CANCEL transactions too."),
        ParamExport("detect_direction", int, 0, "Swap From/To tags of upstream in-dialog "
                                                "requests (needs rr with append_fromtag)."),
        ParamExport("log_level", int, 1, "Kamailio level of the log lines (1 = NOTICE)."),
        ParamExport("log_facility", str, "LOG_DAEMON", "Accepted; ksrpy's log goes where "
                                                       "its logging is configured."),
        ParamExport("log_extra", str, "", "name=$pv;... values added to log records."),
        ParamExport("db_flag", int, -1, "Request flag: account the transaction in the database."),
        ParamExport("db_missed_flag", int, -1, "Request flag: store a failed INVITE as a "
                                               "missed call."),
        ParamExport("db_table_acc", str, "acc", "Table of accounted transactions (may hold "
                                                "pseudo-variables)."),
        ParamExport("db_table_missed_calls", str, "missed_calls", "Table of missed calls (may "
                                                                  "hold pseudo-variables)."),
        ParamExport("db_url", str, "", "sqlite:///path/file.db (other databases are refused)."),
        ParamExport("db_extra", str, "", "name=$pv;... values added as columns of DB records."),
        ParamExport("acc_method_column", str, "method", "Column of the method."),
        ParamExport("acc_from_tag_column", str, "from_tag", "Column of the From tag."),
        ParamExport("acc_to_tag_column", str, "to_tag", "Column of the To tag."),
        ParamExport("acc_callid_column", str, "callid", "Column of the Call-ID."),
        ParamExport("acc_sip_code_column", str, "sip_code", "Column of the status code."),
        ParamExport("acc_sip_reason_column", str, "sip_reason", "Column of the reason phrase."),
        ParamExport("acc_time_column", str, "time", "Column of the time (UTC)."),
        ParamExport("acc_extra_nullable", int, 0, "Store null extra values as NULL, not ''."),
        ParamExport("acc_extra_size", int, 64, "Most extra values per record."),
        ParamExport("time_mode", int, 0, "0 timestamp only; 1 seconds+microseconds; "
                                         "2 seconds.milliseconds; 3/4 time_format local/UTC."),
        ParamExport("time_attr", str, "time_attr", "Log name / column of the time_mode value."),
        ParamExport("time_exten", str, "time_exten", "Log name / column of the microseconds "
                                                     "(time_mode 1)."),
        ParamExport("time_format", str, "%Y-%m-%d %H:%M:%S", "strftime format of time_mode "
                                                             "3 and 4."),
        ParamExport("reason_from_hf", int, 0, "Take the reason from the reply's Reason "
                                              "header when present."),
        ParamExport("early_media", int, 0, "Must stay 0 (see docs/accounting.md)."),
        ParamExport("cdr_enable", int, 0, "Must stay 0: no dialog module."),
        ParamExport("multi_leg_info", str, "", "Must stay empty: multi-leg accounting is not "
                                               "supported."),
        _ignored("acc_prepare_flag", int, -1, "every transaction is prepared for accounting"),
        _ignored("acc_prepare_always", int, 0, "every transaction is prepared for accounting"),
        _ignored("db_insert_mode", int, 0, "rows are inserted at once"),
        _ignored("clone_msg", int, 1, "the request is read from its own context"),
        _ignored("cdr_skip", str, "", "no CDRs"),
        _ignored("cdr_expired_dlg_enable", int, 0, "no CDRs"),
        _ignored("cdr_start_on_confirmed", int, 0, "no CDRs"),
        _ignored("cdr_facility", str, "LOG_DAEMON", "no CDRs"),
        _ignored("cdr_extra", str, "", "no CDRs"),
        _ignored("cdr_extra_nullable", int, 0, "no CDRs"),
        _ignored("cdr_start_id", str, "start_time", "no CDRs"),
        _ignored("cdr_end_id", str, "end_time", "no CDRs"),
        _ignored("cdr_duration_id", str, "duration", "no CDRs"),
        _ignored("cdr_log_enable", int, 1, "no CDRs"),
        _ignored("cdrs_table", str, "", "no CDRs"),
        _ignored("cdr_on_failed", int, 1, "no CDRs"),
        _ignored("cdr_extra_size", int, 64, "no CDRs"),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.log_extra: tuple[Extra, ...] = ()
        self.db_extra: tuple[Extra, ...] = ()
        self.failed_filter: frozenset[int] = frozenset()
        self.tables: dict[str, Format] = {}
        self.db: AccDb | None = None
        self.level = NUMERIC[1]
        super().__init__(engine, settings)

    # --------------------------------------------------------------- parameters

    def set_param(self, key: str, value: Any) -> None:
        """Set a modparam; values acc cannot honour are refused here, at load time."""
        old = self.settings.get(key)
        super().set_param(key, value)
        try:
            self._check(key, self.settings[key])
        except ValueError as exc:
            self.settings[key] = old
            raise ValueError(f"modparam acc.{key}: {exc}") from None

    def _check(self, key: str, value: Any) -> None:
        if key in _UNSUPPORTED_NONZERO and value:
            raise ValueError(_UNSUPPORTED_NONZERO[key])
        if key == "multi_leg_info" and value.strip():
            raise ValueError("multi-leg accounting is not supported by ksrpy")
        if key in _FLAGS and not -1 <= value <= 63:
            raise ValueError(f"flag {value} out of range (0..63, -1 for none)")
        if key == "db_url" and value:
            sqlite_path(value)
        elif key == "log_level":
            if value not in NUMERIC:
                raise ValueError(f"unknown log level {value} (-5 .. 3)")
            self.level = NUMERIC[value]
        elif key == "failed_filter":
            self.failed_filter = _parse_filter(value)
        elif key == "time_mode" and value not in range(5):
            raise ValueError(f"time_mode {value} unknown (0..4)")
        elif key in _COLUMNS or key in ("time_attr", "time_exten"):
            identifier(value, key)
        elif key in ("db_table_acc", "db_table_missed_calls"):
            self.tables[key] = _table_format(value)
        elif key == "log_extra":
            self.log_extra = parse_extras(value, limit=self.settings["acc_extra_size"],
                                          what="log_extra")
        elif key == "db_extra":
            extras = parse_extras(value, limit=self.settings["acc_extra_size"],
                                  what="db_extra")
            for extra in extras:
                identifier(extra.name, "db_extra column")
            self.db_extra = extras

    # ------------------------------------------------------------------ start-up

    def init(self) -> None:
        """Check the settings together, open the database, hook into tm."""
        s = self.settings
        columns = Columns(*(s[c] for c in _COLUMNS))
        fixed = {*columns.core(), columns.time, "id"}
        if s["time_mode"]:
            fixed |= {s["time_attr"]} | ({s["time_exten"]} if s["time_mode"] == 1 else set())
        clash = [e.name for e in self.db_extra if e.name in fixed]
        if clash:
            raise ValueError(f"db_extra column(s) {', '.join(clash)} clash with acc's own columns")
        for key in ("db_table_acc", "db_table_missed_calls"):
            self.tables.setdefault(key, _table_format(s[key]))
        if s["db_url"]:
            self.db = AccDb(sqlite_path(s["db_url"]), columns, time_mode=s["time_mode"],
                            time_attr=s["time_attr"], time_exten=s["time_exten"],
                            time_format=s["time_format"],
                            extras=tuple(e.name for e in self.db_extra),
                            nullable=bool(s["acc_extra_nullable"]))
            for key in ("db_table_acc", "db_table_missed_calls"):
                fixed_name = self.tables[key].constant
                if fixed_name is not None:
                    self.db.ensure_table(fixed_name)
        elif s["db_flag"] >= 0 or s["db_missed_flag"] >= 0:
            raise ValueError("db_flag/db_missed_flag set but no db_url")
        tm = self.engine.modules.get("tm")
        if tm is not None:
            tm.add_final_callback(self._on_final)
            tm.add_request_callback(self._on_request)
        elif any(s[f] >= 0 for f in ("log_flag", "log_missed_flag", "db_flag",
                                      "db_missed_flag")):
            raise ValueError('accounting flags need the tm module (loadmodule "tm.so")')
        if s["detect_direction"]:
            rr = self.engine.modules.get("rr")
            if rr is None:
                raise ValueError('detect_direction needs the rr module (loadmodule "rr.so")')
            if not rr.settings.get("append_fromtag"):
                log.warning("acc: detect_direction needs modparam(\"rr\", \"append_fromtag\", 1); "
                            "without it every request counts as downstream")

    def destroy(self) -> None:
        """Close the database."""
        if self.db is not None:
            self.db.close()
            self.db = None

    # --------------------------------------------------------------- flag tests

    def _flag(self, ctx: Context, key: str) -> bool:
        flag = self.settings[key]
        return flag >= 0 and ctx.is_flag_set(flag)

    def _acc_on(self, ctx: Context) -> bool:
        return self._flag(ctx, "log_flag") or self._flag(ctx, "db_flag")

    def _mc_on(self, ctx: Context) -> bool:
        return self._flag(ctx, "log_missed_flag") or self._flag(ctx, "db_missed_flag")

    def _should_account(self, ctx: Context, status: int) -> bool:
        if status >= 300:
            return self._flag(ctx, "failed_transaction_flag") and status not in self.failed_filter
        return status >= 200 and self._acc_on(ctx)

    def _upstream(self, ctx: Context) -> bool:
        if not self.settings["detect_direction"]:
            return False
        rr = self.engine.modules.get("rr")
        if rr is None or not rr.settings.get("append_fromtag") or not ctx.msg.is_request:
            return False
        return bool(rr.is_direction(ctx, "upstream") == 1)

    # ------------------------------------------------------------------ writing

    def _log(self, ctx: Context, text: str, record: Record) -> None:
        s = self.settings
        record = dataclasses.replace(record, extras=extra_values(self.log_extra, ctx))
        log.log(self.level, "%s", log_line(text, record, time_mode=s["time_mode"],
                                           time_attr=s["time_attr"],
                                           time_exten=s["time_exten"],
                                           time_format=s["time_format"]))

    def _store(self, ctx: Context, table: str, record: Record) -> int:
        if self.db is None:
            log.error("acc: no database (modparam(\"acc\", \"db_url\", ...) is not set)")
            return -1
        record = dataclasses.replace(record, extras=extra_values(self.db_extra, ctx))
        try:
            self.db.insert(table, record)
        except (sqlite3.Error, ValueError) as exc:
            log.error("acc: cannot write to table %r of %s: %s", table, self.db.path, exc)
            return -1
        return 1

    def _table(self, ctx: Context, key: str) -> str:
        return self.tables[key].render(ctx)

    # ---------------------------------------------------------------- tm hooks

    def _on_final(self, ctx: Context, status: int, reason: str, reply: SIPMessage | None) -> None:
        """tm: the transaction's final reply went upstream."""
        msg = ctx.msg
        method = msg.method
        if method == "CANCEL" and not self.settings["report_cancels"]:
            return
        ctx.extra["acc_final"] = (status, reason)
        missed = method == "INVITE" and status >= 300 and self._mc_on(ctx)
        answered = self._should_account(ctx, status)
        if not missed and not answered:
            return
        if reply is not None and self.settings["reason_from_hf"]:
            reason = reply.get_header("Reason") or reason
        local_tag = stateless_to_tag(msg) if reply is None else ""
        record = record_for(msg, reply, str(status), reason, swap=self._upstream(ctx),
                            local_to_tag=local_tag)
        if missed:
            if self._flag(ctx, "log_missed_flag"):
                self._log(ctx, MISSED, record)
            if self._flag(ctx, "db_missed_flag"):
                self._store(ctx, self._table(ctx, "db_table_missed_calls"), record)
            # Kamailio reports a missed call once: the flags are cleared after it.
            for key in ("log_missed_flag", "db_missed_flag"):
                if self.settings[key] >= 0:
                    ctx.reset_flag(self.settings[key])
        if answered:
            if self._flag(ctx, "log_flag"):
                self._log(ctx, ANSWERED, record)
            if self._flag(ctx, "db_flag"):
                self._store(ctx, self._table(ctx, "db_table_acc"), record)

    def _on_request(self, ctx: Context, kind: str) -> None:
        """tm: an ACK of a 2xx was relayed (report_ack), or a CANCEL matched."""
        if kind != "ack" or not self.settings["report_ack"]:
            return
        invite = ctx.extra.get("tm_invite")
        flags_ctx = invite.ctx if invite is not None else ctx
        if not self._acc_on(flags_ctx):
            return
        status, _reason = flags_ctx.extra.get("acc_final", (200, "OK"))
        record = record_for(ctx.msg, None, str(status), REASONS.get(status, ""),
                            swap=self._upstream(ctx))
        if self._flag(flags_ctx, "log_flag"):
            self._log(ctx, ACKED, record)
        if self._flag(flags_ctx, "db_flag"):
            self._store(ctx, self._table(flags_ctx, "db_table_acc"), record)

    # ---------------------------------------------------------------- functions

    def _request_record(self, ctx: Context, comment: str) -> Record:
        code, reason = split_comment(comment)
        return record_for(ctx.msg, None, code, reason, swap=self._upstream(ctx))

    @export("acc_log_request", ("comment", K.SPVE))
    def acc_log_request(self, ctx: Context, comment: str) -> int:
        """Log a record of this request now ("NNN text" comments set code and reason)."""
        self._log(ctx, REQUEST, self._request_record(ctx, comment))
        return 1

    @export("acc_db_request", ("comment", K.SPVE), ("table", K.SPVE))
    def acc_db_request(self, ctx: Context, comment: str, table: str) -> int:
        """Store a record of this request in ``table`` of db_url now; -1 when it fails."""
        if not table:
            log.error("acc: acc_db_request() needs a table name")
            return -1
        return self._store(ctx, table, self._request_record(ctx, comment))

    @export("acc_request", ("comment", K.SPVE), ("table", K.SPVE))
    def acc_request(self, ctx: Context, comment: str, table: str) -> int:
        """acc_log_request, then acc_db_request into ``table`` when db_url is set."""
        record = self._request_record(ctx, comment)
        self._log(ctx, REQUEST, record)
        if self.db is None:
            return 1
        return self._store(ctx, table, record)


def _parse_filter(text: str) -> frozenset[int]:
    codes: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 300 <= int(part) <= 999:
            raise ValueError(f"failed_filter: {part!r} is not a code from 300 to 999")
        codes.add(int(part))
    return frozenset(codes)


def _table_format(text: str) -> Format:
    fmt = compile_format(text)
    if fmt.constant is not None:
        identifier(fmt.constant, "acc table")
    return fmt
