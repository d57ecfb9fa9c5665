#!/usr/bin/env bash
# Runs Postorius (Mailman 3's web UI) against a running `mailcast serve`, on loopback.
#
#   scripts/postorius-up.sh            install if needed, prepare the site, serve (foreground)
#   scripts/postorius-up.sh --install  only make the virtualenv (scripts/tools-install.sh)
#   scripts/postorius-up.sh --prepare  install and prepare (database, superuser), do not serve
#
# The virtualenv is <repo>/.venv-postorius with the pinned packages of
# contrib/postorius/requirements.txt (postorius 1.3.13, django-mailman3 1.3.15, Django 5.0,
# selenium for the browser tests); the Django project is contrib/postorius/. Idempotent: a
# venv with the pinned versions is kept, migrations and the superuser are applied again
# without harm. The server is Django's runserver (threaded, no reloader, static files served
# with --insecure): good for loopback and tests, not for production.
#
# Environment (defaults in brackets):
#   MAILCAST_REST_URL [http://127.0.0.1:8001]  mailcast's REST API (rest.listen)
#   MAILCAST_REST_USER / MAILCAST_REST_PASS [restadmin / restpass]
#   POSTORIUS_LISTEN [127.0.0.1:8010]          where the site listens
#   POSTORIUS_STATE [<repo>/var/postorius]     SQLite database, secret key, static files
#   POSTORIUS_ADMIN_USER / POSTORIUS_ADMIN_PASS / POSTORIUS_ADMIN_EMAIL
#                  [admin / admin-pass / admin@example.org]  the superuser
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/.venv-postorius"
project="$repo/contrib/postorius"
requirements="$project/requirements.txt"
mode="${1:-serve}"

# True when the venv has exactly the pinned packages Postorius needs.
venv_ready() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$requirements" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pinned = line.split("==")
        if version(name) != pinned:
            sys.exit(1)
EOF
}

install() {
    if venv_ready; then
        return
    fi
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    if ! venv_ready; then
        echo "postorius-up.sh: $venv does not match $requirements" >&2
        exit 1
    fi
    echo "postorius-up.sh: Postorius $("$venv/bin/python" -c 'import postorius; print(postorius.__version__)') in $venv"
}

export MAILCAST_REST_URL="${MAILCAST_REST_URL:-http://127.0.0.1:8001}"
export MAILCAST_REST_USER="${MAILCAST_REST_USER:-restadmin}"
export MAILCAST_REST_PASS="${MAILCAST_REST_PASS:-restpass}"
listen="${POSTORIUS_LISTEN:-127.0.0.1:8010}"
export POSTORIUS_STATE="${POSTORIUS_STATE:-$repo/var/postorius}"
export POSTORIUS_BASE_URL="${POSTORIUS_BASE_URL:-http://$listen}"
export POSTORIUS_ALLOWED_HOSTS="${POSTORIUS_ALLOWED_HOSTS:-${listen%:*},localhost}"
export DJANGO_SETTINGS_MODULE=mailcast_site.settings
admin_user="${POSTORIUS_ADMIN_USER:-admin}"
admin_pass="${POSTORIUS_ADMIN_PASS:-admin-pass}"
admin_email="${POSTORIUS_ADMIN_EMAIL:-admin@example.org}"

manage() {
    (cd "$project" && "$venv/bin/python" manage.py "$@")
}

prepare() {
    mkdir -p "$POSTORIUS_STATE"
    manage migrate --noinput -v 0
    # The superuser, its password set every time (so the variables always hold), and its
    # address marked verified and primary for allauth.
    POSTORIUS_ADMIN_USER="$admin_user" POSTORIUS_ADMIN_PASS="$admin_pass" \
        POSTORIUS_ADMIN_EMAIL="$admin_email" manage shell -c '
import os
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site

name, password, email = (os.environ[k] for k in
    ("POSTORIUS_ADMIN_USER", "POSTORIUS_ADMIN_PASS", "POSTORIUS_ADMIN_EMAIL"))
user, _ = get_user_model().objects.get_or_create(username=name)
user.email, user.is_staff, user.is_superuser = email, True, True
user.set_password(password)
user.save()
EmailAddress.objects.update_or_create(
    user=user, email=email, defaults={"verified": True, "primary": True})
host = os.environ["POSTORIUS_BASE_URL"].split("://")[-1].split("/")[0]
Site.objects.update_or_create(id=1, defaults={"domain": host, "name": "mailcast"})
'
}

case "$mode" in
    --install)
        install
        ;;
    --prepare)
        install
        prepare
        ;;
    serve)
        install
        prepare
        echo "postorius-up.sh: Postorius on http://$listen/ for $MAILCAST_REST_URL (login: $admin_user)"
        cd "$project"
        exec "$venv/bin/python" manage.py runserver --noreload --insecure "$listen"
        ;;
    *)
        echo "usage: scripts/postorius-up.sh [--install | --prepare]" >&2
        exit 2
        ;;
esac
