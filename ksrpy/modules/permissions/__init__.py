"""permissions: IP and URI access control, as Kamailio's permissions module.

``rules`` parses hosts.allow/deny-style rule files (``checks`` builds the pairs
a message is tested with), ``address`` the address groups and subnets,
``trusted`` the trusted peers, ``db`` and ``backends`` load them from SQLite or
a file, ``module``/``functions``/``rpcs`` are what scripts and RPC see.
"""

from .module import PermissionsModule

__all__ = ["PermissionsModule"]
