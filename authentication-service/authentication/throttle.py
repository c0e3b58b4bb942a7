"""Login throttling: after MAX_FAILURES failed logins for one email within WINDOW_SECONDS, the next
attempts for that email get 429 with Retry-After, without a password check, until the oldest failure
leaves the window. Unknown emails are throttled the same way, so a 429 says nothing about who exists.

The failures live in PostgreSQL (table login_failures), so every gunicorn worker and every replica
counts the same ones. An attempt is recorded as a failure *before* its password is checked, under a
per-email advisory lock, so concurrent attempts cannot slip past the limit; a successful login then
removes that email's failures, in the transaction that writes the login's event. The email is keyed by
the same lower() the user lookup compares with.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import psycopg

from authentication.db import UserStore
from labkit.validation import ApiError

log = logging.getLogger(__name__)

MAX_FAILURES = 10
WINDOW_SECONDS = 60
TOO_MANY_FAILURES = "too many failed logins, try again later"
# Expired rows of any email that one attempt deletes in passing: the table holds about one window's worth.
PURGE_BATCH = 100
# The first key of a two-key advisory lock; two-key locks never collide with the migration's one-key lock.
LOCK_NAMESPACE = 8082

LOCK_EMAIL = "SELECT pg_advisory_xact_lock(%s, hashtext(lower(%s)))"
PURGE_EXPIRED = """
DELETE FROM login_failures WHERE id IN (
    SELECT id FROM login_failures WHERE failed_at <= now() - make_interval(secs => %s)
    LIMIT %s FOR UPDATE SKIP LOCKED
)
"""
COUNT_RECENT = """
SELECT count(*), extract(epoch FROM min(failed_at) + make_interval(secs => %(window)s) - now())
FROM login_failures
WHERE email = lower(%(email)s) AND failed_at > now() - make_interval(secs => %(window)s)
"""
RECORD_FAILURE = "INSERT INTO login_failures (email) VALUES (lower(%s))"
FORGET_FAILURES = "DELETE FROM login_failures WHERE email = lower(%s)"


class TooManyFailures(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, TOO_MANY_FAILURES, headers={"Retry-After": str(retry_after)})


class LoginThrottle:
    def __init__(self, users: UserStore) -> None:
        self._users = users

    def attempt(self, email: str) -> None:
        """Record this attempt as a failure until it succeeds, or raise 429 when the email has too many."""
        email = _key(email)
        with self._users.transaction() as conn:
            conn.execute(LOCK_EMAIL, (LOCK_NAMESPACE, email))
            conn.execute(PURGE_EXPIRED, (WINDOW_SECONDS, PURGE_BATCH))
            recent = conn.execute(COUNT_RECENT, {"email": email, "window": WINDOW_SECONDS}).fetchone()
            failures, oldest_expires_in = recent or (0, 0)
            if failures < MAX_FAILURES:
                conn.execute(RECORD_FAILURE, (email,))
                return
        retry_after = max(1, math.ceil(oldest_expires_in))
        log.warning("login refused after %d failed logins; retry in %d s", failures, retry_after)
        raise TooManyFailures(retry_after)

    def succeeded(self, conn: psycopg.Connection[Any], email: str) -> None:
        """A correct password: the email's past failures no longer count, in the caller's transaction
        (the login's, which also writes its event)."""
        conn.execute(FORGET_FAILURES, (_key(email),))


def _key(email: str) -> str:
    """The email without NUL characters, which PostgreSQL text cannot hold: attempts with them count
    against the same email without them."""
    return email.replace("\x00", "")
