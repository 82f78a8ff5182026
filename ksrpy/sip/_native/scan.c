/*
 * C twin of ksrpy/sip/scan_py.py: see that module's docstring for the output
 * format and the rules. Every branch here mirrors one there, in the same
 * order, so both scanners return the same list or the same error code.
 *
 * Bounds: every read is guarded by an index below len, and every write by
 * the header limit computed from out_cap.
 */
#include <string.h>

#include "scan.h"

#define C_TOKEN 0x01 /* RFC 3261 token character */
#define C_DIGIT 0x02
#define C_WSP 0x04 /* SP or HTAB */

/* Generated from scan_py._TOKEN; LOWER folds A-Z only, like bytes.lower(). */
static const unsigned char CLS[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00,
    0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const unsigned char LOWER[256] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

#define IS_TOKEN(c) (CLS[(c)] & C_TOKEN)
#define IS_DIGIT(c) (CLS[(c)] & C_DIGIT)
#define IS_WSP(c) (CLS[(c)] & C_WSP)

/* p[0:n] equals lit (lower-case) ignoring ASCII case. */
static inline int eq_lower(const unsigned char *p, const char *lit, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (LOWER[p[i]] != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/*
 * Name -> id, generated from ksrpy.sip.headers.NAME_TO_ID: switch on the
 * length, then on the folded first byte, then compare the rest.
 * test_scanner.py checks every entry against the Python table.
 */
int ksr_header_id(const unsigned char *p, size_t len)
{
    if (len == 0)
        return 0;
    switch (len) {
    case 1:
        switch (LOWER[p[0]]) {
        case 'b': return KSR_HDR_REFERRED_BY;
        case 'c': return KSR_HDR_CONTENT_TYPE;
        case 'e': return KSR_HDR_CONTENT_ENCODING;
        case 'f': return KSR_HDR_FROM;
        case 'i': return KSR_HDR_CALL_ID;
        case 'k': return KSR_HDR_SUPPORTED;
        case 'l': return KSR_HDR_CONTENT_LENGTH;
        case 'm': return KSR_HDR_CONTACT;
        case 'o': return KSR_HDR_EVENT;
        case 'r': return KSR_HDR_REFER_TO;
        case 's': return KSR_HDR_SUBJECT;
        case 't': return KSR_HDR_TO;
        case 'u': return KSR_HDR_ALLOW_EVENTS;
        case 'v': return KSR_HDR_VIA;
        case 'x': return KSR_HDR_SESSION_EXPIRES;
        case 'y': return KSR_HDR_IDENTITY;
        }
        return 0;
    case 2:
        switch (LOWER[p[0]]) {
        case 't':
            if (eq_lower(p + 1, "o", 1)) return KSR_HDR_TO;
            return 0;
        }
        return 0;
    case 3:
        switch (LOWER[p[0]]) {
        case 'v':
            if (eq_lower(p + 1, "ia", 2)) return KSR_HDR_VIA;
            return 0;
        }
        return 0;
    case 4:
        switch (LOWER[p[0]]) {
        case 'c':
            if (eq_lower(p + 1, "seq", 3)) return KSR_HDR_CSEQ;
            return 0;
        case 'd':
            if (eq_lower(p + 1, "ate", 3)) return KSR_HDR_DATE;
            return 0;
        case 'f':
            if (eq_lower(p + 1, "rom", 3)) return KSR_HDR_FROM;
            return 0;
        case 'p':
            if (eq_lower(p + 1, "ath", 3)) return KSR_HDR_PATH;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "ack", 3)) return KSR_HDR_RACK;
            if (eq_lower(p + 1, "seq", 3)) return KSR_HDR_RSEQ;
            return 0;
        }
        return 0;
    case 5:
        switch (LOWER[p[0]]) {
        case 'a':
            if (eq_lower(p + 1, "llow", 4)) return KSR_HDR_ALLOW;
            return 0;
        case 'e':
            if (eq_lower(p + 1, "vent", 4)) return KSR_HDR_EVENT;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "oute", 4)) return KSR_HDR_ROUTE;
            return 0;
        }
        return 0;
    case 6:
        switch (LOWER[p[0]]) {
        case 'a':
            if (eq_lower(p + 1, "ccept", 5)) return KSR_HDR_ACCEPT;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "eason", 5)) return KSR_HDR_REASON;
            return 0;
        case 's':
            if (eq_lower(p + 1, "erver", 5)) return KSR_HDR_SERVER;
            return 0;
        }
        return 0;
    case 7:
        switch (LOWER[p[0]]) {
        case 'c':
            if (eq_lower(p + 1, "all-id", 6)) return KSR_HDR_CALL_ID;
            if (eq_lower(p + 1, "ontact", 6)) return KSR_HDR_CONTACT;
            return 0;
        case 'e':
            if (eq_lower(p + 1, "xpires", 6)) return KSR_HDR_EXPIRES;
            return 0;
        case 'p':
            if (eq_lower(p + 1, "rivacy", 6)) return KSR_HDR_PRIVACY;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "equire", 6)) return KSR_HDR_REQUIRE;
            return 0;
        case 's':
            if (eq_lower(p + 1, "ubject", 6)) return KSR_HDR_SUBJECT;
            return 0;
        case 'w':
            if (eq_lower(p + 1, "arning", 6)) return KSR_HDR_WARNING;
            return 0;
        }
        return 0;
    case 8:
        switch (LOWER[p[0]]) {
        case 'i':
            if (eq_lower(p + 1, "dentity", 7)) return KSR_HDR_IDENTITY;
            return 0;
        case 'p':
            if (eq_lower(p + 1, "riority", 7)) return KSR_HDR_PRIORITY;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "efer-to", 7)) return KSR_HDR_REFER_TO;
            return 0;
        }
        return 0;
    case 9:
        switch (LOWER[p[0]]) {
        case 'd':
            if (eq_lower(p + 1, "iversion", 8)) return KSR_HDR_DIVERSION;
            return 0;
        case 's':
            if (eq_lower(p + 1, "upported", 8)) return KSR_HDR_SUPPORTED;
            return 0;
        }
        return 0;
    case 10:
        switch (LOWER[p[0]]) {
        case 'u':
            if (eq_lower(p + 1, "ser-agent", 9)) return KSR_HDR_USER_AGENT;
            return 0;
        }
        return 0;
    case 11:
        switch (LOWER[p[0]]) {
        case 'm':
            if (eq_lower(p + 1, "in-expires", 10)) return KSR_HDR_MIN_EXPIRES;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "eferred-by", 10)) return KSR_HDR_REFERRED_BY;
            if (eq_lower(p + 1, "etry-after", 10)) return KSR_HDR_RETRY_AFTER;
            return 0;
        case 'u':
            if (eq_lower(p + 1, "nsupported", 10)) return KSR_HDR_UNSUPPORTED;
            return 0;
        }
        return 0;
    case 12:
        switch (LOWER[p[0]]) {
        case 'a':
            if (eq_lower(p + 1, "llow-events", 11)) return KSR_HDR_ALLOW_EVENTS;
            return 0;
        case 'c':
            if (eq_lower(p + 1, "ontent-type", 11)) return KSR_HDR_CONTENT_TYPE;
            return 0;
        case 'm':
            if (eq_lower(p + 1, "ax-forwards", 11)) return KSR_HDR_MAX_FORWARDS;
            return 0;
        case 'o':
            if (eq_lower(p + 1, "rganization", 11)) return KSR_HDR_ORGANIZATION;
            return 0;
        case 'r':
            if (eq_lower(p + 1, "ecord-route", 11)) return KSR_HDR_RECORD_ROUTE;
            return 0;
        }
        return 0;
    case 13:
        switch (LOWER[p[0]]) {
        case 'a':
            if (eq_lower(p + 1, "uthorization", 12)) return KSR_HDR_AUTHORIZATION;
            return 0;
        case 'p':
            if (eq_lower(p + 1, "roxy-require", 12)) return KSR_HDR_PROXY_REQUIRE;
            return 0;
        }
        return 0;
    case 14:
        switch (LOWER[p[0]]) {
        case 'c':
            if (eq_lower(p + 1, "ontent-length", 13)) return KSR_HDR_CONTENT_LENGTH;
            return 0;
        }
        return 0;
    case 15:
        switch (LOWER[p[0]]) {
        case 's':
            if (eq_lower(p + 1, "ession-expires", 14)) return KSR_HDR_SESSION_EXPIRES;
            return 0;
        }
        return 0;
    case 16:
        switch (LOWER[p[0]]) {
        case 'c':
            if (eq_lower(p + 1, "ontent-encoding", 15)) return KSR_HDR_CONTENT_ENCODING;
            return 0;
        case 'w':
            if (eq_lower(p + 1, "ww-authenticate", 15)) return KSR_HDR_WWW_AUTHENTICATE;
            return 0;
        }
        return 0;
    case 18:
        switch (LOWER[p[0]]) {
        case 'p':
            if (eq_lower(p + 1, "roxy-authenticate", 17)) return KSR_HDR_PROXY_AUTHENTICATE;
            return 0;
        }
        return 0;
    case 19:
        switch (LOWER[p[0]]) {
        case 'c':
            if (eq_lower(p + 1, "ontent-disposition", 18)) return KSR_HDR_CONTENT_DISPOSITION;
            return 0;
        case 'p':
            if (eq_lower(p + 1, "-asserted-identity", 18)) return KSR_HDR_P_ASSERTED_IDENTITY;
            if (eq_lower(p + 1, "roxy-authorization", 18)) return KSR_HDR_PROXY_AUTHORIZATION;
            return 0;
        }
        return 0;
    case 20:
        switch (LOWER[p[0]]) {
        case 'p':
            if (eq_lower(p + 1, "-preferred-identity", 19)) return KSR_HDR_P_PREFERRED_IDENTITY;
            return 0;
        }
        return 0;
    }
    return 0;
}

/* Offset of the LF ending the line at pos, or end when there is none. */
static inline size_t line_end(const unsigned char *buf, size_t pos, size_t end)
{
    const unsigned char *nl = memchr(buf + pos, '\n', end - pos);
    return nl ? (size_t)(nl - buf) : end;
}

/* End of a line's content: before the LF and a CR just before it. */
static inline size_t content_end(const unsigned char *buf, size_t pos, size_t nl)
{
    if (nl > pos && buf[nl - 1] == '\r')
        return nl - 1;
    return nl;
}

static inline int check_line(const unsigned char *buf, size_t start, size_t cend)
{
    if (cend - start > KSR_MAX_LINE_LENGTH)
        return KSR_E_LINE_TOO_LONG;
    if (memchr(buf + start, '\0', cend - start) != NULL)
        return KSR_E_NUL;
    return 0;
}

/* p[0:4] is "SIP/" in any case (the caller guarantees 4 bytes). */
static inline int is_sip_slash(const unsigned char *p)
{
    return LOWER[p[0]] == 's' && LOWER[p[1]] == 'i' && LOWER[p[2]] == 'p' && p[3] == '/';
}

/* 1 for SIP/2.0, 0 for another SIP/<digits>.<digits>, -1 for no version. */
static int parse_version(const unsigned char *v, size_t n)
{
    size_t i = 4, major, minor;
    if (n < 7 || !is_sip_slash(v))
        return -1;
    major = i;
    while (i < n && IS_DIGIT(v[i]))
        i++;
    if (i == major || i >= n || v[i] != '.')
        return -1;
    i++;
    minor = i;
    while (i < n && IS_DIGIT(v[i]))
        i++;
    if (i == minor || i != n)
        return -1;
    return n == 7 && v[4] == '2' && v[6] == '0';
}

static int scan_start_line(const unsigned char *buf, size_t start, size_t end, int32_t *out)
{
    const unsigned char *line = buf + start;
    size_t n = end - start;
    const unsigned char *sp = memchr(line, ' ', n);
    size_t first_len = sp ? (size_t)(sp - line) : n;

    if (first_len >= 4 && is_sip_slash(line)) {
        /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
        size_t first_sp = first_len, after, reason_start;
        const unsigned char *code;
        if (sp == NULL || first_len != 7 || line[4] != '2' || line[5] != '.' || line[6] != '0')
            return KSR_E_BAD_START_LINE;
        if (n - (first_sp + 1) < 3)
            return KSR_E_BAD_START_LINE;
        code = line + first_sp + 1;
        if (!IS_DIGIT(code[0]) || !IS_DIGIT(code[1]) || !IS_DIGIT(code[2])
            || code[0] < '1' || code[0] > '6')
            return KSR_E_BAD_START_LINE;
        after = first_sp + 4;
        if (after < n && line[after] != ' ')
            return KSR_E_BAD_START_LINE;
        reason_start = after + 1 < n ? after + 1 : n;
        out[1] = KSR_KIND_REPLY;
        out[2] = (int32_t)start;
        out[3] = (int32_t)(start + first_sp);
        out[4] = (int32_t)(start + reason_start);
        out[5] = (int32_t)end;
        out[6] = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
        return 0;
    }

    /* Request-Line = Method SP Request-URI SP SIP-Version: exactly two SPs. */
    {
        size_t i, uri_start, uri_end, ver_start;
        const unsigned char *sp2;
        int version;
        if (sp == NULL || first_len == 0)
            return KSR_E_BAD_START_LINE;
        for (i = 0; i < first_len; i++) {
            if (!IS_TOKEN(line[i]))
                return KSR_E_BAD_START_LINE;
        }
        uri_start = first_len + 1;
        sp2 = memchr(line + uri_start, ' ', n - uri_start);
        if (sp2 == NULL)
            return KSR_E_BAD_START_LINE;
        uri_end = (size_t)(sp2 - line);
        ver_start = uri_end + 1;
        if (uri_end == uri_start || ver_start == n
            || memchr(line + ver_start, ' ', n - ver_start) != NULL)
            return KSR_E_BAD_START_LINE;
        version = parse_version(line + ver_start, n - ver_start);
        if (version < 0)
            return KSR_E_BAD_START_LINE;
        out[1] = KSR_KIND_REQUEST;
        out[2] = (int32_t)start;
        out[3] = (int32_t)(start + first_len);
        out[4] = (int32_t)(start + uri_start);
        out[5] = (int32_t)(start + uri_end);
        if (!version)
            out[0] = KSR_S_VERSION;
        else if (uri_end - uri_start > KSR_MAX_URI_LENGTH)
            out[0] = KSR_S_URI_TOO_LONG;
        return 0;
    }
}

/* Content-Length value: 1-9 digits, else -1. */
static inline int32_t parse_content_length(const unsigned char *buf, size_t vs, size_t ve)
{
    int32_t value = 0;
    size_t i;
    if (ve == vs || ve - vs > KSR_MAX_CONTENT_LENGTH_DIGITS)
        return -1;
    for (i = vs; i < ve; i++) {
        if (!IS_DIGIT(buf[i]))
            return -1;
        value = value * 10 + (buf[i] - '0');
    }
    return value;
}

int ksr_scan(const unsigned char *buf, size_t len, int32_t *out, size_t out_cap)
{
    size_t end = len, pos = 0, nl, cend, body_off, max_headers, count = 0;
    int32_t cl_value = -1;
    int32_t *hdr;
    int rc;

    if (out_cap < KSR_HEADER_BASE)
        return KSR_E_TOO_MANY_HEADERS;
    max_headers = (out_cap - KSR_HEADER_BASE) / KSR_HEADER_FIELDS;
    if (max_headers > KSR_MAX_HEADERS)
        max_headers = KSR_MAX_HEADERS;

    if (end > KSR_MAX_MESSAGE_SIZE)
        return KSR_E_TOO_BIG;
    while (pos < end && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    if (pos >= end)
        return KSR_E_EMPTY;

    memset(out, 0, KSR_HEADER_BASE * sizeof(int32_t));
    out[9] = -1;
    nl = line_end(buf, pos, end);
    cend = content_end(buf, pos, nl);
    if ((rc = check_line(buf, pos, cend)) != 0)
        return rc;
    if ((rc = scan_start_line(buf, pos, cend, out)) != 0)
        return rc;
    out[7] = (int32_t)cend;
    pos = nl < end ? nl + 1 : end;

    body_off = end;
    hdr = out + KSR_HEADER_BASE;
    while (pos < end) {
        unsigned char first = buf[pos];
        const unsigned char *colon_p;
        size_t colon, name_end, last_cend, lend, vs, ve, i;
        int hid;

        if (first == '\n') {
            body_off = pos + 1;
            break;
        }
        if (first == '\r' && pos + 1 < end && buf[pos + 1] == '\n') {
            body_off = pos + 2;
            break;
        }
        /* One header field: the first physical line, then folded continuations. */
        nl = line_end(buf, pos, end);
        cend = content_end(buf, pos, nl);
        if ((rc = check_line(buf, pos, cend)) != 0)
            return rc;
        colon_p = memchr(buf + pos, ':', cend - pos);
        if (colon_p == NULL)
            return KSR_E_BAD_HEADER;
        colon = (size_t)(colon_p - buf);
        name_end = colon;
        while (name_end > pos && IS_WSP(buf[name_end - 1]))
            name_end--;
        if (name_end == pos)
            return KSR_E_BAD_HEADER;
        for (i = pos; i < name_end; i++) {
            if (!IS_TOKEN(buf[i]))
                return KSR_E_BAD_HEADER;
        }
        last_cend = cend;
        lend = nl < end ? nl + 1 : end;
        while (lend < end && IS_WSP(buf[lend])) {
            nl = line_end(buf, lend, end);
            cend = content_end(buf, lend, nl);
            if ((rc = check_line(buf, lend, cend)) != 0)
                return rc;
            last_cend = cend;
            lend = nl < end ? nl + 1 : end;
        }
        /* Value span: skip whitespace and folds after the colon, trim the tail. */
        vs = colon + 1;
        while (vs < last_cend) {
            unsigned char c = buf[vs];
            if (IS_WSP(c) || c == '\n' || (c == '\r' && vs + 1 < end && buf[vs + 1] == '\n'))
                vs++;
            else
                break;
        }
        ve = last_cend;
        while (ve > vs) {
            unsigned char c = buf[ve - 1];
            if (IS_WSP(c) || c == '\n' || (c == '\r' && ve < end && buf[ve] == '\n'))
                ve--;
            else
                break;
        }
        count++;
        if (count > max_headers)
            return KSR_E_TOO_MANY_HEADERS;
        hid = ksr_header_id(buf + pos, name_end - pos);
        hdr[0] = hid;
        hdr[1] = (int32_t)pos;
        hdr[2] = (int32_t)name_end;
        hdr[3] = (int32_t)vs;
        hdr[4] = (int32_t)ve;
        hdr[5] = (int32_t)lend;
        hdr += KSR_HEADER_FIELDS;
        if (hid == KSR_HDR_CONTENT_LENGTH) {
            int32_t value = parse_content_length(buf, vs, ve);
            if (value < 0 || (cl_value >= 0 && value != cl_value)) {
                if (out[0] == 0)
                    out[0] = KSR_S_BAD_CONTENT_LENGTH;
            }
            if (value >= 0)
                cl_value = value;
        }
        pos = lend;
    }
    out[8] = (int32_t)body_off;
    out[9] = cl_value;
    out[10] = (int32_t)count;
    if (out[0] == 0 && cl_value >= 0 && body_off + (size_t)cl_value > end)
        out[0] = KSR_S_BODY_TOO_SHORT;
    return (int)(KSR_HEADER_BASE + KSR_HEADER_FIELDS * count);
}
