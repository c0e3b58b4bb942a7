"""The lab's native mail catcher, its stand-in for MailHog: SMTP in, MailHog's API and an inbox page out.

Run it with `python -m mailcatcher`, or in-process (tests): `with MailCatcher("127.0.0.1", 0, 0) as c: ...`.
"""

from mailcatcher.catcher import MailCatcher

__all__ = ["MailCatcher"]
