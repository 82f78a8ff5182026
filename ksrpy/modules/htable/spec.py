"""Table definitions: ``modparam("htable", "htable", "name=>size=8;autoexpire=300;")``.

Parsed as Kamailio 5.6's ``ht_table_spec``: the name runs up to ``=`` or a
blank, then ``=>`` and ``attr=value`` pairs separated by ``;`` (blanks around
names and values ignored, values may be quoted). Numbers are unsigned decimal
(``initval`` may be negative); an unknown attribute or a bad number is an error
naming the bad part. ``size`` gives 2^size hash slots as in Kamailio (size <= 1
gives 8, size > 31 gives 16384). ksrpy adds ``max_items=N``: the most items the
table holds before it evicts (default derived from the slots, see ``max_items_for``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Items allowed per hash slot when no max_items is given, and the bounds of that default.
ITEMS_PER_SLOT = 256
MIN_DEFAULT_ITEMS = 65_536
MAX_DEFAULT_ITEMS = 4_194_304

_INT_ATTRS = ("size", "autoexpire", "dbmode", "updateexpire", "dmqreplicate", "max_items")


@dataclass(frozen=True)
class TableSpec:
    """One parsed table definition (``text`` is the definition as written)."""

    name: str
    text: str = ""
    size: int = 4
    autoexpire: int = 0
    initval: int | None = None
    updateexpire: int = 1
    dbtable: str = ""
    dbmode: int = 1  # ksrpy: write-through unless dbmode=0 (Kamailio's default is 0)
    dmqreplicate: int = 0
    max_items: int = 0

    @property
    def slots(self) -> int:
        """Number of hash slots, as Kamailio's ht_add_table computes it."""
        if self.size <= 1:
            return 8
        if self.size > 31:
            return 1 << 14
        return 1 << self.size


def max_items_for(spec: TableSpec, module_default: int = 0) -> int:
    """The item bound: the table's max_items, else the module's, else slots x 256 (bounded)."""
    if spec.max_items > 0:
        return spec.max_items
    if module_default > 0:
        return module_default
    return min(max(spec.slots * ITEMS_PER_SLOT, MIN_DEFAULT_ITEMS), MAX_DEFAULT_ITEMS)


def _blank(c: str) -> bool:
    return c in " \t\r\n"


def _uint(name: str, value: str, text: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"htable definition {text!r}: {name}={value!r} is not an unsigned "
                         "integer")
    number = int(value)
    if number > 0xFFFFFFFF:
        raise ValueError(f"htable definition {text!r}: {name}={value} is too large")
    return number


def _split_name(text: str) -> tuple[str, str]:
    """``name=>rest`` as Kamailio's keyvalue_parse_str reads it."""
    i, n = 0, len(text)
    while i < n and _blank(text[i]):
        i += 1
    start = i
    while i < n and text[i] != "=" and not _blank(text[i]):
        i += 1
    name = text[start:i]
    while i < n and _blank(text[i]):
        i += 1
    if not name or not text.startswith("=>", i):
        raise ValueError(f"htable definition {text!r} must look like "
                         "'name=>size=8;autoexpire=300;' (missing the name or '=>')")
    return name, text[i + 2:]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_definition(text: str) -> TableSpec:
    """Parse one definition; ValueError naming the bad part when it is malformed."""
    name, rest = _split_name(text)
    values: dict[str, object] = {}
    for part in rest.split(";"):
        if not part.strip():
            continue
        attr, eq, raw = part.partition("=")
        attr, value = attr.strip(), _unquote(raw.strip())
        if not eq:
            raise ValueError(f"htable definition {text!r}: {attr!r} needs a value "
                             f"({attr}=...)")
        if attr in _INT_ATTRS:
            values[attr] = _uint(attr, value, text)
        elif attr == "initval":
            if not value.lstrip("-").isdigit() or not value.isascii():
                raise ValueError(f"htable definition {text!r}: initval={value!r} is not "
                                 "an integer")
            values["initval"] = int(value)
        elif attr == "dbtable":
            values["dbtable"] = value
        elif attr in ("coldelim", "colnull"):
            if len(value) > 1:
                raise ValueError(f"htable definition {text!r}: {attr} must be one character")
        elif attr == "cols":
            raise ValueError(f"htable definition {text!r}: cols= (custom DB columns) is not "
                             "supported: ksrpy stores keep their own format")
        else:
            raise ValueError(f"htable definition {text!r}: unknown attribute {attr!r} "
                             "(size, autoexpire, initval, updateexpire, dbtable, dbmode, "
                             "dmqreplicate, max_items)")
    return TableSpec(name=name, text=text.strip(), **values)  # type: ignore[arg-type]
