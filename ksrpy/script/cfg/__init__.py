"""The kamailio.cfg front end: preprocessor, grammar, compiler to Python."""
