"""stdlib REQINIT in Python, for bench/reqinit_bench.py (twin: edge.cfg)."""

import KSR
from reqinit import reqinit


def ksr_request_route():
    reqinit()
    KSR.sl.sl_send_reply(404, "Not Found")
