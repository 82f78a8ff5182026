"""acc: accounting of transactions and requests to the log and to SQLite."""

from .module import AccModule

__all__ = ["AccModule"]
