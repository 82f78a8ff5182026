"""Top-level cfg statements: global parameters, loadmodule and modparam.

Global parameters that mean something in ksrpy change the CoreConfig; the
ones that do not (process counts, memory tuning ...) are accepted and named
in one warning; an unknown one is an error, as in Kamailio.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...core.config import CoreConfig
from . import ast
from .parser import decode_string

log = logging.getLogger("ksrpy.cfg")

#: Modules accepted by loadmodule that need no ksrpy counterpart: their job is done by
#: ksrpy's core (pv, kex, corex basics), or they serve Kamailio's own control and
#: database plumbing. A script calling one of their functions still gets a load error.
NOOP_MODULES = frozenset({
    "ctl", "jsonrpcs", "cfg_rpc", "counters", "kex", "pv", "mi_fifo", "mi_rpc",
    "db_mysql", "db_postgres", "db_sqlite", "db_text", "db_redis", "xhttp_rpc",
})

#: Kamailio's KEMI interpreter modules -> the cfgengine name each one provides.
KEMI_APP_MODULES = {
    "app_python3": "python", "app_python": "python", "app_lua": "lua", "app_jsdt": "jsdt",
    "app_ruby": "ruby", "app_sqlang": "sqlang",
}

#: cfgengine names whose routing logic ksrpy runs: the cfg's own blocks, or a Python KSR script.
NATIVE_ENGINES = frozenset({"native", "kemi"})
PYTHON_ENGINES = frozenset({"python", "python3"})

#: app_python(3) parameters: the script path and the names of its init hooks.
PYTHON_APP_PARAMS = {
    "load": "/usr/local/etc/kamailio/handler.py", "script_name": None,
    "mod_init_function": "mod_init", "child_init_method": "child_init",
}

#: Parameters applied to CoreConfig: name -> (attribute, converter).
EFFECTIVE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "debug": ("debug", int),
    "log_stderror": ("log_stderror", bool),
    "log_prefix": ("log_prefix", str),
    "server_header": ("server_header", str),
    "server_signature": ("server_signature", bool),
    "user_agent_header": ("user_agent_header", str),
    "sip_warning": ("sip_warning", bool),
    "tcp_connection_lifetime": ("tcp_connection_lifetime", float),
    "tcp_max_connections": ("tcp_max_connections", int),
    "tcp_connect_timeout": ("tcp_connect_timeout", float),
    "max_while_loops": ("max_while_loops", int),
}

#: Kamailio core parameters accepted without effect in ksrpy.
ACCEPTED = frozenset({
    "children", "tcp_children", "sctp_children", "log_facility", "log_name", "memdbg",
    "memlog", "mpath", "loadpath", "fork", "dns", "rev_dns", "dns_try_ipv6", "dns_cache_init",
    "use_dns_cache", "use_dns_failover", "dns_srv_lb", "enable_sctp", "enable_tls",
    "tls_max_connections", "tcp_accept_no_cl", "latency_cfg_log", "latency_log",
    "latency_limit_action", "latency_limit_db", "mlock_pages", "shm_force_alloc",
    "user", "group", "uid", "gid", "chroot", "workdir", "wdir", "mhomed", "onsend_route_reply",
    "tcp_async", "tcp_keepalive", "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl",
    "tcp_rd_buf_size", "tcp_wq_blk_size", "tcp_conn_wq_max", "tcp_wq_max", "tcp_send_timeout",
    "tcp_defer_accept", "tcp_delayed_ack", "tcp_syncnt", "tcp_linger2", "tcp_fd_cache",
    "tcp_reuse_port", "tcp_source_ipv4", "tcp_source_ipv6", "maxbuffer", "sql_buffer_size",
    "pv_buffer_size", "pv_buffer_slots", "corelog", "log_color", "log_cee", "log_engine_type",
    "log_engine_data", "async_workers", "async_nonblock", "async_usleep", "stats_name_separator",
    "http_reply_parse", "reply_to_via", "force_rport", "kemi.onsend_route_callback",
    "kemi.reply_route_callback", "kemi.event_route_callback", "auto_bind_ipv6",
    "ipv6_hex_style", "max_recursive_level", "shm_mem_size", "pkg_mem_size", "mem_join",
    "mem_safety", "mem_summary", "xavp_via_params", "xavp_via_fields", "udp_mtu",
    "udp_mtu_try_proto", "dst_blocklist_init", "use_dst_blocklist", "dst_blocklist_expire",
    "sip_parser_log", "sip_parser_log_oneline", "listen_child_id", "server_id", "statistics",
    "auto_aliases", "open_files_limit", "version_table", "phone2tel", "enable_tcp",
})


@dataclass
class CfgSettings:
    """What the top level of a cfg asks for."""

    listen: list[str] = field(default_factory=list)
    alias: list[str] = field(default_factory=list)
    port: int | None = None
    disable_tcp: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    modules: list[tuple[str, ast.Pos]] = field(default_factory=list)
    modparams: list[ast.ModParam] = field(default_factory=list)
    engine_name: str = "native"
    engine_pos: ast.Pos = (0, 0)

    def apply(self, config: CoreConfig) -> None:
        """Write the effective parameters into ``config`` (listen entries included)."""
        for name, value in self.values.items():
            attr, _convert = EFFECTIVE[name]
            setattr(config, attr, value)
        listens = list(self.listen)
        if self.port is not None:
            listens = [_with_default_port(item, self.port) for item in listens]
        if self.disable_tcp:
            listens = [item for item in listens if not item.lower().startswith("tcp:")]
        config.listen = listens
        config.alias = list(self.alias)
        config.disable_tcp = self.disable_tcp

    def warn_ignored(self) -> None:
        """One warning naming every accepted-but-ignored parameter."""
        if self.ignored:
            log.warning("global parameters accepted but without effect in ksrpy: %s",
                        ", ".join(sorted(set(self.ignored))))


def _with_default_port(item: str, port: int) -> str:
    """'udp:1.2.3.4' -> 'udp:1.2.3.4:PORT' when no port is given (Kamailio's port=)."""
    head = item.split()[0]
    tail = item[len(head):]
    body = head.split(":", 1)[1] if head.lower().startswith(("udp:", "tcp:")) else head
    has_port = bool(re.search(r"(\]|^[^\[\]:]*):\d+$", body)) or (
        body.count(":") == 1 and not body.startswith("["))
    return item if has_port else f"{head}:{port}{tail}"


_BOOL = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


_QUOTED = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')')


def parse_value(raw: str) -> Any:
    """A global parameter value: quoted string(s), number, yes/no, or the raw text."""
    text = raw.strip().rstrip(";").strip()
    if text.startswith(('"', "'")):
        parts, pos = [], 0
        while (m := _QUOTED.match(text, pos)) is not None:
            parts.append(decode_string(m.group(1)))
            pos = m.end()
        return "".join(parts)
    lowered = text.lower()
    if lowered in _BOOL:
        return _BOOL[lowered]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def collect(script: ast.Script, error: Callable[[ast.Pos, str], None]) -> CfgSettings:
    """Read the top-level items of ``script`` into CfgSettings, reporting bad ones."""
    settings = CfgSettings()
    for item in script.items:
        if isinstance(item, ast.LoadModule):
            name = item.name.rsplit("/", 1)[-1].removesuffix(".so")
            settings.modules.append((name, item.pos))
        elif isinstance(item, ast.ModParam):
            settings.modparams.append(item)
        elif isinstance(item, ast.CfgEngine):
            settings.engine_name, settings.engine_pos = item.name, item.pos
            _engine(item, error)
        elif isinstance(item, ast.GlobalParam):
            _global(settings, item, error)
    return settings


def _engine(item: ast.CfgEngine, error: Callable[[ast.Pos, str], None]) -> None:
    """Report a cfgengine ksrpy cannot run (Python KSR scripts and native cfg are fine)."""
    name = item.name
    if name in NATIVE_ENGINES or name in PYTHON_ENGINES:
        return
    if name == "lua":
        error(item.pos, 'cfgengine "lua" is not supported: translate the Lua script to a '
                        "Python KSR script with `ksrpy port lua SCRIPT.lua -o SCRIPT.py` and "
                        'load that with modparam("app_python3", "load", ...) and '
                        'cfgengine "python" (or run it with ksrpy run -f SCRIPT.py)')
        return
    error(item.pos, f'cfgengine "{name}" is not supported: ksrpy runs native cfg routing '
                    'and Python KSR scripts (cfgengine "python" with app_python3, or '
                    "ksrpy run -f script.py)")


def _global(settings: CfgSettings, item: ast.GlobalParam,
            error: Callable[[ast.Pos, str], None]) -> None:
    name, raw = item.name, item.value
    if "." in name:
        # Custom cfg variable: group.var = value [desc "text"] (read with $sel, cfg.* RPCs).
        settings.custom[name] = parse_value(raw.split(" desc ")[0])
        return
    value = parse_value(raw)
    if name == "listen":
        settings.listen.append(value if isinstance(value, str) else str(value))
    elif name == "alias":
        settings.alias.append(str(value))
    elif name == "port":
        if not isinstance(value, int) or not 0 < value < 65536:
            error(item.pos, f"port must be a number from 1 to 65535, got {raw!r}")
        else:
            settings.port = value
    elif name == "disable_tcp":
        settings.disable_tcp = bool(value)
    elif name in EFFECTIVE:
        _attr, convert = EFFECTIVE[name]
        try:
            if convert is bool and not isinstance(value, bool):
                if not isinstance(value, int):
                    raise ValueError(raw)
                value = bool(value)
            settings.values[name] = convert(value)
        except (TypeError, ValueError):
            error(item.pos, f"invalid value {raw!r} for global parameter {name}")
    elif name in ACCEPTED:
        settings.ignored.append(name)
    else:
        error(item.pos, f"unknown global parameter {name!r}")
