/*
 * ksr_scan: frame one SIP message (C twin of ksrpy/sip/scan_py.py).
 *
 * The output format, the rules and the error codes are those of the module
 * docstring of scan_py.py; both scanners must agree on every input (the
 * tests and the fuzz harnesses in tests/ check it).
 */
#ifndef KSR_SCAN_H
#define KSR_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Limits: must equal ksrpy/sip/limits.py (tests/unit/test_scanner.py checks). */
#define KSR_MAX_MESSAGE_SIZE 65535
#define KSR_MAX_HEADERS 256
#define KSR_MAX_LINE_LENGTH 8192
#define KSR_MAX_URI_LENGTH 1024
#define KSR_MAX_CONTENT_LENGTH_DIGITS 9

/* Output layout. */
#define KSR_HEADER_BASE 11
#define KSR_HEADER_FIELDS 6
/* Output slots needed for a message with KSR_MAX_HEADERS headers. */
#define KSR_OUT_MAX (KSR_HEADER_BASE + KSR_HEADER_FIELDS * KSR_MAX_HEADERS)

#define KSR_KIND_REQUEST 1
#define KSR_KIND_REPLY 2

/* Hard errors (returned, negative). */
#define KSR_E_EMPTY (-1)
#define KSR_E_TOO_BIG (-2)
#define KSR_E_BAD_START_LINE (-3)
#define KSR_E_LINE_TOO_LONG (-4)
#define KSR_E_NUL (-5)
#define KSR_E_BAD_HEADER (-6)
#define KSR_E_TOO_MANY_HEADERS (-7)

/* Soft errors (out[0]). */
#define KSR_S_VERSION 1
#define KSR_S_URI_TOO_LONG 2
#define KSR_S_BAD_CONTENT_LENGTH 3
#define KSR_S_BODY_TOO_SHORT 4

/* Header ids: must equal ksrpy.sip.headers.HeaderId. */
enum ksr_header_id {
    KSR_HDR_OTHER = 0,
    KSR_HDR_VIA = 1,
    KSR_HDR_FROM = 2,
    KSR_HDR_TO = 3,
    KSR_HDR_CALL_ID = 4,
    KSR_HDR_CSEQ = 5,
    KSR_HDR_CONTACT = 6,
    KSR_HDR_CONTENT_LENGTH = 7,
    KSR_HDR_CONTENT_TYPE = 8,
    KSR_HDR_MAX_FORWARDS = 9,
    KSR_HDR_ROUTE = 10,
    KSR_HDR_RECORD_ROUTE = 11,
    KSR_HDR_EXPIRES = 12,
    KSR_HDR_USER_AGENT = 13,
    KSR_HDR_SERVER = 14,
    KSR_HDR_AUTHORIZATION = 15,
    KSR_HDR_PROXY_AUTHORIZATION = 16,
    KSR_HDR_WWW_AUTHENTICATE = 17,
    KSR_HDR_PROXY_AUTHENTICATE = 18,
    KSR_HDR_SUPPORTED = 19,
    KSR_HDR_REQUIRE = 20,
    KSR_HDR_PROXY_REQUIRE = 21,
    KSR_HDR_ALLOW = 22,
    KSR_HDR_SUBJECT = 23,
    KSR_HDR_EVENT = 24,
    KSR_HDR_REFER_TO = 25,
    KSR_HDR_REFERRED_BY = 26,
    KSR_HDR_CONTENT_ENCODING = 27,
    KSR_HDR_SESSION_EXPIRES = 28,
    KSR_HDR_ALLOW_EVENTS = 29,
    KSR_HDR_IDENTITY = 30,
    KSR_HDR_PATH = 31,
    KSR_HDR_UNSUPPORTED = 32,
    KSR_HDR_MIN_EXPIRES = 33,
    KSR_HDR_ACCEPT = 34,
    KSR_HDR_DIVERSION = 35,
    KSR_HDR_P_ASSERTED_IDENTITY = 36,
    KSR_HDR_P_PREFERRED_IDENTITY = 37,
    KSR_HDR_PRIVACY = 38,
    KSR_HDR_REASON = 39,
    KSR_HDR_DATE = 40,
    KSR_HDR_WARNING = 41,
    KSR_HDR_RETRY_AFTER = 42,
    KSR_HDR_RSEQ = 43,
    KSR_HDR_RACK = 44,
    KSR_HDR_CONTENT_DISPOSITION = 45,
    KSR_HDR_ORGANIZATION = 46,
    KSR_HDR_PRIORITY = 47,
};

/*
 * Scan buf[0:len). Writes at most out_cap int32 to out and returns how many
 * it wrote (>= KSR_HEADER_BASE), or a negative KSR_E_* code. Reads nothing
 * outside [buf, buf + len). An out_cap below KSR_HEADER_BASE is
 * KSR_E_TOO_MANY_HEADERS before anything else; a smaller out_cap than
 * KSR_OUT_MAX lowers the header limit to what fits.
 */
int ksr_scan(const unsigned char *buf, size_t len, int32_t *out, size_t out_cap);

/* Header id of a name (full or compact form, ASCII case-insensitive); 0 if unknown. */
int ksr_header_id(const unsigned char *name, size_t len);

#endif /* KSR_SCAN_H */
