"""BCRYPT_COST sets the cost of the hashes the service stores (the default, 12, is in test_auth_config)."""

from __future__ import annotations

import bcrypt
import psycopg
import pytest

from authentication import create_app
from authentication.config import Config


@pytest.mark.parametrize("cost", [4, 6])
def test_the_seed_user_hash_uses_the_configured_cost(auth_dsn: str, closed_amqp_url: str, cost: int) -> None:
    config = Config.from_env({"DSN": auth_dsn, "BCRYPT_COST": str(cost), "AMQP_URL": closed_amqp_url})
    app = create_app(config)
    try:
        response = app.test_client().post(
            "/authenticate", json={"email": "admin@example.com", "password": "verysecret"}
        )
    finally:
        app.extensions["authenticator"].close()

    assert response.status_code == 202
    with psycopg.connect(auth_dsn) as conn:
        [(stored,)] = conn.execute("SELECT password FROM users WHERE email = 'admin@example.com'").fetchall()
    assert stored.startswith(f"$2b${cost:02d}$")
    assert bcrypt.checkpw(b"verysecret", stored.encode())
