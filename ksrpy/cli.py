"""The ``ksrpy`` command: run, check, rpc, port, version."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="ksrpy: a SIP edge proxy scripted like Kamailio.")


def _defines(values: list[str]) -> dict[str, str]:
    """-A NAME[=VALUE] pairs, as Kamailio's -A (a bare NAME is defined as '1')."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not name or not (name[0].isalpha() or name[0] == "_"):
            raise typer.BadParameter(f"-A {item!r}: expected NAME or NAME=VALUE")
        out[name] = value if sep else "1"
    return out


ScriptOpt = Annotated[
    str | None,
    typer.Option("-f", "--file", help="Routing script (.py KSR script). Default: shipped routes."),
]
ListenOpt = Annotated[
    list[str] | None,
    typer.Option("-l", "--listen",
                 help="Listen address, e.g. udp:127.0.0.1:5060 or tcp:[::1]:5070; repeatable. "
                      "Replaces the script's own listen entries."),
]
DefineOpt = Annotated[
    list[str] | None, typer.Option("-A", "--define", help="Define NAME[=VALUE] for the script."),
]
CtlOpt = Annotated[
    str | None,
    typer.Option("--ctl", metavar="PATH",
                 help="Control socket (JSON-RPC). Default: $KSRPY_CTL, else "
                      "/run/ksrpy/ksrpy_ctl, else $XDG_RUNTIME_DIR/ksrpy_ctl, else "
                      "/tmp/ksrpy-UID/ksrpy_ctl."),
]


@app.command()
def run(
    file: ScriptOpt = None,
    listen: ListenOpt = None,
    define: DefineOpt = None,
    debug: Annotated[int | None, typer.Option(
        "--debug", "-d", help="Log level as Kamailio's debug (-3..3).")] = None,
    ready_file: Annotated[str | None, typer.Option(
        "--ready-file", help="Write the bound sockets to this file once listening.")] = None,
    ctl: Annotated[str | None, typer.Option(
        "--ctl", metavar="PATH",
        help="Control socket path, 'none' to disable. Default: $KSRPY_CTL, else "
             "/run/ksrpy/ksrpy_ctl, else $XDG_RUNTIME_DIR/ksrpy_ctl, else "
             "/tmp/ksrpy-UID/ksrpy_ctl.")] = None,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Reload the script when one of its files changes.")] = False,
) -> None:
    """Run the proxy (default: shipped routes on 127.0.0.1:5060, UDP and TCP)."""
    from .core.server import RunOptions
    from .core.server import run as run_server
    from .paths import default_script

    script = file or str(default_script())
    options = RunOptions(script=script, listen=list(listen or []),
                         defines=_defines(list(define or [])), debug=debug,
                         ready_file=ready_file, ctl=ctl, watch=watch)
    raise typer.Exit(run_server(options))


@app.command()
def check(
    file: ScriptOpt = None,
    define: DefineOpt = None,
    syntax: Annotated[bool, typer.Option(
        "--syntax", help="Check the language only (no module or function lookups).")] = False,
    show_python: Annotated[bool, typer.Option(
        "--show-python", help="Print the Python generated from a cfg script.")] = False,
) -> None:
    """Load a script and report every error found, without opening a socket."""
    from .core.config import CoreConfig
    from .core.engine import Engine
    from .paths import default_script
    from .script.errors import ScriptLoadError
    from .script.loader import check_script, load_script, script_kind

    script = file or str(default_script())
    engine = Engine(CoreConfig(defines=_defines(list(define or []))))
    if show_python:
        if script_kind(script) != "cfg":
            raise typer.BadParameter("--show-python applies to cfg scripts")
        try:
            routes = load_script(script, engine)
        except ScriptLoadError as exc:
            issues = exc.issues
        else:
            typer.echo(routes.source, nl=False)
            return
    else:
        issues = check_script(script, engine, syntax_only=syntax)
    for item in issues:
        typer.echo(str(item), err=True)
    if issues:
        typer.echo(f"{script}: {len(issues)} error(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{script}: ok")


@app.command()
def rpc(
    method: Annotated[str, typer.Argument(help="RPC method, e.g. core.uptime or routes.reload.")],
    params: Annotated[list[str] | None, typer.Argument(
        help="Parameters, typed as kamcmd: digits are integers, 's:' forces a string.")] = None,
    ctl: CtlOpt = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Seconds to wait for the answer.")] = 30.0,
) -> None:
    """Call an RPC command of a running ksrpy over its control socket."""
    import json

    from .core.rpc import RpcCallError, RpcClientError, call, default_ctl_path, parse_cli_param

    path = ctl or default_ctl_path()
    try:
        values = [parse_cli_param(p) for p in params or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        result = call(path, method, values or None, timeout=timeout)
    except RpcClientError as exc:
        typer.echo(f"ksrpy rpc: {exc}", err=True)
        raise typer.Exit(1) from None
    except RpcCallError as exc:
        typer.echo(f"error {exc.code}: {exc.message}", err=True)
        if exc.data is not None:
            if isinstance(exc.data, list) and all(isinstance(d, str) for d in exc.data):
                for item in exc.data:
                    typer.echo(item, err=True)
            else:
                typer.echo(json.dumps(exc.data, indent=2), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


port_app = typer.Typer(no_args_is_help=True,
                       help="Translate routing scripts of other KEMI languages to Python.")
app.add_typer(port_app, name="port")


@port_app.command("lua")
def port_lua(
    input_file: Annotated[str, typer.Argument(metavar="INPUT.lua", help="app_lua KSR script.")],
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="OUTPUT.py",
        help="Write the Python script here (default: standard output).")] = None,
    check_only: Annotated[bool, typer.Option(
        "--check", help="Only list what cannot be translated; exit 1 if anything.")] = False,
) -> None:
    """Translate a Lua KSR script into a Python KSR script that ksrpy runs.

    Every construct that cannot be translated faithfully is reported as
    FILE:LINE:COL and nothing is written.
    """
    from .script.lua import port_lua as translate_file

    result = translate_file(input_file)
    for item in result.issues:
        typer.echo(str(item), err=True)
    if result.issues:
        typer.echo(f"{input_file}: {len(result.issues)} construct(s) cannot be translated",
                   err=True)
        raise typer.Exit(1)
    if check_only:
        typer.echo(f"{input_file}: ok")
        return
    if output is None:
        typer.echo(result.source, nl=False)
        return
    with open(output, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(result.source)
    typer.echo(f"{input_file}: written to {output}", err=True)


@app.command()
def version() -> None:
    """Print ksrpy's version and which scanner is in use."""
    from .sip import scanner

    kind = "native" if scanner.NATIVE else "pure-Python"
    typer.echo(f"ksrpy {__version__} (scanner: {kind}, Python {sys.version.split()[0]})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
