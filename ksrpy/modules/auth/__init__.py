"""auth: digest challenges, nonces and credential verification (Kamailio's auth module)."""

from .module import AuthModule

__all__ = ["AuthModule"]
