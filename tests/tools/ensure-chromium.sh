#!/usr/bin/env bash
# Makes Debian's `chromium` available for the dashboard's browser test (tests/test_dashboard.py).
# Run by hand (or by CI if it chooses to); the test suite itself never installs anything.
# Needs root or sudo and an apt mirror; prints the binary's path on success.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then command -v chromium; exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
