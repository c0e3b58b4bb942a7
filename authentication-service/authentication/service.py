"""Checking credentials: the throttle, the user lookup, the password check, and the login's event written
to the outbox in the same transaction as the rest of the login's writes."""

from __future__ import annotations

from typing import Any

from authentication import outbox
from authentication.config import Config
from authentication.db import SEED_PASSWORD, UserStore
from authentication.outbox import OutboxRelay
from authentication.passwords import PasswordChecker, hash_password
from authentication.throttle import LoginThrottle
from labkit.amqp import Publisher
from labkit.events import LogEvent
from labkit.validation import ApiError

INVALID_CREDENTIALS = "invalid credentials"
EVENT_NAME = "authentication"


class Authenticator:
    """The login and the outbox relay of one process; the relay's thread runs once relay.start() is
    called (create_app does)."""

    def __init__(self, config: Config) -> None:
        self.passwords = PasswordChecker(config.bcrypt_cost)
        self.users = UserStore(config.dsn, hash_password(SEED_PASSWORD, config.bcrypt_cost))
        self.throttle = LoginThrottle(self.users)
        self.relay = OutboxRelay(self.users, config.dsn, Publisher(config.amqp_url))

    def login(self, email: str, password: str) -> dict[str, Any]:
        """The user's public fields, or 401 whether the user is unknown, inactive or the password wrong;
        429 without a password check once the email has too many recent failures. A success clears the
        email's failures and writes its event in one transaction: both happen or neither."""
        self.throttle.attempt(email)
        user = self.users.find_by_email(email)
        matched = self.passwords.matches(password, user.password if user else None)
        if user is None or not matched or not user.active:
            raise ApiError(401, INVALID_CREDENTIALS)
        event = LogEvent.parse({"name": EVENT_NAME, "data": f"{user.email} logged in"})
        with self.users.transaction() as conn:
            self.throttle.succeeded(conn, email)
            outbox.record(conn, event)
        return user.public()

    def ready(self) -> dict[str, Any]:
        """Ready when PostgreSQL answers; the relay's lag is information, never a reason to be unready:
        logins work while RabbitMQ is down, which is what the outbox is for."""
        if not self.users.ping():
            return {"postgres": False, "outbox": None}
        return {"postgres": True, "outbox": self.relay.lag()}

    def close(self) -> None:
        self.relay.stop()
        self.users.close()
