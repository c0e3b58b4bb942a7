"""The browser fixtures of tests/lab (Debian's Chromium driven by Playwright), for the Docker test's page."""

from lab.conftest import browser, page

__all__ = ["browser", "page"]
