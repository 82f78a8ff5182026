"""tm: stateful proxying (Kamailio's tm module)."""

from .module import TmModule

__all__ = ["TmModule"]
