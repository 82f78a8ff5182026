"""Pike's per-source prefix tree: one node per address byte, two-slot hit windows, expiry.

The algorithm is Kamailio's (src/modules/pike/ip_tree.c, pike_funcs.c):

* One tree for IPv4 and IPv6, 256 branches keyed by the first byte. A hit
  walks the longest existing prefix of the address.
* The whole address found: ``leaf_hits.curr += 1``; the node turns red
  (blocked) when ``leaf_hits.prev``, ``leaf_hits.curr`` or their average
  reaches ``max_hits`` (x). First detection answers -2, later hits while red -1.
* Only a prefix found: ``hits.curr += 1``; when the prefix is hot (``hits.prev``,
  ``hits.curr`` or their average reaches x/4) a child for the next byte is
  split off, inheriting ``hits.curr - 1``. An empty branch gets a root node.
* Every sampling unit curr moves to prev and curr restarts at 0; a red node
  that is no longer hot is unblocked.
* Tree leaves and whole addresses sit in a timer queue; a node not refreshed for
  ``remove_latency`` seconds is removed (prefix leaves are not refreshed by
  hits that do not split them, so they go sooner).

Two things differ in mechanics, not in results: the window swap is applied
lazily per node (a node records the unit it was last counted in and is brought
up to date when touched), so no timer walks the whole tree; and the tree holds
at most ``max_nodes`` nodes, evicting the least recently refreshed leaf when
full (ksrpy's addition, see docs/hardening.md). Time comes from ``clock``.
"""

from __future__ import annotations

import math
import socket
from collections import OrderedDict
from collections.abc import Callable, Iterator

#: Counters are unsigned shorts in Kamailio; they stop one below the maximum.
HITS_MAX = 0xFFFF - 1
#: Expired nodes removed per hit at most (the periodic sweep does the rest).
SWEEP_PER_HIT = 4
OK, BLOCKED, NEW_BLOCK = 1, -1, -2


class PikeNode:
    """One address byte: prefix hits and whole-address (leaf) hits, two windows each."""

    __slots__ = ("byte", "parent", "kids", "hits_prev", "hits_curr", "leaf_prev", "leaf_curr",
                 "unit", "ipleaf", "red", "expires")

    def __init__(self, byte: int, parent: PikeNode | None, unit: int) -> None:
        self.byte = byte
        self.parent = parent
        self.kids: dict[int, PikeNode] | None = None
        self.hits_prev = self.hits_curr = 0
        self.leaf_prev = self.leaf_curr = 0
        self.unit = unit
        self.ipleaf = False
        self.red = False
        self.expires = 0.0

    def address(self) -> bytes:
        """The bytes from the branch root down to this node."""
        out = []
        node: PikeNode | None = self
        while node is not None:
            out.append(node.byte)
            node = node.parent
        return bytes(reversed(out))


def format_address(addr: bytes) -> str:
    """Text form of a 4- or 16-byte address (other lengths as hex, as Kamailio prints them)."""
    if len(addr) == 4:
        return socket.inet_ntop(socket.AF_INET, addr)
    if len(addr) == 16:
        return socket.inet_ntop(socket.AF_INET6, addr)
    return addr.hex(":")


class PikeTree:
    """The tree, its timer queue and counters; ``hit`` is the per-message entry point."""

    def __init__(self, max_hits: int, unit: float, latency: float, max_nodes: int,
                 clock: Callable[[], float]) -> None:
        self.max_hits = max_hits
        self.warm_hits = max_hits >> 2
        self.unit = unit
        self.latency = latency
        self.max_nodes = max_nodes
        self.clock = clock
        self.start = clock()
        self.roots: list[PikeNode | None] = [None] * 256
        #: Timer queue: nodes in refresh order, so also in expiry order (oldest first).
        self.timer: OrderedDict[PikeNode, None] = OrderedDict()
        self.next_expiry = math.inf  # a lower bound of the head's expiry
        self.reds: set[PikeNode] = set()
        self.nodes = 0
        self.blocked_total = 0
        self.expired = 0
        self.evicted = 0
        #: Addresses unblocked since the owner last looked (for its UNBLOCKing log lines).
        self.unblocked: list[bytes] = []

    # ------------------------------------------------------------------ windows

    def current_unit(self, now: float) -> int:
        """The index of the sampling window ``now`` falls in."""
        return int((now - self.start) // self.unit)

    def _hot_leaf(self, node: PikeNode) -> bool:
        x = self.max_hits
        return (node.leaf_prev >= x or node.leaf_curr >= x
                or (node.leaf_prev + node.leaf_curr) >> 1 >= x)

    def _age(self, node: PikeNode, unit: int) -> None:
        """Apply the window swaps ``node`` missed (curr -> prev, curr = 0; red -> unblocked)."""
        gap = unit - node.unit
        if gap <= 0:
            return
        if gap == 1:
            node.hits_prev, node.hits_curr = node.hits_curr, 0
            node.leaf_prev, node.leaf_curr = node.leaf_curr, 0
        else:
            node.hits_prev = node.hits_curr = node.leaf_prev = node.leaf_curr = 0
        node.unit = unit
        if node.red and not self._hot_leaf(node):
            node.red = False
            self.reds.discard(node)
            self.unblocked.append(node.address())

    # --------------------------------------------------------------------- hits

    def hit(self, addr: bytes) -> int:
        """Count one request from ``addr``: 1 ok, -2 turned red now, -1 red already."""
        now = self.clock()
        if now >= self.next_expiry:
            self.expire(SWEEP_PER_HIT, now)
        unit = int((now - self.start) // self.unit)
        node = self.roots[addr[0]]
        if node is None:
            if self.nodes >= self.max_nodes:
                self._make_room(None, now)
            node = PikeNode(addr[0], None, unit)
            node.hits_curr = 1
            self.roots[addr[0]] = node
            self._add(node, now)
            return OK
        pos, size = 1, len(addr)
        while pos < size:
            kids = node.kids
            if kids is None:
                break
            kid = kids.get(addr[pos])
            if kid is None:
                break
            node = kid
            pos += 1
        if node.unit != unit:
            self._age(node, unit)
        if pos == size:
            return self._leaf_hit(node, now)
        if node.hits_curr < HITS_MAX:
            node.hits_curr += 1
        q = self.warm_hits
        prev, curr = node.hits_prev, node.hits_curr
        if prev >= q or curr >= q or (prev + curr) >> 1 >= q:
            self._split(node, addr[pos], unit, now)
        # Otherwise the prefix is not refreshed, so that little-used prefixes expire.
        return OK

    def _leaf_hit(self, node: PikeNode, now: float) -> int:
        node.ipleaf = True
        if node.leaf_curr < HITS_MAX:
            node.leaf_curr += 1
        if node.red:
            code = BLOCKED
        elif self._hot_leaf(node):
            node.red = True
            self.reds.add(node)
            self.blocked_total += 1
            code = NEW_BLOCK
        else:
            code = OK
        self._queue(node, now)
        return code

    def _split(self, dad: PikeNode, byte: int, unit: int, now: float) -> None:
        """Add the child for ``byte`` under a hot prefix (Kamailio's split_node)."""
        if self.nodes >= self.max_nodes:
            self._make_room(dad, now)
        kid = PikeNode(byte, dad, unit)
        if dad.hits_curr >= 1:
            kid.hits_curr = dad.hits_curr - 1
        # Kamailio copies leaf_hits.prev - 1 (and would wrap below zero); clamp it at 0.
        if dad.leaf_curr >= 1 and dad.leaf_prev >= 1:
            kid.leaf_prev = dad.leaf_prev - 1
        if dad.kids is None:
            dad.kids = {}
            if not dad.ipleaf:
                # Now an inner node: it leaves the timer; its kids keep it alive.
                self.timer.pop(dad, None)
        dad.kids[byte] = kid
        self._add(kid, now)

    def _add(self, node: PikeNode, now: float) -> None:
        """Count a new node and put it at the tail of the timer queue."""
        self.nodes += 1
        node.expires = expires = now + self.latency
        self.timer[node] = None
        if expires < self.next_expiry:
            self.next_expiry = expires

    # -------------------------------------------------------------- timer queue

    def _queue(self, node: PikeNode, now: float) -> None:
        """(Re)arm ``node``'s expiry at ``now + latency``, at the tail of the queue."""
        node.expires = now + self.latency
        timer = self.timer
        if node in timer:
            timer.move_to_end(node)
        else:
            timer[node] = None
            if node.expires < self.next_expiry:
                self.next_expiry = node.expires

    def expire(self, limit: int | None = None, now: float | None = None) -> int:
        """Remove up to ``limit`` nodes whose time has come; returns how many were processed."""
        now = self.clock() if now is None else now
        done = 0
        timer = self.timer
        while timer and (limit is None or done < limit):
            node = next(iter(timer))
            if node.expires > now:
                self.next_expiry = node.expires
                return done
            self._release(node, now)
            self.expired += 1
            done += 1
        if not timer:
            self.next_expiry = math.inf
        return done

    def _release(self, node: PikeNode, now: float) -> bool:
        """Take ``node`` off the queue and remove it (Kamailio's clean_routine step).

        A whole address that is also the prefix of longer ones (IPv4 inside IPv6)
        only stops being a leaf. Returns True when a node was freed.
        """
        del self.timer[node]
        if node.kids:
            self._age(node, self.current_unit(now))
            node.ipleaf = False
            node.leaf_curr = 0
            return False
        dad = node.parent
        if dad is None:
            self.roots[node.byte] = None
        else:
            kids = dad.kids
            assert kids is not None
            del kids[node.byte]
            if not kids:
                dad.kids = None
                if dad not in self.timer:
                    self._queue(dad, now)  # a leaf again: it may expire in its turn
        if node.red:
            node.red = False
            self.reds.discard(node)
        node.parent = None
        self.nodes -= 1
        return True

    def _make_room(self, keep: PikeNode | None, now: float) -> None:
        """Evict least recently refreshed leaves until one more node fits (never ``keep``)."""
        while self.nodes >= self.max_nodes and self.timer:
            victim = None
            for candidate in self.timer:
                if candidate is not keep:
                    victim = candidate
                    break
            if victim is None:
                return
            if self._release(victim, now):
                self.evicted += 1

    # ------------------------------------------------------------------ reading

    def refresh(self) -> None:
        """Bring red nodes up to date so that ``reds`` and ``unblocked`` are current."""
        unit = self.current_unit(self.clock())
        for node in list(self.reds):
            self._age(node, unit)

    def find(self, addr: bytes) -> PikeNode | None:
        """The node for all of ``addr`` (None when the tree holds only a prefix of it)."""
        node = self.roots[addr[0]]
        for byte in addr[1:]:
            if node is None or node.kids is None:
                return None
            node = node.kids.get(byte)
        return node

    def status(self, node: PikeNode) -> str:
        """HOT (blocking level), WARM (prefix hits >= x/4) or "" (Kamailio's node_status)."""
        if self._hot_leaf(node):
            return "HOT"
        if node.hits_curr >= self.warm_hits:
            return "WARM"
        return ""

    def leaves(self) -> Iterator[PikeNode]:
        """Every whole address in the tree, brought up to date."""
        unit = self.current_unit(self.clock())
        stack = [n for n in self.roots if n is not None]
        while stack:
            node = stack.pop()
            self._age(node, unit)
            if node.ipleaf:
                yield node
            if node.kids:
                stack.extend(node.kids.values())

    def unblock(self, addr: bytes) -> bool:
        """Forget the leaf hits of ``addr`` and clear its red mark; True when it was red."""
        node = self.find(addr)
        if node is None:
            return False
        self._age(node, self.current_unit(self.clock()))
        was_red = node.red
        node.leaf_prev = node.leaf_curr = 0
        node.red = False
        self.reds.discard(node)
        return was_red
