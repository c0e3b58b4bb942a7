"""An outbox relay that dies at the worst moment, run as a process by test_faults_outbox.py:
`python crashing_relay.py DSN AMQP_URL`. It takes the steps of OutboxRelay.relay_batch up to the
publishing (claim the unsent rows, publish each and get RabbitMQ's confirm), prints the event ids it
published, and SIGKILLs itself before the rows are marked sent and the transaction commits.
"""

from __future__ import annotations

import os
import signal
import sys

from authentication.config import MIN_BCRYPT_COST, Config
from authentication.outbox import claim
from authentication.service import Authenticator


def main(dsn: str, amqp_url: str) -> None:
    authenticator = Authenticator(Config(dsn=dsn, amqp_url=amqp_url, bcrypt_cost=MIN_BCRYPT_COST))
    with authenticator.users.transaction() as conn:
        events = claim(conn, 100)
        published, failure = authenticator.relay.publish(events)
        assert failure is None, failure.message
        print(" ".join(published), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
