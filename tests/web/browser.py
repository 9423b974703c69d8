"""How this project starts Debian's chromium through Playwright (tests and the render
benchmark): the system browser by ``executable_path``, never a downloaded one, with the
flags a root user on a machine without internet needs (shared/ENVIRONMENT.md)."""

from __future__ import annotations

import os
from typing import Any

from playwright.sync_api import Browser

CHROMIUM = os.environ.get("ADBANDIT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def launch(playwright: Any) -> Browser:
    """Headless chromium from a ``sync_playwright()`` context."""
    browser: Browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=ARGS, headless=True
    )
    return browser
