"""bcrypt hashing and a password check that costs the same whether or not the user exists."""

from __future__ import annotations

import secrets

import bcrypt

# bcrypt reads at most 72 bytes; a longer password never matches instead of being silently truncated.
MAX_PASSWORD_BYTES = 72


def hash_password(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


class PasswordChecker:
    def __init__(self, cost: int) -> None:
        self._dummy_hash = hash_password(secrets.token_urlsafe(32), cost).encode()

    def matches(self, password: str, password_hash: str | None) -> bool:
        """Check the password against the hash, or against a same-cost dummy hash when there is none."""
        secret = password.encode()
        hashed = password_hash.encode() if password_hash is not None else self._dummy_hash
        matched = bcrypt.checkpw(secret[:MAX_PASSWORD_BYTES], hashed)
        return matched and password_hash is not None and len(secret) <= MAX_PASSWORD_BYTES
