#!/usr/bin/env bash
# Installs the small tools the tests drive besides Postfix and PostgreSQL:
# - openssl: the RSA key generation behind `mailcast dkim keygen`.
# - faketime: runs `mailcast serve` with its clock days ahead, for the expiry of held posts
#   (`max_days_to_hold`) without a test hook in the daemon.
# - a Python virtualenv at the repo's .venv holding mailmanclient, the REST client Postorius
#   and HyperKitty use, which crates/daemon/tests/rest/mailmanclient_acceptance.py drives
#   mailcast's REST API with; and dkimpy (with PyNaCl for Ed25519, and authres for ARC), the
#   independent DKIM and ARC signer and verifier of crates/daemon/tests/dkim.rs and arc.rs.
# - nsd: the loopback DNS server of the DMARC and DNS tests.
# - sasl2-bin (saslpasswd2) and the Cyrus SASL modules: AUTH against the private Postfix.
# Idempotent; runs as root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "tools-install.sh: run as root" >&2
    exit 1
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/.venv"
mailmanclient_version=3.3.5
dkimpy_version=1.1.8

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v faketime >/dev/null 2>&1; then
    apt_install faketime
    echo "tools-install.sh: $(faketime --version 2>&1 | head -n 1)"
fi

# `mailcast dkim keygen` makes RSA keys with `openssl genpkey` (crates/daemon/tests/dkim.rs).
if ! command -v openssl >/dev/null 2>&1; then
    apt_install openssl
fi

# Cyrus SASL's saslpasswd2 and its PLAIN/LOGIN and sasldb modules: the private Postfix of
# crates/daemon/tests/relay_tls.rs checks mailcast's AUTH against a sasldb of its own.
if ! command -v saslpasswd2 >/dev/null 2>&1; then
    apt_install sasl2-bin libsasl2-modules libsasl2-modules-db
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now saslauthd >/dev/null 2>&1 || true
    fi
fi

# NSD, the authoritative DNS server the DMARC/DKIM/ARC tests start on loopback
# (crates/daemon/tests/support/nsd.rs); the tests run it themselves, so the service is stopped.
if [ ! -x /usr/sbin/nsd ]; then
    apt_install nsd
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now nsd >/dev/null 2>&1 || true
    fi
fi

# True when the venv imports mailmanclient and dkimpy at exactly the pinned versions.
venv_ready() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$mailmanclient_version" "$dkimpy_version" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
import mailmanclient  # noqa: F401
import dkim, nacl, authres  # noqa: F401
sys.exit(0 if version("mailmanclient") == sys.argv[1] and version("dkimpy") == sys.argv[2] else 1)
EOF
}

if ! venv_ready; then
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3 python3-venv
    fi
    # A venv without a working pip (Debian's python3 lacks ensurepip until python3-venv is
    # installed, and then leaves a half-made venv behind) is made again from scratch.
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        "mailmanclient==$mailmanclient_version" "dkimpy[ed25519,ARC]==$dkimpy_version"
    if ! venv_ready; then
        echo "tools-install.sh: $venv has no mailmanclient $mailmanclient_version or dkimpy $dkimpy_version" >&2
        exit 1
    fi
    echo "tools-install.sh: mailmanclient $mailmanclient_version, dkimpy $dkimpy_version in $venv"
fi

# Headless Chromium and its driver for the Postorius browser tests
# (crates/daemon/tests/postorius_browser.rs), and the Postorius venv (.venv-postorius, with
# selenium) that scripts/postorius-up.sh makes from contrib/postorius/requirements.txt.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver
    echo "tools-install.sh: $(chromium --version 2>/dev/null | head -n 1)"
fi
"$repo/scripts/postorius-up.sh" --install
# The HyperKitty venv (.venv-hyperkitty) for the HyperKitty archiver's tests
# (crates/daemon/tests/archive_hyperkitty.rs), from contrib/hyperkitty/requirements.txt.
"$repo/scripts/hyperkitty-up.sh" --install
