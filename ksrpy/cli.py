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
    typer.Option("-f", "--file", help="Routing script (kamailio.cfg style, or a .py KSR "
                                      "script). Default: the shipped routes/default.cfg."),
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
DataDirOpt = Annotated[
    str | None,
    typer.Option("--data-dir", metavar="DIR",
                 help="Data directory (SQLite file of subscribers, registrations, bans). "
                      "Default: $KSRPY_DATA_DIR, else /var/lib/ksrpy when writable, else "
                      "$XDG_DATA_HOME/ksrpy or ~/.local/share/ksrpy. Created mode 0700."),
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
    data_dir: DataDirOpt = None,
) -> None:
    """Run the proxy (default: shipped routes on 127.0.0.1:5060, UDP and TCP)."""
    from .core.server import RunOptions
    from .core.server import run as run_server
    from .paths import default_script

    script = file or str(default_script())
    options = RunOptions(script=script, listen=list(listen or []),
                         defines=_defines(list(define or [])), debug=debug,
                         ready_file=ready_file, ctl=ctl, watch=watch, data_dir=data_dir)
    raise typer.Exit(run_server(options))


@app.command()
def check(
    file: ScriptOpt = None,
    define: DefineOpt = None,
    syntax: Annotated[bool, typer.Option(
        "--syntax", help="Check the language only (no module or function lookups).")] = False,
    show_python: Annotated[bool, typer.Option(
        "--show-python", help="Print the Python generated from a cfg script.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Load a script and report every error found, without opening a socket."""
    from .core.config import CoreConfig
    from .core.datadir import script_defines
    from .core.engine import Engine
    from .paths import default_script
    from .script.errors import ScriptLoadError
    from .script.loader import check_script, load_script, script_kind

    script = file or str(default_script())
    defines, _ = script_defines(script, data_dir, _defines(list(define or [])), create=False)
    engine = Engine(CoreConfig(defines=defines))
    if show_python:
        if script_kind(script) != "cfg":
            raise typer.BadParameter("--show-python applies to cfg scripts")
        try:
            routes = load_script(script, engine)
        except ScriptLoadError as exc:
            issues = exc.issues
        else:
            if not routes.source:
                typer.echo(f"{script} hands routing to a Python script (cfgengine); "
                           "there is no generated Python to show", err=True)
                raise typer.Exit(2)
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


user_app = typer.Typer(no_args_is_help=True,
                       help="Subscribers of the default routes (the data directory's SQLite "
                            "subscriber table, HA1 only). A running ksrpy sees changes at once.")
app.add_typer(user_app, name="user")
address_app = typer.Typer(no_args_is_help=True,
                          help="Trusted sources (permissions address table, group 1 by default): "
                               "they may call without authenticating. A running ksrpy sees "
                               "changes after 'ksrpy rpc permissions.addressReload'.")
app.add_typer(address_app, name="address")


def _account_db(data_dir: str | None):  # noqa: ANN202 - a Path
    """The data directory's SQLite file, created (with its tables) when missing."""
    from .core.datadir import DataDirError, db_path, prepare, resolve_data_dir

    try:
        return db_path(prepare(resolve_data_dir(data_dir)))
    except DataDirError as exc:
        typer.echo(f"ksrpy: {exc}", err=True)
        raise typer.Exit(1) from None


def _account_call(fn, *args):  # noqa: ANN001, ANN202 - any accounts function
    """Run an accounts function; its errors become one line on stderr and exit 1."""
    import sqlite3

    from .core.accounts import AccountError

    try:
        return fn(*args)
    except (AccountError, sqlite3.Error) as exc:
        typer.echo(f"ksrpy: {exc}", err=True)
        raise typer.Exit(1) from None


@user_app.command("add")
def user_add(
    aor: Annotated[str, typer.Argument(metavar="USER@DOMAIN",
                                       help="The subscriber; DOMAIN is also the digest realm.")],
    password: Annotated[str | None, typer.Argument(
        help="Password; asked for (not echoed) when left out, which keeps it out of the "
             "process list and shell history.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Add a subscriber, or change its password (only HA1 hashes are stored)."""
    from .core.accounts import add_user

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    db = _account_db(data_dir)
    name, existed = _account_call(add_user, db, aor, password)
    typer.echo(f"{name}: password changed" if existed else f"{name}: added")


@user_app.command("rm")
def user_rm(
    aor: Annotated[str, typer.Argument(metavar="USER@DOMAIN")],
    data_dir: DataDirOpt = None,
) -> None:
    """Remove a subscriber."""
    from .core.accounts import remove_user

    typer.echo(f"{_account_call(remove_user, _account_db(data_dir), aor)}: removed")


@user_app.command("list")
def user_list(data_dir: DataDirOpt = None) -> None:
    """List the subscribers (user@domain, no secrets)."""
    from .core.accounts import list_users

    for name in _account_call(list_users, _account_db(data_dir)):
        typer.echo(name)


GroupOpt = Annotated[int, typer.Option("--group", help="Address group (the default routes "
                                                       "trust group 1).")]


@address_app.command("add")
def address_add(
    network: Annotated[str, typer.Argument(metavar="IP[/LEN]")],
    group: GroupOpt = 1,
    port: Annotated[int, typer.Option("--port", help="Source port (0: any).")] = 0,
    tag: Annotated[str | None, typer.Option("--tag", help="Free text tag.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Trust a source address or network (no authentication for its calls)."""
    from .core.accounts import add_address

    net = _account_call(add_address, _account_db(data_dir), network, group, port, tag)
    typer.echo(f"{net}: added to group {group}")


@address_app.command("rm")
def address_rm(
    network: Annotated[str, typer.Argument(metavar="IP[/LEN]")],
    group: GroupOpt = 1,
    data_dir: DataDirOpt = None,
) -> None:
    """Remove a trusted source address or network."""
    from .core.accounts import remove_address

    net = _account_call(remove_address, _account_db(data_dir), network, group)
    typer.echo(f"{net}: removed from group {group}")


@address_app.command("list")
def address_list(data_dir: DataDirOpt = None) -> None:
    """List the address table: group, network, port, tag."""
    from .core.accounts import list_addresses

    for grp, net, port, tag in _account_call(list_addresses, _account_db(data_dir)):
        typer.echo(f"{grp}\t{net}\t{port}\t{tag}".rstrip())


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
