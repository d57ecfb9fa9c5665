#!/usr/bin/env bash
# Runs HyperKitty (Mailman 3's archive web UI) on loopback, for mailcast's HyperKitty archiver.
#
#   scripts/hyperkitty-up.sh            install if needed, prepare the site, serve (foreground)
#   scripts/hyperkitty-up.sh --install  only make the virtualenv (scripts/tools-install.sh)
#   scripts/hyperkitty-up.sh --prepare  install and prepare (database, superuser), do not serve
#
# The virtualenv is <repo>/.venv-hyperkitty with the pinned packages of
# contrib/hyperkitty/requirements.txt (hyperkitty 1.3.12, django-mailman3 1.3.15, Django 5.0,
# Whoosh); the Django project is contrib/hyperkitty/, mounted at /hyperkitty/. Idempotent: a
# venv with the pinned versions is kept, migrations and the superuser are applied again
# without harm. The server is Django's runserver (threaded, no reloader, static files served
# with --insecure): good for loopback and tests, not for production.
#
# mailcast's side (mailcast.toml), with the same key:
#   [archiver.hyperkitty]
#   enable = true
#   base_url = "http://127.0.0.1:8020/hyperkitty/"
#   api_key = "<HYPERKITTY_ARCHIVER_KEY>"
#
# Environment (defaults in brackets):
#   HYPERKITTY_ARCHIVER_KEY [mailcast-archiver-key]  the archiver key (MAILMAN_ARCHIVER_KEY)
#   HYPERKITTY_ARCHIVER_FROM [127.0.0.1,::1]  client addresses allowed to archive
#   HYPERKITTY_LISTEN [127.0.0.1:8020]        where the site listens
#   HYPERKITTY_STATE [<repo>/var/hyperkitty]  SQLite database, Whoosh index, secret key, static
#   MAILCAST_REST_URL [http://127.0.0.1:8001] mailcast's REST API (list details)
#   MAILCAST_REST_USER / MAILCAST_REST_PASS [restadmin / restpass]
#   HYPERKITTY_ADMIN_USER / HYPERKITTY_ADMIN_PASS / HYPERKITTY_ADMIN_EMAIL
#                  [admin / admin-pass / admin@example.org]  the superuser
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/.venv-hyperkitty"
project="$repo/contrib/hyperkitty"
requirements="$project/requirements.txt"
mode="${1:-serve}"

# True when the venv has exactly the pinned packages HyperKitty needs.
venv_ready() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$requirements" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pinned = line.split("==")
        if version(name) != pinned:
            sys.exit(1)
PY
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
        echo "hyperkitty-up.sh: $venv does not match $requirements" >&2
        exit 1
    fi
    echo "hyperkitty-up.sh: HyperKitty $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("hyperkitty"))') in $venv"
}

export HYPERKITTY_ARCHIVER_KEY="${HYPERKITTY_ARCHIVER_KEY:-mailcast-archiver-key}"
export HYPERKITTY_ARCHIVER_FROM="${HYPERKITTY_ARCHIVER_FROM:-127.0.0.1,::1}"
export MAILCAST_REST_URL="${MAILCAST_REST_URL:-http://127.0.0.1:8001}"
export MAILCAST_REST_USER="${MAILCAST_REST_USER:-restadmin}"
export MAILCAST_REST_PASS="${MAILCAST_REST_PASS:-restpass}"
listen="${HYPERKITTY_LISTEN:-127.0.0.1:8020}"
export HYPERKITTY_STATE="${HYPERKITTY_STATE:-$repo/var/hyperkitty}"
export HYPERKITTY_ALLOWED_HOSTS="${HYPERKITTY_ALLOWED_HOSTS:-${listen%:*},localhost}"
export DJANGO_SETTINGS_MODULE=mailcast_hyperkitty.settings
admin_user="${HYPERKITTY_ADMIN_USER:-admin}"
admin_pass="${HYPERKITTY_ADMIN_PASS:-admin-pass}"
admin_email="${HYPERKITTY_ADMIN_EMAIL:-admin@example.org}"

manage() {
    (cd "$project" && "$venv/bin/python" manage.py "$@")
}

prepare() {
    mkdir -p "$HYPERKITTY_STATE"
    manage migrate --noinput -v 0
    # The superuser, its password set every time (so the variables always hold), and the
    # site's domain: the host HyperKitty is served on.
    HYPERKITTY_ADMIN_USER="$admin_user" HYPERKITTY_ADMIN_PASS="$admin_pass" \
        HYPERKITTY_ADMIN_EMAIL="$admin_email" HYPERKITTY_SITE="$listen" manage shell -c '
import os
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site

name, password, email = (os.environ[k] for k in
    ("HYPERKITTY_ADMIN_USER", "HYPERKITTY_ADMIN_PASS", "HYPERKITTY_ADMIN_EMAIL"))
user, _ = get_user_model().objects.get_or_create(username=name)
user.email, user.is_staff, user.is_superuser = email, True, True
user.set_password(password)
user.save()
Site.objects.update_or_create(id=1, defaults={"domain": os.environ["HYPERKITTY_SITE"], "name": "mailcast"})
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
        echo "hyperkitty-up.sh: HyperKitty on http://$listen/hyperkitty/ (login: $admin_user)"
        cd "$project"
        exec "$venv/bin/python" manage.py runserver --noreload --insecure "$listen"
        ;;
    *)
        echo "usage: scripts/hyperkitty-up.sh [--install | --prepare]" >&2
        exit 2
        ;;
esac
