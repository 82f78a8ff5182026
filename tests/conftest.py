"""Session set-up: the C scanner is built in place before any test imports ksrpy's scanner.

``ksrpy.sip.scanner`` picks the native or the pure-Python scanner once, at import;
building here first means a fresh clone (or an edited scan.c) is tested on a
current native build whatever the collection order.
"""

from ksrpy.sip._native.build import ensure_inplace

ensure_inplace()
