"""PostgreSQL with pgvector: DATABASE_URL, or the embedded server on a fresh machine."""

from config.settings.env import BASE_DIR, env

DATABASE_URL = env.str("DATABASE_URL", default="")
EMBEDDED_PG_DIR = BASE_DIR / ".data" / "pg"

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    # Started on first connection by the backend itself (config/embedded_db).
    DATABASES = {
        "default": {
            "ENGINE": "config.embedded_db",
            "NAME": "frontdesk",
            "USER": "postgres",
            "EMBEDDED_PGDATA": str(EMBEDDED_PG_DIR),
        }
    }

DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
