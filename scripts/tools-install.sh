#!/usr/bin/env bash
# Installs the small Debian tools the tests drive besides Postfix and PostgreSQL:
# - faketime: runs `mailcast serve` with its clock days ahead, for the expiry of held posts
#   (`max_days_to_hold`) without a test hook in the daemon.
# Idempotent; runs as root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "tools-install.sh: run as root" >&2
    exit 1
fi
if command -v faketime >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends faketime >/dev/null
echo "tools-install.sh: $(faketime --version 2>&1 | head -n 1)"
