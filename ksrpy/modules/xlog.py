"""xlog: log lines with pseudo-variables expanded (``xlog("L_INFO", "from $si\\n")``)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from .exports import ArgKind as K
from .exports import Module, ParamExport, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context
    from ..script.pvformat import Format

script_log = logging.getLogger("ksrpy.script")
NOTICE = 25

#: Kamailio level names -> Python logging levels.
LEVELS: dict[str, int] = {
    "L_ALERT": logging.CRITICAL, "L_BUG": logging.CRITICAL, "L_CRIT2": logging.CRITICAL,
    "L_CRIT": logging.CRITICAL, "L_ERR": logging.ERROR, "L_WARN": logging.WARNING,
    "L_NOTICE": NOTICE, "L_INFO": logging.INFO, "L_DBG": logging.DEBUG,
}
#: Kamailio numeric levels (-5 alert ... 3 debug).
NUMERIC: dict[int, int] = {-5: logging.CRITICAL, -4: logging.CRITICAL, -3: logging.CRITICAL,
                           -2: logging.CRITICAL, -1: logging.ERROR, 0: logging.WARNING,
                           1: NOTICE, 2: logging.INFO, 3: logging.DEBUG}


def level_of(text: str | int) -> int:
    """A level given as L_NAME or a number (ValueError names the bad level)."""
    if isinstance(text, int) or str(text).lstrip("-").isdigit():
        value = int(text)
        if value in NUMERIC:
            return NUMERIC[value]
    elif str(text).upper() in LEVELS:
        return LEVELS[str(text).upper()]
    raise ValueError(f"unknown log level {text!r} (use L_ALERT .. L_DBG)")


@lru_cache(maxsize=512)
def _format(text: str) -> Format:
    from ..script.pvformat import compile_format

    return compile_format(text)


class XlogModule(Module):
    """Formatted logging from routes; the text may hold pseudo-variables."""

    name = "xlog"
    kemi_namespace = "xlog"
    params = (
        ParamExport("prefix", str, "", "Text put before every xlog line."),
        ParamExport("buf_size", int, 4096, "Accepted for compatibility; lines are not cut."),
        ParamExport("force_color", int, 0, "Accepted for compatibility; no colours."),
        ParamExport("long_format", int, 0, "Accepted for compatibility."),
        ParamExport("log_facility", str, "", "Accepted for compatibility (logs go to stderr)."),
        ParamExport("log_colors", str, "", "Accepted for compatibility."),
        ParamExport("methods_filter", int, -1, "Accepted for compatibility."),
    )

    def _emit(self, level: int, text: str) -> int:
        script_log.log(level, "%s%s", self.settings["prefix"], text.rstrip("\n"))
        return 1

    # cfg forms: the compiler has already expanded the pseudo-variables.
    @export("xlog", ("level_or_text", K.SPVE), ("text", K.SPVE, True), kemi=None)
    def xlog(self, ctx: Context, level_or_text: str, text: str | None = None) -> int:
        """xlog([level,] text): log at ``level`` (default L_ERR)."""
        if text is None:
            return self._emit(logging.ERROR, level_or_text)
        return self._emit(level_of(level_or_text), text)

    def _fixed(level: int, name: str, label: str):  # type: ignore[no-untyped-def]  # noqa: N805
        def cfg_form(self: XlogModule, ctx: Context, text: str) -> int:
            return self._emit(level, text)

        def kemi_form(self: XlogModule, ctx: Context, text: str) -> int:
            return self._emit(level, _format(str(text)).render(ctx))

        cfg_form.__doc__ = f"Log ``text`` at {label} level."
        kemi_form.__doc__ = cfg_form.__doc__ + " Pseudo-variables in it are expanded."
        cfg_form.__name__ = f"{name}_cfg"
        kemi_form.__name__ = f"{name}_kemi"
        return (export(name, ("text", K.SPVE), kemi=None)(cfg_form),
                export(name, ("text", K.STR), kemi=name, cfg=False,
                       returns=Returns.INT)(kemi_form))

    xinfo_cfg, xinfo_kemi = _fixed(logging.INFO, "xinfo", "info")
    xnotice_cfg, xnotice_kemi = _fixed(NOTICE, "xnotice", "notice")
    xwarn_cfg, xwarn_kemi = _fixed(logging.WARNING, "xwarn", "warning")
    xerr_cfg, xerr_kemi = _fixed(logging.ERROR, "xerr", "error")
    xalert_cfg, xalert_kemi = _fixed(logging.CRITICAL, "xalert", "alert")
    xcrit_cfg, xcrit_kemi = _fixed(logging.CRITICAL, "xcrit", "critical")
    xbug_cfg, xbug_kemi = _fixed(logging.CRITICAL, "xbug", "bug (critical)")
    xdbg_cfg, xdbg_kemi = _fixed(logging.DEBUG, "xdbg", "debug")
    del _fixed

    @export("xlog", ("level", K.STR), ("text", K.STR), cfg=False, kemi="xlog")
    def xlog_kemi(self, ctx: Context, level: str, text: str) -> int:
        """KSR.xlog.xlog(level, text) with pseudo-variables expanded."""
        return self._emit(level_of(level), _format(str(text)).render(ctx))

    @export("xlogl", ("level_or_text", K.SPVE), ("text", K.SPVE, True), kemi=None)
    def xlogl(self, ctx: Context, level_or_text: str, text: str | None = None) -> int:
        """xlog with the cfg line number (logged like xlog)."""
        return self.xlog(ctx, level_or_text, text)
