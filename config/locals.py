"""Cheaper access to the asgiref ``Local``s Django reads and writes on every request.

Django keeps its per-request state in ``asgiref.local.Local`` objects: the database connections
(``connections``, thread-critical), the cache backends, the URLconf and script prefix, the active
time zone and language. A list request touches them 13 times (docs/benchmarks.md, "API
overhead"), and each touch is dear in asgiref 3.13: a thread-critical one asks
``asyncio.get_running_loop()``, which raises and catches a RuntimeError in every sync thread
(~9 k instructions a read), and an ordinary one that misses, as the time zone and the caches do
in every request, raises a KeyError and then an AttributeError with its message formatted from
the storage object's repr (~27 k instructions). Together ~10 % of a list request's instructions.

``install()`` puts a stand-in in front of each of them, sharing its storage, so nothing moves and
it can be put in front at any time:

- a thread-critical Local (``_ThreadCriticalLocal``) keeps its values in a ``threading.local``
  while no event loop runs in the thread, and in a per-thread context variable otherwise. The
  stand-in asks ``asyncio._get_running_loop()`` (None, no exception) and, in a sync thread, uses
  that same ``threading.local`` itself; in an async thread it hands the call to the Local.
- an ordinary Local (``_DefaultLocal``) keeps a snapshot of its values in a context variable,
  tagged with the thread that owns it, and replaces the snapshot on every write. The stand-in
  does what asgiref's ``_CVar`` does, on the same context variable: it reads the snapshot with
  the same ownership check and misses with a plain AttributeError, and it writes and deletes by
  replacing the snapshot under the Local's own lock.

It relies on how asgiref 3.13 stores its values (requirements.txt pins it): ``install`` checks
that shape first and leaves a Local it does not recognise alone, which is slower, never wrong.
"""

from __future__ import annotations

import threading
from asyncio import _get_running_loop

from asgiref import local as asgiref_local

_get_ident = threading.get_ident
_MISSING = object()


class ThreadCriticalFastLocal:
    """The stand-in's type for an asgiref ``Local(thread_critical=True)`` (see ``fast``)."""

    __slots__ = ()


class FastReadLocal:
    """The stand-in's type for an asgiref ``Local()`` (see ``fast``)."""

    __slots__ = ()


# The stand-ins define __getattribute__, not __getattr__: on Python 3.11 a class with
# __getattr__ first fails the ordinary lookup, with a formatted AttributeError, on every access
# (~4.5 k instructions). Each stand-in is a class of its own whose methods hold the Local's
# storage in their closure.


def _thread_critical(local) -> ThreadCriticalFastLocal:
    values = local._storage  # the Local's threading.local: its values while no loop runs

    class Standin(ThreadCriticalFastLocal):
        __slots__ = ()

        def __getattribute__(self, key: str):
            if _get_running_loop() is None:
                value = values.__dict__.get(key, _MISSING)
                if value is _MISSING:
                    raise AttributeError(key)
                return value
            return getattr(local, key)

        def __setattr__(self, key: str, value) -> None:
            setattr(values if _get_running_loop() is None else local, key, value)

        def __delattr__(self, key: str) -> None:
            delattr(values if _get_running_loop() is None else local, key)

    return Standin()


def _default(local) -> FastReadLocal:
    snapshot = local._storage._data  # asgiref's _CVar: a ContextVar holding a _Storage
    lock = local._lock
    storage_class = asgiref_local._Storage

    def mine() -> dict:
        # asgiref's _CVar._storage(): a snapshot another thread owns is not this thread's.
        storage = snapshot.get(None)
        if storage is None or storage.thread_id != _get_ident():
            return {}
        return storage.data

    def replace(values: dict) -> None:
        # A new snapshot, owned by this thread (readers holding the old one keep it whole).
        snapshot.set(storage_class(_get_ident(), values))

    class Standin(FastReadLocal):
        __slots__ = ()

        def __getattribute__(self, key: str):
            value = mine().get(key, _MISSING)
            if value is _MISSING:
                raise AttributeError(key)
            return value

        def __setattr__(self, key: str, value) -> None:
            if key == "_data":  # as asgiref refuses it
                raise AttributeError("Cannot set attribute '_data' on Local")
            with lock:
                values = dict(mine())
                values[key] = value
                replace(values)

        def __delattr__(self, key: str) -> None:
            with lock:
                values = dict(mine())
                if key not in values:
                    raise AttributeError(key)
                del values[key]
                replace(values)

    return Standin()


def fast(local):
    """A stand-in for ``local``, or ``local`` itself when it is not a Local this module knows."""
    if isinstance(local, ThreadCriticalFastLocal | FastReadLocal):
        return local
    critical = getattr(asgiref_local, "_ThreadCriticalLocal", None)
    default = getattr(asgiref_local, "_DefaultLocal", None)
    storage = getattr(local, "_storage", None)
    if critical is not None and type(local) is critical and type(storage) is threading.local:
        return _thread_critical(local)
    if (default is not None and type(local) is default and type(storage) is getattr(asgiref_local, "_CVar", None)
            and {"thread_id", "data"} <= set(getattr(getattr(asgiref_local, "_Storage", None), "__slots__", ()))
            and hasattr(local, "_lock")):
        return _default(local)
    return local


def install() -> None:
    """Put the stand-ins in front of Django's per-request Locals (config/apps.py, at startup)."""
    from django.core.cache import caches
    from django.db import connections
    from django.urls import base as urls
    from django.utils import timezone
    from django.utils.translation import trans_real

    for handler in (connections, caches):
        handler._connections = fast(handler._connections)
    urls._urlconfs = fast(urls._urlconfs)
    urls._prefixes = fast(urls._prefixes)
    timezone._active = fast(timezone._active)
    trans_real._active = fast(trans_real._active)
