"""Chromium (Debian's, driven by Playwright) for the browser tests in this folder."""

from chromium import browser, page

__all__ = ["browser", "page"]
