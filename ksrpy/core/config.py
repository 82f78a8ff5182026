"""Global parameters of the core (Kamailio's core cfg parameters that mean something here)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Sent in ``Server:`` when ``server_signature`` is on and no ``server_header`` is
#: given. It names the software but never its version (hidden identity).
DEFAULT_SERVER_HEADER = "Server: ksrpy"
DEFAULT_USER_AGENT_HEADER = "User-Agent: ksrpy"


@dataclass
class CoreConfig:
    """Global settings; cfg files and the CLI fill it, the engine reads it."""

    listen: list[str] = field(default_factory=list)
    alias: list[str] = field(default_factory=list)
    server_signature: bool = True
    server_header: str = DEFAULT_SERVER_HEADER
    user_agent_header: str = DEFAULT_USER_AGENT_HEADER
    sip_warning: bool = False
    debug: int = 2  # Kamailio levels: -3 alert ... 0 warn, 1 notice, 2 info, 3 debug
    log_stderror: bool = True
    log_prefix: str = ""
    tcp_connection_lifetime: float = 120.0
    tcp_connect_timeout: float = 5.0
    tcp_max_connections: int = 2048
    tcp_header_timeout: float = 10.0
    max_while_loops: int = 1000
    disable_tcp: bool = False
    defines: dict[str, str] = field(default_factory=dict)

    @property
    def server_header_line(self) -> str | None:
        """The full ``Server:`` line for local replies, or None when signature is off."""
        if not self.server_signature:
            return None
        return self.server_header
