"""Build glue: ship routes/ and stdlib/ inside the package, and build the optional C scanner.

The C extension is optional: if the compiler or headers are missing the build
goes on without it and ksrpy runs on its pure-Python twin (it says so once at
start-up).
"""

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build C extensions, but never fail the install because of them."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure is non-fatal
            print(f"ksrpy: C scanner not built ({exc}); the pure-Python scanner will be used")

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"ksrpy: C scanner not built ({exc}); the pure-Python scanner will be used")


#: Every package under ksrpy/ (modules, sip.transaction, script.cfg ...) plus the shipped
#: routes/ and stdlib/ folders, mapped into the package.
PACKAGES = ["ksrpy", *(f"ksrpy.{name}" for name in find_packages("ksrpy")),
            "ksrpy.routes", "ksrpy.stdlib"]

setup(
    packages=PACKAGES,
    package_dir={"ksrpy.routes": "routes", "ksrpy.stdlib": "stdlib"},
    package_data={
        "ksrpy.routes": ["*.py", "*.cfg"],
        "ksrpy.stdlib": ["*.py", "*.cfg"],
        "ksrpy.sip._native": ["*.c", "*.h"],
        "ksrpy.script.cfg": ["*.lark"],
        "ksrpy.script.lua": ["*.lark"],
    },
    cffi_modules=["ksrpy/sip/_native/build.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt},
)
