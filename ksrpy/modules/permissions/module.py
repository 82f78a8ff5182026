"""The permissions module: parameters, start-up loading, file names, the peer tag AVP.

``init`` loads what Kamailio loads at start-up and fails on any error: the
address table (``address_file``, which wins, or ``db_url``), the cached trusted
table (``db_mode`` 1), the default rule files, and every rule file named with
constant arguments in the cfg script. Without ``init`` (unit tests, or files
first named after a script reload) each is read on first use; a file that
does not parse then makes its function return -1, with an error logged.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from ...script.pv import PV, PVError, resolve
from ..exports import Module, ParamExport
from .backends import Backends
from .db import check_identifier, sqlite_path
from .functions import PermissionsFunctions, badlog
from .params import PARAMS
from .rpcs import PermissionsRpc
from .rules import RuleCache, RuleFile, RuleFileError, RulePair
from .scan import static_calls

log = logging.getLogger("ksrpy.permissions")

#: load_backends bits, as Kamailio.
LOAD_ADDRESS, LOAD_TRUSTED, LOAD_ALLOW, LOAD_DENY = 1, 2, 4, 8
_RULE_FUNCTIONS = ("allow_routing", "allow_register", "allow_uri")


class PermissionsModule(PermissionsFunctions, PermissionsRpc, Module):
    """IP and URI access control: rule files, address groups, trusted peers."""

    name = "permissions"
    kemi_namespace = "permissions"
    params: tuple[ParamExport, ...] = PARAMS

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.rules = RuleCache()
        self.tag_pv: PV | None = None
        self.clock = time.monotonic
        self._reloaded: dict[str, float] = {}
        super().__init__(engine, settings)
        self.backends = Backends(self.settings, self.base_dir)

    # ------------------------------------------------------------ parameters

    def set_param(self, key: str, value: Any) -> None:
        """modparam, with Kamailio's checks (db_mode 0/1, an AVP for peer_tag_avp ...)."""
        old = self.settings.get(key)
        super().set_param(key, value)
        try:
            self._check_param(key, self.settings[key])
        except ValueError:
            self.settings[key] = old
            raise

    def _check_param(self, key: str, value: Any) -> None:
        if key == "db_mode" and value not in (0, 1):
            raise ValueError(f"modparam permissions.db_mode must be 0 or 1, got {value}")
        if key == "db_url" and value:
            sqlite_path(value, ".")
        if key.endswith(("_col", "_table")):
            check_identifier(value, f"modparam permissions.{key}")
        if key in ("max_subnets", "load_backends") and value <= 0:
            raise ValueError(f"modparam permissions.{key} must be positive, got {value}")
        if key == "peer_tag_avp":
            self.tag_pv = self._tag_avp(value)

    @staticmethod
    def _tag_avp(text: str) -> PV | None:
        if not text.strip():
            return None
        try:
            pv = resolve(text.strip())
        except PVError as exc:
            raise ValueError(f"modparam permissions.peer_tag_avp: {exc}") from None
        if not pv.name.startswith("$avp(") or not pv.writable:
            raise ValueError(f"modparam permissions.peer_tag_avp must be an AVP such as "
                             f"$avp(peer_tag), got {text!r}")
        return pv

    def set_tag(self, ctx: Any, tag: str | None) -> None:
        """Add ``tag`` to the peer_tag_avp AVP (when both are set)."""
        if tag is not None and self.tag_pv is not None:
            self.tag_pv.set(ctx, tag)  # type: ignore[misc]

    # ------------------------------------------------------------ file names

    def base_dir(self) -> str:
        """The folder of the main script (relative file names start there), else the cwd."""
        routes = getattr(self.engine, "routes", None)
        files = getattr(routes, "files", None)
        return os.path.dirname(os.path.abspath(files[0])) if files else os.getcwd()

    def rule_paths(self, first: str | None, second: str | None) -> tuple[str, str]:
        """The allow and deny files: defaults, basename + suffixes, or the two names."""
        s = self.settings
        if first is None:
            names = (s["default_allow_file"], s["default_deny_file"])
        elif second is None:
            names = (first + s["allow_suffix"], first + s["deny_suffix"])
        else:
            names = (first, second)
        return self.backends.path(names[0]), self.backends.path(names[1])

    def _load_pair(self, first: str | None, second: str | None) -> RulePair:
        allow, deny = self.rule_paths(first, second)
        pair = self.rules.pair(allow, deny)
        if first is None:  # the default files obey load_backends
            bits = self.settings["load_backends"]
            pair = RulePair(pair.allow if bits & LOAD_ALLOW else RuleFile(allow, (), False),
                            pair.deny if bits & LOAD_DENY else RuleFile(deny, (), False))
        return pair

    def rule_pair(self, first: str | None, second: str | None) -> RulePair | None:
        """The allow/deny files of a call (None, error logged, when one does not parse)."""
        try:
            return self._load_pair(first, second)
        except RuleFileError as exc:
            badlog.error(("rules", exc.path), "permissions: rule file not loaded: %s", exc)
            return None

    # ------------------------------------------------------------- lifecycle

    def init(self) -> None:
        """Load the tables and rule files now; ValueError on anything Kamailio would refuse."""
        s, b = self.settings, self.backends
        b.close()
        b.addresses = b.trusted = None
        bits = s["load_backends"]
        if s["address_file"] and not bits & LOAD_ADDRESS:
            raise ValueError("permissions: address_file is set but load_backends leaves out "
                             "the address table (bit 1)")
        try:
            if bits & LOAD_ADDRESS and (s["address_file"] or s["db_url"]):
                b.addresses = b.read_addresses()
            if bits & LOAD_TRUSTED and s["db_url"] and s["db_mode"] == 1:
                b.trusted = b.read_trusted()
            if bits & LOAD_TRUSTED and s["db_url"] and s["db_mode"] == 0:
                b.probe_trusted()
            self._load_pair(None, None)
        except ValueError as exc:
            raise ValueError(f"permissions: {exc}") from None
        self._check_script()

    def _check_script(self) -> None:
        for call in static_calls(getattr(self.engine, "routes", None), self):
            args = call.args
            if call.method == "allow_trusted" and len(args) == 1:
                raise ValueError(f"{call.where}: allow_trusted() takes 0, 2 or 3 arguments")
            if call.method not in _RULE_FUNCTIONS or any(a is None for a in args[:2]):
                continue
            first, second = (str(args[0]) if args else None), None
            if call.method == "allow_uri":
                _check_pv(call.where, args[1] if len(args) > 1 else None)
            elif len(args) > 1:
                second = str(args[1])
            try:
                self._load_pair(first, second)
            except RuleFileError as exc:
                raise ValueError(f"{call.where}: {call.method}(): {exc}") from None

    def destroy(self) -> None:
        """Close the database connection."""
        self.backends.close()


def _check_pv(where: str, name: Any) -> None:
    if isinstance(name, str) and name.startswith("$"):
        try:
            resolve(name)
        except PVError as exc:
            raise ValueError(f"{where}: allow_uri(): {exc}") from None
