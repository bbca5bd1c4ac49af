"""Settings of the test project; the database comes from ``BRIDGE_TEST_DJANGO_DATABASE``."""

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "django-insecure-bridge-tests-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY_FALLBACKS: list[str] = []
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
TIME_ZONE = "Europe/Paris"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "tests.cms_adapters.django_project.accounts",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.cms_adapters.django_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
AUTH_USER_MODEL = "accounts.Member"
# Fast hashing: the suites create hundreds of users (production keeps PBKDF2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
SESSION_ENGINE = os.environ.get(
    "BRIDGE_TEST_DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.db"
)
SESSION_FILE_PATH = os.environ.get("BRIDGE_TEST_TMP") or tempfile.gettempdir()


def _database(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
    }


DATABASE_URL = os.environ.get(
    "BRIDGE_TEST_DJANGO_DATABASE", f"sqlite:///{tempfile.gettempdir()}/bridge-django-site.db"
)
DATABASES = {"default": _database(DATABASE_URL)}

# The glue suite overrides this with the billing double's settings.
PROABONO_BRIDGE: dict[str, object] = {}
