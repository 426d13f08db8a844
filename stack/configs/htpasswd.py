"""bcrypt hashes of the lab's basic-auth passwords: Traefik's users file and the
`basic_auth_users` of Prometheus' and Alertmanager's web config. Pure: the `bcrypt` package.

The salt is random per lab and stable across runs: a generated Pulumi secret
(lab:passwordHashSalt, stack/settings_tables.SECRETS) keyed with the hash's purpose, so an
unchanged password renders the same file (the second plan stays empty, no container is
replaced) while two labs with the same password share no hash, and nothing about the salt
follows from the password.

Why bcrypt: Traefik v3 checks basic-auth secrets with go-http-auth's CheckSecret
(containous/go-http-auth basic.go: `$2a$`/`$2b$`/`$2y$` bcrypt, `{SHA}`, else MD5-crypt), and
Prometheus' and Alertmanager's `--web.config.file` takes bcrypt only (prometheus/exporter-toolkit
web/tls_config.go: `bcrypt.CompareHashAndPassword`). One scheme, from one kept library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

# Traefik checks again on every request without a cache (pkg/middlewares/auth/basic_auth.go),
# so the cost is a trade: 2^10 rounds is about 80 ms here per check; the generated passwords
# are 24 random characters, far beyond what any cost decides.
COST = 10
# bcrypt's own base-64 alphabet (OpenBSD's bcrypt.c), in place of standard base-64's.
_STANDARD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = bytes.maketrans(_STANDARD, _BCRYPT)
# bcrypt's limit: it reads no further (the bcrypt package refuses longer passwords).
MAX_PASSWORD_BYTES = 72


class HashError(ValueError):
    pass


def salt(lab_salt: str, purpose: str, variant: str = "2b") -> bytes:
    """`$<variant>$<cost>$` and 16 bytes keyed from the lab's salt secret and the purpose, in
    bcrypt's 22-character encoding. `2a` where a reader knows no other (Elasticsearch's file
    realm: x-pack core Hasher resolves a bcrypt hash by the `$2a$` prefix)."""
    if not lab_salt:
        raise HashError("lab:passwordHashSalt is empty: `make up` generates it")
    raw = hmac.new(lab_salt.encode(), purpose.encode(), hashlib.sha256).digest()[:16]
    encoded = base64.b64encode(raw).rstrip(b"=").translate(_TO_BCRYPT)
    return b"$%s$%02d$" % (variant.encode(), COST) + encoded


def bcrypt_hash(password: str, lab_salt: str, purpose: str, variant: str = "2b") -> str:
    """The bcrypt hash of `password`, the same for the same password, salt secret and purpose."""
    secret = password.encode()
    if not secret:
        raise HashError(f"the password of {purpose!r} is empty")
    if len(secret) > MAX_PASSWORD_BYTES:
        raise HashError(
            f"the password of {purpose!r} is {len(secret)} bytes: bcrypt reads at most "
            f"{MAX_PASSWORD_BYTES}; choose a shorter one"
        )
    return bcrypt.hashpw(secret, salt(lab_salt, purpose, variant)).decode()


def line(user: str, password: str, lab_salt: str) -> str:
    """`user:$2b$...` plus a newline; Traefik splits each line on `:` into exactly two parts."""
    if not user or ":" in user or "\n" in user:
        raise HashError(
            f"a basic-auth user name must be non-empty without ':' or newline: {user!r}"
        )
    return f"{user}:{bcrypt_hash(password, lab_salt, f'traefik {user}')}\n"
