"""ksrpy modules, one per Kamailio module, each declaring its exports once."""

from __future__ import annotations

import importlib

from .exports import Module

#: Module name -> "python.module:ClassName". Imported on first use.
AVAILABLE: dict[str, str] = {
    "core": "ksrpy.modules.core:CoreModule",
    "pv": "ksrpy.modules.pv:PvModule",
    "x": "ksrpy.modules.flow:FlowModule",
    "hdr": "ksrpy.modules.hdr:HdrModule",
    "sl": "ksrpy.modules.sl:SlModule",
    "maxfwd": "ksrpy.modules.maxfwd:MaxfwdModule",
    "siputils": "ksrpy.modules.siputils:SiputilsModule",
    "xlog": "ksrpy.modules.xlog:XlogModule",
    "textops": "ksrpy.modules.textops:TextopsModule",
    "sanity": "ksrpy.modules.sanity:SanityModule",
    "htable": "ksrpy.modules.htable:HtableModule",
    "pike": "ksrpy.modules.pike:PikeModule",
    "permissions": "ksrpy.modules.permissions:PermissionsModule",
    "ban": "ksrpy.modules.ban:BanModule",
    "tm": "ksrpy.modules.tm:TmModule",
    "tmx": "ksrpy.modules.tmx:TmxModule",
    "kemix": "ksrpy.modules.kemix:KemixModule",
    "auth": "ksrpy.modules.auth:AuthModule",
    "auth_db": "ksrpy.modules.auth_db:AuthDbModule",
    "usrloc": "ksrpy.modules.usrloc:UsrlocModule",
    "registrar": "ksrpy.modules.registrar:RegistrarModule",
    "secfilter": "ksrpy.modules.secfilter:SecfilterModule",
    "corex": "ksrpy.modules.corex:CorexModule",
    "nathelper": "ksrpy.modules.nathelper:NathelperModule",
    "rtpproxy": "ksrpy.modules.rtpproxy:RtpproxyModule",
    "rtpengine": "ksrpy.modules.rtpengine:RtpengineModule",
    "rr": "ksrpy.modules.rr:RrModule",
    "acc": "ksrpy.modules.acc:AccModule",
    "textopsx": "ksrpy.modules.textopsx:TextopsxModule",
}


class ModuleNotAvailable(KeyError):
    """A script asked for a module ksrpy does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


def load_module_class(name: str) -> type[Module]:
    """The class implementing module ``name`` (ModuleNotAvailable when ksrpy lacks it)."""
    key = name.removesuffix(".so")
    target = AVAILABLE.get(key)
    if target is None:
        known = ", ".join(sorted(AVAILABLE))
        raise ModuleNotAvailable(f"module {key!r} is not available in ksrpy (available: {known})")
    module_path, _, class_name = target.partition(":")
    cls: type[Module] = getattr(importlib.import_module(module_path), class_name)
    return cls


def default_modules() -> list[str]:
    """Modules loaded for Python scripts, which have no loadmodule lines."""
    return [n for n in AVAILABLE]
