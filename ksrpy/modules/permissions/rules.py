"""hosts.allow/hosts.deny-style rule files of allow_routing, allow_register and allow_uri.

One rule per line: ``LEFT : RIGHT``, each side ``ALL`` or a comma list of
POSIX extended regular expressions (double quotes optional), optionally
followed by `` EXCEPT `` and another list. ``#`` outside quotes starts a
comment. Matching is case-insensitive and unanchored; the first rule whose
both sides match wins. The keywords ``ALL`` and ``EXCEPT`` are upper case, as
in Kamailio. Kamailio skips a line it cannot parse; ksrpy refuses the file
(``RuleFileError`` naming file and line) so that a typo cannot open a hole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ...util.posixre import PosixRegexError, compile_ere

Patterns = tuple[re.Pattern[str], ...]


class RuleFileError(ValueError):
    """A rule file that does not parse: ``path:line: message``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


@dataclass(frozen=True, slots=True)
class Rule:
    """One line: ``left``/``right`` None means ALL."""

    left: Patterns | None
    left_except: Patterns
    right: Patterns | None
    right_except: Patterns

    def matches(self, left: str, right: str) -> bool:
        """True when ``left`` (From/To URI) and ``right`` (R-URI/Contact) both match."""
        return (_side(self.left, self.left_except, left)
                and _side(self.right, self.right_except, right))


def _any(patterns: Patterns, text: str) -> bool:
    return any(p.search(text) for p in patterns)


def _side(patterns: Patterns | None, exceptions: Patterns, text: str) -> bool:
    return (patterns is None or _any(patterns, text)) and not _any(exceptions, text)


@dataclass(frozen=True, slots=True)
class RuleFile:
    """The rules of one file (``exists`` False: the file is missing, read as empty)."""

    path: str
    rules: tuple[Rule, ...]
    exists: bool

    def search(self, left: str, right: str) -> bool:
        """True when a rule matches the pair."""
        return any(rule.matches(left, right) for rule in self.rules)


def _unquoted(line: str, wanted: str) -> list[int]:
    """Positions of ``wanted`` characters outside double quotes."""
    found, quoted = [], False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch in wanted and not quoted:
            found.append(i)
    return found


def _patterns(text: str) -> Patterns:
    cuts = [-1, *_unquoted(text, ","), len(text)]
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        item = text[a + 1:b].strip()
        if item.startswith('"'):
            item = item[1:]
        if item.endswith('"'):
            item = item[:-1]
        if not item:
            raise ValueError(f"empty expression in {text.strip()!r}")
        try:
            out.append(compile_ere(item))
        except PosixRegexError as exc:
            raise ValueError(str(exc)) from None
    return tuple(out)


def _side_spec(text: str) -> tuple[Patterns | None, Patterns]:
    """``ALL`` / a list, then optionally `` EXCEPT `` and a list."""
    cut = next((i for i in _unquoted(text, " ") if text.startswith(" EXCEPT ", i)), -1)
    main, exceptions = (text[:cut], _patterns(text[cut + 8:])) if cut >= 0 else (text, ())
    main = main.strip()
    if not main:
        raise ValueError("a side of ':' is empty (use ALL to match everything)")
    return (None if main == "ALL" else _patterns(main)), exceptions


def parse_line(line: str) -> Rule | None:
    """One line as a rule (None for blank and comment lines); ValueError when malformed."""
    hashes = _unquoted(line, "#")
    text = line[:hashes[0]] if hashes else line
    if not text.strip():
        return None
    if text.count('"') % 2:
        raise ValueError("unbalanced double quote")
    colons = _unquoted(text, ":")
    if not colons:
        raise ValueError("expected 'FROM_LIST : REQUEST_URI_LIST' (no ':' outside quotes)")
    cut = colons[-1]  # the last one, as Kamailio (quote regexes that contain ':')
    left, left_except = _side_spec(text[:cut])
    right, right_except = _side_spec(text[cut + 1:])
    return Rule(left, left_except, right, right_except)


def parse_rules(text: str, path: str) -> tuple[Rule, ...]:
    """Every rule of a file's text; RuleFileError at the first malformed line."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            rule = parse_line(line)
        except ValueError as exc:
            raise RuleFileError(path, number, str(exc)) from None
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def load_rule_file(path: str) -> RuleFile:
    """Read and parse ``path``; a missing file is an empty rule set, as in Kamailio."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        return RuleFile(path, (), False)
    except OSError as exc:
        raise RuleFileError(path, 0, f"cannot read: {exc.strerror or exc}") from None
    return RuleFile(path, parse_rules(text, path), True)


@dataclass(frozen=True, slots=True)
class RulePair:
    """An allow file and a deny file used together."""

    allow: RuleFile
    deny: RuleFile

    @property
    def empty(self) -> bool:
        """No rule in either file: every check allows (Kamailio's "turn off control")."""
        return not self.allow.rules and not self.deny.rules

    def decide(self, left: str, right: str) -> int:
        """allow file match: 1; else deny file match: -1; else 1 (allow_uri, testUri)."""
        if self.allow.search(left, right):
            return 1
        return -1 if self.deny.search(left, right) else 1


class RuleCache:
    """Rule files by absolute path, each read once (Kamailio reads them at start-up only)."""

    def __init__(self) -> None:
        self.files: dict[str, RuleFile] = {}

    def get(self, path: str) -> RuleFile:
        """The parsed file (read on first use); RuleFileError when it does not parse."""
        key = os.path.abspath(path)
        found = self.files.get(key)
        if found is None:
            found = self.files[key] = load_rule_file(key)
        return found

    def loaded(self, path: str) -> RuleFile | None:
        """The file if it has been read already."""
        return self.files.get(os.path.abspath(path))

    def pair(self, allow_path: str, deny_path: str) -> RulePair:
        """The allow/deny pair (both read on first use)."""
        return RulePair(self.get(allow_path), self.get(deny_path))
