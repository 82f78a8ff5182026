"""htable's cfg functions and KSR.htable exports, with Kamailio 5.6's return codes.

Codes were checked against Kamailio 5.6.3 (cfg and app_python3): a missing
table gives -1 (``sht_lock`` in cfg: -11; ``sht_rm_*_re``: 1); the KEMI
``sht_inc``/``sht_dec`` give -255 when nothing could be added; the KEMI
``sht_reset`` gives 0 on success (1 in cfg); ``sht_is_null`` gives 1 when
absent, -1 when set, 2 without the table.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ...core.ratelog import RateLimitedLog
from ...script.pv import PVError
from ..exports import ArgKind as K
from ..exports import Returns, export
from .match import string_test
from .pv import KeyOf, parse_key

if TYPE_CHECKING:
    from ...core.context import Context
    from .iterators import Iterators
    from .table import Table

log = logging.getLogger("ksrpy.htable")
#: Script mistakes repeat per message: log each kind at most every 10 s.
badlog = RateLimitedLog(log, interval=10.0)

#: What KSR.htable.sht_inc/sht_dec return when nothing can be added (Kamailio's -255).
KEMI_NOT_FOUND = -255


@lru_cache(maxsize=256)
def _key_spec(text: str) -> tuple[str, KeyOf]:
    """A cfg ``"table=>key"`` argument, parsed once per text."""
    return parse_key(text)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class HtableFunctions:
    """The exported functions; mixed into HtableModule."""

    iterators: Iterators

    def table_for(self, name: str) -> Table | None:  # pragma: no cover - see HtableModule
        """The table called ``name`` (None when undefined)."""
        raise NotImplementedError

    def _table(self, name: Any, what: str) -> Table | None:
        table = self.table_for(str(name))
        if table is None:
            badlog.error((what, name), "%s: no htable named %r", what, name)
        return table

    def _spec_table(self, spec: str, ctx: Context, what: str) -> tuple[Table | None, str]:
        try:
            name, key_of = _key_spec(spec)
        except PVError as exc:
            badlog.error((what, spec), "%s(%r): %s", what, spec, exc)
            return None, ""
        return self.table_for(name), key_of(ctx)

    # ------------------------------------------------------------ KEMI get/set

    def _get(self, htname: str, itname: str, null: Any) -> Any:
        table = self._table(htname, "sht_get")
        if table is None:
            return null
        value = table.get(str(itname))
        return null if value is None else value

    @export("sht_get", ("htname", K.STR), ("itname", K.STR), returns=Returns.XVAL, cfg=False)
    def ki_sht_get(self, ctx: Context, htname: str, itname: str) -> Any:
        """The item's value (initval, else None, when absent)."""
        return self._get(htname, itname, None)

    @export("sht_gete", ("htname", K.STR), ("itname", K.STR), returns=Returns.XVAL, cfg=False)
    def ki_sht_gete(self, ctx: Context, htname: str, itname: str) -> Any:
        """The item's value, "" when absent."""
        return self._get(htname, itname, "")

    @export("sht_getw", ("htname", K.STR), ("itname", K.STR), returns=Returns.XVAL, cfg=False)
    def ki_sht_getw(self, ctx: Context, htname: str, itname: str) -> Any:
        """The item's value, "<null>" when absent."""
        return self._get(htname, itname, "<null>")

    @export("sht_sets", ("htname", K.STR), ("itname", K.STR), ("itval", K.STR), cfg=False)
    def ki_sht_sets(self, ctx: Context, htname: str, itname: str, itval: str) -> int:
        """Set the item to a string value."""
        table = self._table(htname, "sht_sets")
        if table is None:
            return -1
        table.set(str(itname), str(itval))
        return 1

    @export("sht_seti", ("htname", K.STR), ("itname", K.STR), ("itval", K.INT), cfg=False)
    def ki_sht_seti(self, ctx: Context, htname: str, itname: str, itval: int) -> int:
        """Set the item to an integer value."""
        table = self._table(htname, "sht_seti")
        if table is None:
            return -1
        table.set(str(itname), _int(itval))
        return 1

    @export("sht_setex", ("htname", K.STR), ("itname", K.STR), ("itval", K.INT), cfg=False)
    def ki_sht_setex(self, ctx: Context, htname: str, itname: str, itval: int) -> int:
        """Set the item's expiry to ``itval`` seconds from now (tables with autoexpire)."""
        table = self._table(htname, "sht_setex")
        if table is None:
            return -1
        table.set_expire(str(itname), _int(itval))
        return 1

    @export("sht_is_null", ("htname", K.STR), ("itname", K.STR), cfg=False)
    def ki_sht_is_null(self, ctx: Context, htname: str, itname: str) -> int:
        """1 when the item is absent, -1 when set, 2 when the table does not exist."""
        table = self.table_for(str(htname))
        if table is None:
            return 2
        return 1 if table.lookup(str(itname)) is None else -1

    @export("sht_inc", ("htname", K.STR), ("itname", K.STR), cfg=False)
    def ki_sht_inc(self, ctx: Context, htname: str, itname: str) -> int:
        """Add 1 to an integer item; the new value, -255 when it cannot."""
        table = self._table(htname, "sht_inc")
        value = None if table is None else table.add(str(itname), 1)
        return KEMI_NOT_FOUND if value is None else value

    @export("sht_dec", ("htname", K.STR), ("itname", K.STR), cfg=False)
    def ki_sht_dec(self, ctx: Context, htname: str, itname: str) -> int:
        """Subtract 1 from an integer item; the new value, -255 when it cannot."""
        table = self._table(htname, "sht_dec")
        value = None if table is None else table.add(str(itname), -1)
        return KEMI_NOT_FOUND if value is None else value

    # --------------------------------------------------------- cfg and KEMI

    @export("sht_rm", ("htname", K.SPVE), ("itname", K.SPVE))
    def sht_rm(self, ctx: Context, htname: str, itname: str) -> int:
        """Delete an item (as assigning $null); 1 even when it was absent."""
        table = self._table(htname, "sht_rm")
        if table is None:
            return -1
        table.delete(str(itname))
        return 1

    @export("sht_setxs", ("htname", K.SPVE), ("itname", K.SPVE), ("itval", K.SPVE),
            ("exval", K.IGP))
    def sht_setxs(self, ctx: Context, htname: str, itname: str, itval: str, exval: int) -> int:
        """Set a string value and its expiry in seconds (tables with autoexpire)."""
        table = self._table(htname, "sht_setxs")
        if table is None:
            return -1
        table.set(str(itname), str(itval), _int(exval))
        return 1

    @export("sht_setxi", ("htname", K.SPVE), ("itname", K.SPVE), ("itval", K.IGP),
            ("exval", K.IGP))
    def sht_setxi(self, ctx: Context, htname: str, itname: str, itval: int, exval: int) -> int:
        """Set an integer value and its expiry in seconds (tables with autoexpire)."""
        table = self._table(htname, "sht_setxi")
        if table is None:
            return -1
        table.set(str(itname), _int(itval), _int(exval))
        return 1

    def _rm_items(self, htname: str, op: str, val: str, by_value: bool) -> int:
        table = self._table(htname, "sht_rm_value" if by_value else "sht_rm_name")
        if table is None or not op or not val:
            return -1
        if op not in ("re", "sw"):
            badlog.warning(("sht_rm_op", op), "sht_rm_*: unsupported match operator %r "
                           "(re, sw)", op)
            return -1
        try:
            table.remove_where(string_test(op, str(val)), by_value)
        except ValueError as exc:
            badlog.error(("sht_rm", val), "sht_rm_*: %s", exc)
            return -1
        return 1

    @export("sht_rm_name", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE))
    def sht_rm_name(self, ctx: Context, sname: str, sop: str, sval: str) -> int:
        """Delete the items whose name matches: op ``re`` (regex) or ``sw`` (starts with)."""
        return self._rm_items(sname, sop, sval, False)

    @export("sht_rm_value", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE))
    def sht_rm_value(self, ctx: Context, sname: str, sop: str, sval: str) -> int:
        """Delete the items whose string value matches: op ``re`` or ``sw``."""
        return self._rm_items(sname, sop, sval, True)

    def _match(self, sname: str, sop: str, sval: str, by_value: bool) -> int:
        table = self._table(sname, "sht_match_*")
        if table is None or not sop or not sval:
            return -1
        try:
            return 1 if table.any_match(string_test(str(sop), str(sval)), by_value) else -1
        except ValueError as exc:
            badlog.error(("sht_match", sop, sval), "sht_match_*: %s", exc)
            return -1

    @export("sht_match_name", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE),
            aliases=("sht_has_name",))
    @export("sht_has_name", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE), cfg=False)
    def sht_match_name(self, ctx: Context, sname: str, sop: str, sval: str) -> int:
        """1 when an item's name matches: op ``eq``, ``ne``, ``re`` or ``sw``."""
        return self._match(sname, sop, sval, False)

    @export("sht_match_str_value", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE),
            aliases=("sht_has_str_value",))
    @export("sht_has_str_value", ("sname", K.SPVE), ("sop", K.SPVE), ("sval", K.SPVE),
            cfg=False)
    def sht_match_str_value(self, ctx: Context, sname: str, sop: str, sval: str) -> int:
        """1 when an item's string value matches: op ``eq``, ``ne``, ``re`` or ``sw``."""
        return self._match(sname, sop, sval, True)

    # ------------------------------------------------ cfg "t=>x" vs KEMI (t, x)

    def _rm_re(self, table: Table | None, pattern: str, by_value: bool) -> int:
        if table is None:
            return 1  # Kamailio: nothing to remove
        try:
            table.remove_re(pattern, by_value)
        except ValueError as exc:
            badlog.error(("sht_rm_re", pattern), "sht_rm_*_re: %s", exc)
            return -1
        return 1

    @export("sht_rm_name_re", ("htable_regexp", K.STR), kemi=None)
    def sht_rm_name_re(self, ctx: Context, htable_regexp: str) -> int:
        """sht_rm_name_re("table=>regexp"): delete the items whose name matches."""
        table, pattern = self._spec_table(htable_regexp, ctx, "sht_rm_name_re")
        return self._rm_re(table, pattern, False)

    @export("sht_rm_value_re", ("htable_regexp", K.STR), kemi=None)
    def sht_rm_value_re(self, ctx: Context, htable_regexp: str) -> int:
        """sht_rm_value_re("table=>regexp"): delete the items whose string value matches."""
        table, pattern = self._spec_table(htable_regexp, ctx, "sht_rm_value_re")
        return self._rm_re(table, pattern, True)

    @export("sht_rm_name_re", ("htname", K.STR), ("rexp", K.STR), cfg=False)
    def ki_sht_rm_name_re(self, ctx: Context, htname: str, rexp: str) -> int:
        """Delete the items whose name matches the regex."""
        return self._rm_re(self.table_for(str(htname)), str(rexp), False)

    @export("sht_rm_value_re", ("htname", K.STR), ("rexp", K.STR), cfg=False)
    def ki_sht_rm_value_re(self, ctx: Context, htname: str, rexp: str) -> int:
        """Delete the items whose string value matches the regex."""
        return self._rm_re(self.table_for(str(htname)), str(rexp), True)

    @export("sht_lock", ("htable_key", K.STR), kemi=None)
    def sht_lock(self, ctx: Context, htable_key: str) -> int:
        """sht_lock("table=>key"): 1 (one event loop runs all routes: nothing to lock)."""
        table, _key = self._spec_table(htable_key, ctx, "sht_lock")
        return -11 if table is None else 1

    @export("sht_unlock", ("htable_key", K.STR), kemi=None)
    def sht_unlock(self, ctx: Context, htable_key: str) -> int:
        """sht_unlock("table=>key"): 1 (see sht_lock)."""
        table, _key = self._spec_table(htable_key, ctx, "sht_unlock")
        return -11 if table is None else 1

    @export("sht_lock", ("htname", K.STR), ("skey", K.STR), cfg=False)
    def ki_sht_lock(self, ctx: Context, htname: str, skey: str) -> int:
        """1 when the table exists (nothing to lock in ksrpy), else -1."""
        return -1 if self._table(htname, "sht_lock") is None else 1

    @export("sht_unlock", ("htname", K.STR), ("skey", K.STR), cfg=False)
    def ki_sht_unlock(self, ctx: Context, htname: str, skey: str) -> int:
        """1 when the table exists, else -1."""
        return -1 if self._table(htname, "sht_unlock") is None else 1

    @export("sht_reset", ("htname", K.SPVE), kemi=None)
    def sht_reset(self, ctx: Context, htname: str) -> int:
        """Delete every item of the table."""
        table = self._table(htname, "sht_reset")
        if table is None:
            return -1
        table.reset()
        return 1

    @export("sht_reset", ("hname", K.STR), cfg=False)
    def ki_sht_reset(self, ctx: Context, hname: str) -> int:
        """Delete every item of the table: 0 (Kamailio's KEMI code), -1 without the table."""
        return -1 if self.sht_reset(ctx, hname) < 0 else 0

    # -------------------------------------------------------------- iterators

    @export("sht_iterator_start", ("iname", K.SPVE), ("hname", K.SPVE))
    def sht_iterator_start(self, ctx: Context, iname: str, hname: str) -> int:
        """Start (or restart) iterator ``iname`` on table ``hname``; at most 4 iterators."""
        if not iname or not hname or self._table(hname, "sht_iterator_start") is None:
            return -1
        if not self.iterators.start(str(iname), str(hname)):
            badlog.error(("it_start", iname), "sht_iterator_start: no iterator available for "
                         "%r (max 4, names under 32 characters)", iname)
            return -1
        return 1

    def _iterator(self, iname: str) -> tuple[Any, Table | None]:
        it = self.iterators.get(str(iname))
        if it is None:
            badlog.error(("it", iname), "htable iterator %r not found", iname)
            return None, None
        return it, self.table_for(it.table)

    @export("sht_iterator_next", ("iname", K.SPVE))
    def sht_iterator_next(self, ctx: Context, iname: str) -> int:
        """Move to the next item ($shtitkey/$shtitval); -1 at the end."""
        it, table = self._iterator(iname)
        if it is None or table is None:
            return -1
        return 1 if it.advance(table) else -1

    @export("sht_iterator_end", ("iname", K.SPVE))
    def sht_iterator_end(self, ctx: Context, iname: str) -> int:
        """Close the iterator."""
        if self.iterators.pop(str(iname), None) is None:
            badlog.error(("it", iname), "htable iterator %r not found", iname)
            return -1
        return 1

    @export("sht_iterator_rm", ("iname", K.SPVE))
    def sht_iterator_rm(self, ctx: Context, iname: str) -> int:
        """Delete the current item and move on: 1, or -2 when no item follows."""
        it, table = self._iterator(iname)
        if it is None or table is None or it.current is None:
            return -1
        table.delete(it.current[0])
        return 1 if it.advance(table) else -2

    def _it_update(self, iname: str, value: Any = None, expire: int | None = None) -> int:
        it, table = self._iterator(iname)
        if it is None or table is None or it.current is None:
            return -1
        key = it.current[0]
        if expire is not None:
            table.set_expire(key, expire)
        else:
            table.set(key, value)
            it.current = (key, table.items[key])
        return 1

    @export("sht_iterator_sets", ("iname", K.SPVE), ("sval", K.SPVE))
    def sht_iterator_sets(self, ctx: Context, iname: str, sval: str) -> int:
        """Set the current item to a string value."""
        return self._it_update(iname, str(sval))

    @export("sht_iterator_seti", ("iname", K.SPVE), ("ival", K.IGP))
    def sht_iterator_seti(self, ctx: Context, iname: str, ival: int) -> int:
        """Set the current item to an integer value."""
        return self._it_update(iname, _int(ival))

    @export("sht_iterator_setex", ("iname", K.SPVE), ("exval", K.IGP))
    def sht_iterator_setex(self, ctx: Context, iname: str, exval: int) -> int:
        """Set the current item's expiry in seconds."""
        return self._it_update(iname, expire=_int(exval))
