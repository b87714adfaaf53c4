"""The one place that reads the process environment.

Every setting that comes from the outside is read here and nowhere else
(CONVENTIONS.md: one env reader). Other settings modules import ``env`` and
``BASE_DIR`` from this module.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


class ImproperlyConfiguredSecret(Exception):
    """A production secret is missing or malformed; the boot stops with its name."""


def require(name: str, *, min_length: int = 1) -> str:
    """Read a mandatory secret, stopping the boot with a message that names it."""
    value = env.str(name, default="")
    if len(value) < min_length:
        detail = "is not set" if not value else f"is shorter than {min_length} characters"
        raise ImproperlyConfiguredSecret(f"{name} {detail}; production settings refuse to start without it.")
    return value
