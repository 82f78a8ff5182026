"""ksrpy: a SIP edge proxy whose behaviour is a routing script in the style of Kamailio."""

__version__ = "0.1.0"
