"""Checking credentials: the throttle, the user lookup, the password check and the login event."""

from __future__ import annotations

from typing import Any

from authentication.config import Config
from authentication.db import SEED_PASSWORD, UserStore
from authentication.events import LoginEvents
from authentication.passwords import PasswordChecker, hash_password
from authentication.throttle import LoginThrottle
from labkit.web import ApiError

INVALID_CREDENTIALS = "invalid credentials"


class Authenticator:
    def __init__(self, config: Config) -> None:
        self.passwords = PasswordChecker(config.bcrypt_cost)
        self.users = UserStore(config.dsn, hash_password(SEED_PASSWORD, config.bcrypt_cost))
        self.throttle = LoginThrottle(self.users)
        self.events = LoginEvents(config.logger_url)

    def login(self, email: str, password: str) -> dict[str, Any]:
        """The user's public fields, or 401 whether the user is unknown, inactive or the password wrong;
        429 without a password check once the email has too many recent failures."""
        self.throttle.attempt(email)
        user = self.users.find_by_email(email)
        matched = self.passwords.matches(password, user.password if user else None)
        if user is None or not matched or not user.active:
            raise ApiError(401, INVALID_CREDENTIALS)
        self.throttle.succeeded(email)
        self.events.logged_in(user.email)
        return user.public()

    def ready(self) -> dict[str, bool]:
        return {"postgres": self.users.ping()}

    def close(self) -> None:
        self.events.close()
        self.users.close()
