"""An htpasswd line for Traefik's basicAuth users file: Apache's `$apr1$` MD5-crypt, with a salt
derived from the password, so the same password renders the same file and an unchanged
password never replaces Traefik's container. Pure: stdlib only.

Why this form: Traefik v3 checks basic-auth secrets with go-http-auth's CheckSecret
(containous/go-http-auth a37a7636d23e, basic.go: `{SHA}`, `$2a$`/`$2b$`/`$2x$`/`$2y$` bcrypt,
anything else MD5-crypt), and checks again on every request without a cache
(pkg/middlewares/auth/basic_auth.go): bcrypt would cost tens of milliseconds of CPU per
dashboard call, and `{SHA}` has no salt. The password is a generated 24-character secret
(lab/automation.py), far beyond what a fast hash makes guessable.
"""

from __future__ import annotations

import hashlib
import hmac

APR1_MAGIC = "$apr1$"
# crypt(3)'s base-64 alphabet (md5crypt's `itoa64`).
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_LENGTH = 8
_ROUNDS = 1000
# Bytes of the final digest, three at a time, in the order md5crypt writes them out.
_OUTPUT_TRIPLES = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))


def _to64(value: int, count: int) -> str:
    out = []
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return "".join(out)


def derived_salt(password: str) -> str:
    """Eight salt characters that depend on the password only (keyed so they reveal nothing)."""
    digest = hmac.new(b"lab traefik basic-auth salt", password.encode(), "sha256").digest()
    return "".join(_ITOA64[byte & 0x3F] for byte in digest[:_SALT_LENGTH])


def apr1(password: str, salt: str) -> str:
    """`$apr1$<salt>$<hash>` as `htpasswd -m` and `openssl passwd -apr1` write it."""
    secret = password.encode()
    salt_bytes = salt.encode()[:_SALT_LENGTH]
    magic = APR1_MAGIC.encode()
    alternate = hashlib.md5(secret + salt_bytes + secret).digest()
    context = secret + magic + salt_bytes
    for remaining in range(len(secret), 0, -16):
        context += alternate[: min(16, remaining)]
    length = len(secret)
    while length:
        context += b"\x00" if length & 1 else secret[:1]
        length >>= 1
    final = hashlib.md5(context).digest()
    for round_ in range(_ROUNDS):
        block = secret if round_ & 1 else final
        if round_ % 3:
            block += salt_bytes
        if round_ % 7:
            block += secret
        block += final if round_ & 1 else secret
        final = hashlib.md5(block).digest()
    encoded = "".join(
        _to64(final[a] << 16 | final[b] << 8 | final[c], 4) for a, b, c in _OUTPUT_TRIPLES
    )
    encoded += _to64(final[11], 2)
    return f"{APR1_MAGIC}{salt_bytes.decode()}${encoded}"


def line(user: str, password: str) -> str:
    """`user:$apr1$...` plus a newline; Traefik splits each line on `:` into exactly two parts."""
    if not user or ":" in user or "\n" in user:
        raise ValueError(
            f"a basic-auth user name must be non-empty without ':' or newline: {user!r}"
        )
    if not password:
        raise ValueError(f"the basic-auth password of {user!r} is empty")
    return f"{user}:{apr1(password, derived_salt(password))}\n"
