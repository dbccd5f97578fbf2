"""Minimal Django settings for the claimbench target: no database, no apps, no middleware.

The same project serves both entry points: wsgi.py (gunicorn) routes to the
sync views, asgi.py (uvicorn) to the async views; each entry point sets
CLAIMBENCH_DJANGO_VIEWS before Django loads these settings.
"""

import os

SECRET_KEY = "claimbench-target-no-secrets-here"  # nothing is signed: no sessions, no CSRF
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# No apps, no database, no templates: only URL routing, views and responses.
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
TEMPLATES: list = []

# No middleware at all, in both the WSGI and the ASGI setup: CommonMiddleware
# (APPEND_SLASH, host-independent rewrites), SecurityMiddleware, sessions, CSRF
# and auth do nothing for this API and are left OFF, identically everywhere.
MIDDLEWARE: list[str] = []

ROOT_URLCONF = "cbsite.urls"

USE_I18N = False
USE_TZ = True

# POST /json/echo accepts bodies up to 2 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Errors (5xx) go to stderr; 4xx warnings and access lines are not logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
