"""The stand-ins for Django's asgiref Locals (config/locals.py) behave exactly as the Locals do.

Each scenario runs once on a plain asgiref ``Local`` and once on the stand-in for another one,
and both must observe the same things: the same values in the same threads, tasks and contexts.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async

from config import locals as fast_locals


def _get(local, key="value"):
    return getattr(local, key, "<missing>")


def _in_thread(function):
    out = []
    thread = threading.Thread(target=lambda: out.append(function()))
    thread.start()
    thread.join()
    return out[0]


def _scenario(local) -> list:
    seen = [_get(local), hasattr(local, "value")]
    local.value = "main"
    seen += [_get(local), hasattr(local, "value")]
    seen.append(_in_thread(lambda: _get(local)))  # another sync thread

    def set_in_thread():
        local.value = "thread"
        return _get(local)

    seen += [_in_thread(set_in_thread), _get(local)]
    seen.append(contextvars.copy_context().run(_get, local))  # a copied context (the WSGI bridge)

    def set_in_copy():
        local.value = "copy"
        return _get(local)

    seen += [contextvars.copy_context().run(set_in_copy), _get(local)]
    copied = contextvars.copy_context()  # this thread's context, run in another thread (the bridge)
    seen.append(_in_thread(lambda: copied.run(_get, local)))

    async def child():
        return _get(local)

    async def main():
        observed = [_get(local)]
        local.value = "task"
        observed.append(await asyncio.create_task(child()))
        observed.append(await sync_to_async(_get)(local))  # thread_sensitive hop
        observed.append(await sync_to_async(_get, thread_sensitive=False)(local))

        def set_in_sync():
            local.value = "from sync"

        await sync_to_async(set_in_sync)()
        observed.append(_get(local))
        del local.value
        observed += [_get(local), hasattr(local, "value")]
        return observed

    seen += asyncio.run(main())
    seen.append(_get(local))

    async def read():
        return _get(local)

    seen.append(async_to_sync(read)())  # the sync thread's value, seen from async code
    del local.value
    seen += [_get(local), hasattr(local, "value")]
    with pytest.raises(AttributeError):
        del local.value
    with pytest.raises(AttributeError):
        local.missing  # noqa: B018
    return seen


@pytest.mark.parametrize("critical", [False, True], ids=["Local()", "Local(thread_critical=True)"])
def test_a_stand_in_sees_what_the_local_sees(critical):
    standin = fast_locals.fast(Local(critical))
    assert type(standin).__module__ == "config.locals"
    assert _scenario(standin) == _scenario(Local(critical))


@pytest.mark.parametrize("critical", [False, True], ids=["Local()", "Local(thread_critical=True)"])
def test_a_stand_in_shares_the_values_already_in_its_local(critical):
    local = Local(critical)
    local.value = "before"
    standin = fast_locals.fast(local)
    assert standin.value == "before"
    standin.value = "after"
    assert local.value == "after"
    assert _in_thread(lambda: _get(standin)) == "<missing>"


def test_a_stand_in_is_not_wrapped_twice_and_unknown_objects_are_left_alone():
    standin = fast_locals.fast(Local())
    assert fast_locals.fast(standin) is standin
    plain = threading.local()
    assert fast_locals.fast(plain) is plain


def test_the_default_local_refuses_data_as_asgiref_does():
    with pytest.raises(AttributeError):
        fast_locals.fast(Local())._data = 1


def test_django_runs_on_the_stand_ins(db):
    """At startup (config/apps.py) the stand-ins go in front of Django's per-request Locals, and
    Django's own use of them (connections, URLconf, time zone, caches) still works."""
    from django.core.cache import caches
    from django.db import connection, connections
    from django.urls import base as urls
    from django.urls import get_script_prefix, get_urlconf, set_script_prefix, set_urlconf
    from django.utils import timezone
    from django.utils.translation import override, trans_real

    standins = (fast_locals.ThreadCriticalFastLocal, fast_locals.FastReadLocal)
    assert isinstance(connections._connections, fast_locals.ThreadCriticalFastLocal)
    for local in (urls._urlconfs, urls._prefixes, timezone._active, trans_real._active):
        assert isinstance(local, fast_locals.FastReadLocal)
    # (A test overriding CACHES, or LANGUAGE_CODE for trans_real, would get a plain Local from
    # Django's setting_changed handlers from then on: slower, still right. None does.)
    assert isinstance(caches._connections, standins)

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert _in_thread(lambda: connections["default"]) is not connections["default"]  # one per thread

    set_urlconf("tests.missing_urls")
    assert get_urlconf() == "tests.missing_urls"
    set_urlconf(None)
    assert get_urlconf() is None
    set_script_prefix("/shop")
    assert get_script_prefix() == "/shop/"
    set_script_prefix("/")
    with timezone.override("Europe/Paris"):
        assert str(timezone.get_current_timezone()) == "Europe/Paris"
    assert timezone.get_current_timezone() == timezone.get_default_timezone()
    with override("fr"):
        assert trans_real.get_language() == "fr"
