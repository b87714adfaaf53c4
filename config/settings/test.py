"""The test suite: real PostgreSQL (embedded unless DATABASE_URL), real Redis.

Tests use their own Redis database (TEST_REDIS_URL, db 15 by default) so a run
never touches the demo's or production's keys.
"""

from config.settings.base import *  # noqa: F403
from config.settings.env import env
from config.settings.redis import redis_services

DEBUG = False
globals().update(redis_services(env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15"), key_prefix="fdtest"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
