"""Generate docs/modules.md, the scripting reference, from the modules' export tables.

Run ``python -m ksrpy.docgen > docs/modules.md``; a test checks it is current.
"""

from __future__ import annotations

from .modules import AVAILABLE, load_module_class
from .modules.exports import ANY_ROUTE, FunctionExport, RouteType


def _routes(flags: RouteType) -> str:
    if flags == ANY_ROUTE:
        return "any"
    flags = RouteType(flags)
    names = [f.name.lower() for f in RouteType if f in flags and f.name]
    return ", ".join(names)


def _cfg_sig(fexp: FunctionExport) -> str:
    args = ", ".join(f"[{a.name}]" if a.optional else a.name for a in fexp.args)
    return f"`{fexp.name}({args})`"


def _kemi_sig(namespace: str, fexp: FunctionExport) -> str:
    if fexp.kemi is None:
        return "—"
    prefix = f"KSR.{namespace}." if namespace else "KSR."
    args = ", ".join(a.name for a in fexp.args)
    return f"`{prefix}{fexp.kemi}({args})` → {fexp.returns.value}"


def render() -> str:
    """The whole reference as Markdown."""
    out = [
        "# Module reference",
        "",
        "Generated from the export tables by `python -m ksrpy.docgen`; do not edit by hand.",
        "Return codes follow Kamailio: a positive int is true, a negative int is false, 0 stops",
        "the script. KEMI functions marked `bool` return True/False to Python.",
        "",
    ]
    for name in sorted(AVAILABLE):
        cls = load_module_class(name)
        table = cls.export_table()
        namespace = cls.kemi_namespace
        out += [f"## {name}", "", table.doc, ""]
        if table.params:
            out += ["| parameter | type | default | meaning |", "|---|---|---|---|"]
            for p in table.params.values():
                out.append(f"| `{p.name}` | {p.type.__name__} | `{p.default!r}` | {p.doc} |")
            out.append("")
        seen: set[int] = set()
        rows = []
        for fexp in [*table.functions.values(), *table.kemi.values()]:
            if id(fexp) in seen:
                continue
            seen.add(id(fexp))
            cfg = _cfg_sig(fexp) if fexp.cfg else "—"
            if fexp.aliases:
                cfg += " (also " + ", ".join(f"`{a}`" for a in fexp.aliases) + ")"
            kemi = _kemi_sig(namespace, fexp) if namespace is not None else "—"
            doc = fexp.doc.splitlines()[0] if fexp.doc else ""
            rows.append(f"| {cfg} | {kemi} | {_routes(fexp.routes)} | {doc} |")
        if rows:
            out += ["| cfg | KSR | routes | what it does |", "|---|---|---|---|", *rows, ""]
        if table.rpcs:
            out += ["RPC commands: " + ", ".join(f"`{r}`" for r in sorted(table.rpcs)), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
