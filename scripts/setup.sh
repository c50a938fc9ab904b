#!/usr/bin/env bash
# Installs everything the dashboard and the tests need from this project's own files: the
# project itself, editable, with the pinned packages of pyproject.toml (the `rcfg-studio`
# command included), and Debian's Chromium for the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser test" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium is missing and cannot be installed here (needs root and" \
         "apt-get); the browser test will be skipped" >&2
  fi
fi
