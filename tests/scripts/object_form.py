"""Kamailio app_python3-style script (mod_init returning an object) used by the tests."""

import sys

import KSR


def mod_init():
    return Handler()


class Handler:
    def __init__(self):
        self.ready = False

    def child_init(self, rank):
        self.ready = rank >= 0
        return 0

    def ksr_request_route(self, msg):
        if self.ksr_route_reqinit(msg) == -255:
            return 1
        if KSR.is_OPTIONS() and msg.Method == "OPTIONS":
            KSR.sl.sl_send_reply(200, "Object Form " + msg.src_address[0])
            return 1
        if KSR.pv.get("$rU") == "exit":
            KSR.sl.sl_send_reply(299, "Exit Via sys")
            sys.exit()
        KSR.sl.sl_send_reply(404, "Not found")
        return 1

    def ksr_route_reqinit(self, msg):
        if not self.ready:
            KSR.sl.sl_send_reply(500, "Not initialised")
            return -255
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return -255
        return 1
