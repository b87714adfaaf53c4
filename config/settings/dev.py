"""`make demo` on a fresh machine: embedded PostgreSQL, Redis only if REDIS_URL is set."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env

# DEBUG stays off unless asked for: API clients get the JSON error shape, not HTML.
DEBUG = env.bool("DEBUG", default=False)
