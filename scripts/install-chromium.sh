#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright's own browser download does not work offline).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "install-chromium: cannot install Debian's chromium here (needs root and apt-get); browser tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
