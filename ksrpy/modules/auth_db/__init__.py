"""auth_db: digest authentication against a subscriber table (SQLite) or a credentials file."""

from .module import AuthDbModule

__all__ = ["AuthDbModule"]
