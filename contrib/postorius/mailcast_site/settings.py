"""Settings of the Postorius site that scripts/postorius-up.sh runs against `mailcast serve`.

Everything a deployment changes comes from the environment (postorius-up.sh sets it):

- MAILCAST_REST_URL, MAILCAST_REST_USER, MAILCAST_REST_PASS: mailcast's REST API
  (`rest.listen`, `rest.admin_user`, `rest.admin_pass`);
- POSTORIUS_STATE: the directory for the SQLite database, the secret key and static files;
- POSTORIUS_ALLOWED_HOSTS: comma-separated host names the site answers to;
- POSTORIUS_BASE_URL: the site's own URL (Postorius gives it to Mailman in template URIs).

It is a loopback site for operators trying Postorius and for the browser tests: mail goes
to the console, sign-up and social logins are off, and nothing here is tuned for production.
"""

import os
import secrets
from pathlib import Path

STATE = Path(os.environ.get("POSTORIUS_STATE", Path(__file__).resolve().parents[3] / "var" / "postorius"))
STATE.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """A key made once per state directory, never committed."""
    path = STATE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("POSTORIUS_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("POSTORIUS_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

MAILMAN_REST_API_URL = os.environ.get("MAILCAST_REST_URL", "http://127.0.0.1:8001")
MAILMAN_REST_API_USER = os.environ.get("MAILCAST_REST_USER", "restadmin")
MAILMAN_REST_API_PASS = os.environ.get("MAILCAST_REST_PASS", "restpass")
POSTORIUS_TEMPLATE_BASE_URL = os.environ.get("POSTORIUS_BASE_URL", "http://127.0.0.1:8010")

SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "postorius",
    "django_mailman3",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "django_gravatar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_mailman3.middleware.TimezoneMiddleware",
    "postorius.middleware.PostoriusMiddleware",
]

ROOT_URLCONF = "mailcast_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.i18n",
                "django.template.context_processors.static",
                "django.template.context_processors.tz",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django_mailman3.context_processors.common",
                "postorius.context_processors.postorius",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(STATE / "postorius.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "list_index"
LOGOUT_URL = "account_logout"

# Accounts: local logins only; no mail has to be confirmed to log in.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
SOCIALACCOUNT_PROVIDERS = {}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "postorius@localhost"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = str(STATE / "static")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(asctime)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO"},
        "postorius": {"handlers": ["console"], "level": "INFO"},
        "django_mailman3": {"handlers": ["console"], "level": "INFO"},
    },
}
