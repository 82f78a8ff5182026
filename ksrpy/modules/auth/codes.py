"""Return codes of the verification functions (Kamailio's auth_cfg_result_t)."""

AUTH_OK = 1
AUTH_ERROR = -1
AUTH_INVALID_PASSWORD = -2
AUTH_USER_UNKNOWN = -3
AUTH_STALE_NONCE = -4
AUTH_NO_CREDENTIALS = -5
AUTH_NONCE_REUSED = -6
AUTH_USER_MISMATCH = -8

#: Codes that count as a failed login for the ban module.
FAILURES = (AUTH_INVALID_PASSWORD, AUTH_USER_UNKNOWN)
