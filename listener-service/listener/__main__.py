"""`python -m listener`: the consumer in its own thread, health on PORT, a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from labkit.config import load_or_exit
from listener.config import Config
from listener.consumer import Listener
from listener.health import create_health_server

log = logging.getLogger("listener")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
JOIN_SECONDS = 30.0


def wait_for_stop_signal(consumer: threading.Thread) -> bool:
    """True once SIGTERM or SIGINT arrives; False if the consumer thread ended on its own first."""
    while consumer.is_alive():
        received = signal.sigtimedwait(STOP_SIGNALS, 1.0)
        if received is not None:
            log.info("received %s; stopping", signal.Signals(received.si_signo).name)
            return True
    return False


def main() -> int:
    config = load_or_exit(Config.from_env, "listener")
    # Blocked before any thread starts, so every thread inherits the mask and only sigtimedwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    listener = Listener(config)
    try:
        server, port = create_health_server(config.host, config.port, listener.ready)
    except OSError as exc:
        log.error("cannot serve health on %s:%s: %s", config.host, config.port, exc)
        return 1
    consumer = threading.Thread(target=listener.run, name="consumer")
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    consumer.start()
    log.info("listener started; health on %s:%s", config.host, port)
    signalled = wait_for_stop_signal(consumer)
    listener.stop()
    consumer.join(JOIN_SECONDS)
    server.shutdown()
    server.server_close()
    if not signalled or consumer.is_alive():
        log.error("consumer ended unexpectedly or did not stop within %.0fs", JOIN_SECONDS)
        return 1
    log.info("listener stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
