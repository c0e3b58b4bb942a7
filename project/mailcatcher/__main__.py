"""`python -m mailcatcher [--host 127.0.0.1] [--smtp-port 1025] [--http-port 8025]`; stops on SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from labkit.logs import configure_logging
from mailcatcher.catcher import MailCatcher


def main() -> None:
    parser = argparse.ArgumentParser(prog="mailcatcher", description="The lab's stand-in for MailHog.")
    parser.add_argument("--host", default="127.0.0.1", help="address both servers bind (default 127.0.0.1)")
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP port, 0 for a free one (1025)")
    parser.add_argument(
        "--http-port", type=int, default=8025, help="API and inbox port, 0 for a free one (8025)"
    )
    args = parser.parse_args()

    configure_logging("mailcatcher")
    # aiosmtpd logs every SMTP command, and a deprecation warning on every AUTH, under "mail.log".
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("mailcatcher").info("stopping on %s", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        catcher = MailCatcher(args.host, args.smtp_port, args.http_port).start()
    except OSError as exc:
        logging.getLogger("mailcatcher").error("cannot listen on %s: %s", args.host, exc)
        raise SystemExit(1) from None
    try:
        stopping.wait()
    finally:
        catcher.stop()


if __name__ == "__main__":
    main()
