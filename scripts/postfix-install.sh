#!/usr/bin/env bash
# Installs Debian's postfix for the end-to-end tests without letting it take the system's port 25:
# debconf is told "No configuration", so the package installs binaries only and starts nothing.
# The tests run their own private instance (own config and queue directories, loopback ports).
# Idempotent; runs as root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "postfix-install.sh: run as root" >&2
    exit 1
fi
if [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postmap ] && [ -x /usr/sbin/smtp-sink ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends postfix >/dev/null
# Debian's postinst may enable the service; the tests never use the system instance.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now postfix >/dev/null 2>&1 || true; fi
postfix stop >/dev/null 2>&1 || true
echo "postfix-install.sh: postfix $(postconf -d -h mail_version 2>/dev/null || echo '?') installed"
