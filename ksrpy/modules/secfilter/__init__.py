"""secfilter: black- and whitelists and SQL-injection heuristics, as Kamailio's secfilter module.

``lists`` holds the immutable list set and its sources (SQLite ``db_url``,
``list_file``), ``sqli`` the injection check, ``geo`` the MaxMind country
lookup, ``headers`` what the checks read from a message, ``functions`` and
``rpc`` what scripts and control clients see, ``module`` ties them together.
"""

from .module import SecfilterModule

__all__ = ["SecfilterModule"]
