"""Settings of the HyperKitty site that scripts/hyperkitty-up.sh runs for mailcast's archiver.

Everything a deployment changes comes from the environment (hyperkitty-up.sh sets it):

- HYPERKITTY_ARCHIVER_KEY: the key mailcast sends (`[archiver.hyperkitty] api_key`), which
  HyperKitty reads as MAILMAN_ARCHIVER_KEY;
- HYPERKITTY_ARCHIVER_FROM: comma-separated client addresses allowed to archive
  (MAILMAN_ARCHIVER_FROM; loopback by default);
- MAILCAST_REST_URL, MAILCAST_REST_USER, MAILCAST_REST_PASS: mailcast's REST API, which
  HyperKitty asks for list details (display name, archive policy) when a post arrives; when
  it cannot be reached HyperKitty archives all the same, with its defaults;
- HYPERKITTY_STATE: the directory for the SQLite database, the Whoosh index, the secret key
  and static files;
- HYPERKITTY_ALLOWED_HOSTS: comma-separated host names the site answers to.

A loopback site for operators trying HyperKitty and for the archiver's tests: Django-Q runs
its tasks synchronously in the request (no cluster to start), mail goes to the console,
sign-up and social logins are off, and nothing here is tuned for production.
"""

import os
import secrets
from pathlib import Path

STATE = Path(
    os.environ.get("HYPERKITTY_STATE", Path(__file__).resolve().parents[3] / "var" / "hyperkitty")
)
STATE.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """A key made once per state directory, never committed."""
    path = STATE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("HYPERKITTY_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("HYPERKITTY_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

MAILMAN_REST_API_URL = os.environ.get("MAILCAST_REST_URL", "http://127.0.0.1:8001")
MAILMAN_REST_API_USER = os.environ.get("MAILCAST_REST_USER", "restadmin")
MAILMAN_REST_API_PASS = os.environ.get("MAILCAST_REST_PASS", "restpass")
MAILMAN_ARCHIVER_KEY = os.environ.get("HYPERKITTY_ARCHIVER_KEY", "")
MAILMAN_ARCHIVER_FROM = tuple(
    os.environ.get("HYPERKITTY_ARCHIVER_FROM", "127.0.0.1,::1").split(",")
)
if not MAILMAN_ARCHIVER_KEY:
    raise RuntimeError("HYPERKITTY_ARCHIVER_KEY must be set (mailcast's [archiver.hyperkitty] api_key)")

SITE_ID = 1

INSTALLED_APPS = [
    "hyperkitty",
    "django_mailman3",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_gravatar",
    "compressor",
    "haystack",
    "django_extensions",
    "django_q",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_mailman3.middleware.TimezoneMiddleware",
]

ROOT_URLCONF = "mailcast_hyperkitty.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.i18n",
                "django.template.context_processors.media",
                "django.template.context_processors.static",
                "django.template.context_processors.tz",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django_mailman3.context_processors.common",
                "hyperkitty.context_processors.common",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(STATE / "hyperkitty.sqlite3"),
        # Requests and the archiver's posts may write at the same time.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "hk_root"
LOGOUT_URL = "account_logout"

ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
SOCIALACCOUNT_PROVIDERS = {}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "hyperkitty@localhost"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = str(STATE / "static")
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "compressor.finders.CompressorFinder",
]
# No precompilers (sassc and friends are not installed): the pages use the shipped CSS.
COMPRESS_ENABLED = False
COMPRESS_PRECOMPILERS = ()

# Full-text search: Whoosh files in the state directory, indexed as posts are saved.
HAYSTACK_CONNECTIONS = {
    "default": {
        "ENGINE": "haystack.backends.whoosh_backend.WhooshEngine",
        "PATH": str(STATE / "whoosh_index"),
    },
}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.RealtimeSignalProcessor"

# Django-Q: tasks run in the request that queues them (no `qcluster` process to run).
Q_CLUSTER = {"retry": 60, "timeout": 30, "orm": "default", "sync": True}

# Show every list HyperKitty has, whatever host name the page was asked for.
FILTER_VHOST = False
SHOW_INACTIVE_LISTS_DEFAULT = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(asctime)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO"},
        "hyperkitty": {"handlers": ["console"], "level": "INFO"},
        "django_mailman3.lib.mailman": {"handlers": ["console"], "level": "ERROR"},
        "django-q": {"handlers": ["console"], "level": "ERROR"},
    },
}
