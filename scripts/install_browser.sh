#!/usr/bin/env bash
# Chromium for tests/test_browser.py: Playwright drives the system browser at
# /usr/bin/chromium (never `playwright install`, which downloads its own build).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
