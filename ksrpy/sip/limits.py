"""Named limits the parser enforces, with the precedent for each value."""

#: Largest SIP message accepted (bytes). Kamailio's BUF_SIZE is 65535 as well,
#: and a UDP datagram cannot be larger.
MAX_MESSAGE_SIZE = 65535

#: Most header fields in one message. Real traffic carries 10-30; 256 leaves
#: room for long Via/Record-Route stacks while bounding per-message work.
MAX_HEADERS = 256

#: Longest physical line (start line or one header line, before unfolding).
#: h11 bounds a whole HTTP head at 16 KiB; one SIP line rarely exceeds 1 KiB.
MAX_LINE_LENGTH = 8192

#: Longest Request-URI; Kamailio's MAX_URI_SIZE is 1024.
MAX_URI_LENGTH = 1024

#: Largest Content-Length value written with digits we accept (9 digits fit
#: an int32 and are far above MAX_MESSAGE_SIZE).
MAX_CONTENT_LENGTH_DIGITS = 9
