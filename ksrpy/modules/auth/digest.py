"""Digest arithmetic (RFC 2617 §3.2.2, RFC 7616 §3.4.1, RFC 8760): HA1, HA2, response, rspauth."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ...sip.digest import DigestCredentials

#: Algorithm tokens (upper case) -> hashlib name.
ALGORITHMS: dict[str, str] = {
    "MD5": "md5",
    "MD5-SESS": "md5",
    "SHA-256": "sha256",
    "SHA-256-SESS": "sha256",
}
HEX_LEN = {"md5": 32, "sha256": 64}


def hash_hex(algorithm: str, text: str | bytes) -> str:
    """Lower-case hex digest of ``text`` with the algorithm's hash (MD5 or SHA-256)."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.new(ALGORITHMS[algorithm.upper()], data).hexdigest()


def calc_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """HA1 = H(username:realm:password)."""
    return hash_hex(algorithm, f"{username}:{realm}:{password}")


def session_ha1(algorithm: str, ha1: str, nonce: str, cnonce: str) -> str:
    """HA1 of the -sess variants: H(HA1:nonce:cnonce)."""
    return hash_hex(algorithm, f"{ha1}:{nonce}:{cnonce}")


def calc_ha2(algorithm: str, method: str, uri: str, qop: str | None = None,
             body: bytes = b"") -> str:
    """HA2 = H(method:uri), or H(method:uri:H(body)) for qop=auth-int."""
    if qop == "auth-int":
        return hash_hex(algorithm, f"{method}:{uri}:{hash_hex(algorithm, body)}")
    return hash_hex(algorithm, f"{method}:{uri}")


def calc_response(algorithm: str, ha1: str, nonce: str, ha2: str, qop: str | None = None,
                  nc: str | None = None, cnonce: str | None = None) -> str:
    """request-digest: H(HA1:nonce:nc:cnonce:qop:HA2), or H(HA1:nonce:HA2) without qop."""
    if qop:
        return hash_hex(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return hash_hex(algorithm, f"{ha1}:{nonce}:{ha2}")


@dataclass(frozen=True, slots=True)
class Checked:
    """Credentials that passed the shape checks, with the algorithm they use."""

    creds: DigestCredentials
    algorithm: str  # upper-case token, e.g. "MD5" or "SHA-256-SESS"

    @property
    def base(self) -> str:
        """The algorithm without "-sess" (what the server advertises)."""
        return self.algorithm.removesuffix("-SESS")


def check_shape(creds: DigestCredentials, server_algorithm: str) -> Checked | None:
    """Kamailio's check_dig_cred: required fields present, qop/nc/cnonce consistent.

    None when the credentials are malformed or use another algorithm than the
    server's (absent means MD5, RFC 2617 §3.2.1).
    """
    p = creds.params
    if not all(p.get(k) for k in ("username", "realm", "nonce", "uri", "response")):
        return None
    algorithm = (creds.algorithm or "MD5").upper()
    if algorithm not in ALGORITHMS or algorithm.removesuffix("-SESS") != server_algorithm:
        return None
    if len(creds.response or "") != HEX_LEN[ALGORITHMS[algorithm]]:
        return None
    qop = creds.qop
    if qop is not None:
        if qop not in ("auth", "auth-int") or not creds.cnonce or not _valid_nc(creds.nc):
            return None
    elif algorithm.endswith("-SESS") and not creds.cnonce:
        return None
    return Checked(creds, algorithm)


def _valid_nc(nc: str | None) -> bool:
    if nc is None or len(nc) != 8:
        return False
    try:
        int(nc, 16)
    except ValueError:
        return False
    return True


def expected_response(checked: Checked, ha1: str, method: str, body: bytes = b"") -> str:
    """The response the client must have sent, given the stored (non-session) HA1."""
    c = checked.creds
    alg = checked.algorithm
    if alg.endswith("-SESS"):
        ha1 = session_ha1(alg, ha1, c.nonce or "", c.cnonce or "")
    ha2 = calc_ha2(alg, method, c.uri or "", c.qop, body)
    return calc_response(alg, ha1, c.nonce or "", ha2, c.qop, c.nc, c.cnonce)


def verify(checked: Checked, ha1: str, method: str, body: bytes = b"") -> bool:
    """True when the client's response matches (constant-time comparison)."""
    want = expected_response(checked, ha1.lower(), method, body)
    return hmac.compare_digest(want, (checked.creds.response or "").lower())


def rspauth(checked: Checked, ha1: str, body: bytes = b"") -> str:
    """Authentication-Info rspauth: the response with an empty method (RFC 2617 §3.2.3)."""
    return expected_response(checked, ha1.lower(), "", body)
