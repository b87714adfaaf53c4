"""Admission to the model servers (inference/admission.py) on the test Redis and in-process:
the total capacity, the cap per key, turns between keys, leaving while queued, the bounded wait,
and the leases of a process that dies. Cross-process through the web server:
tests/assistants/test_fair_sharing.py."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import textwrap
import uuid

import pytest
from django.conf import settings

from inference.admission import LocalAdmission, RedisAdmission, Share
from inference.errors import InferenceTimeout
from tests.conftest import ROOT


def _redis(capacity: int, **options) -> RedisAdmission:
    # A prefix of its own: nothing left over from another test can take a place.
    return RedisAdmission(url=settings.REDIS_URL, capacity=capacity, prefix=f"test:adm:{uuid.uuid4().hex}:",
                          **options)


@pytest.fixture(params=["redis", "local"])
def make(request):
    made = []

    def build(capacity: int, **options):
        admission = _redis(capacity, **options) if request.param == "redis" else LocalAdmission(
            capacity=capacity, **options)
        made.append(admission)
        return admission

    yield build
    for admission in made:
        if isinstance(admission, RedisAdmission):
            admission.close()


class Holder:
    """Tasks that each take a place and hold it until told to leave; ``order`` is who got in."""

    def __init__(self, admission, timeout: float = 30.0) -> None:
        self.admission = admission
        self.timeout = timeout
        self.order: list[str] = []
        self.queued: dict[str, list[int]] = {}
        self.leave: dict[str, asyncio.Event] = {}
        self.inside: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task] = {}

    async def _hold(self, name: str, share: Share) -> None:
        def on_queued(position: int) -> None:
            self.queued.setdefault(name, []).append(position)

        async with self.admission.admitted(share, timeout=self.timeout, on_queued=on_queued):
            self.order.append(name)
            self.inside[name].set()
            await self.leave[name].wait()

    async def start(self, name: str, share: Share) -> None:
        """Start a holder and return once it is inside or queued."""
        self.leave[name], self.inside[name] = asyncio.Event(), asyncio.Event()
        self.tasks[name] = asyncio.create_task(self._hold(name, share))
        while not (self.inside[name].is_set() or name in self.queued or self.tasks[name].done()):
            await asyncio.sleep(0.005)

    async def release(self, name: str, *, then: str | None = None) -> None:
        """Let ``name`` leave; with ``then``, wait until that one is inside."""
        self.leave[name].set()
        await self.tasks[name]
        if then is not None:
            await asyncio.wait_for(self.inside[then].wait(), 10)


def test_round_robin_serves_the_other_business_second(make):
    """Full capacity; tickets of A, A, A, then B queue: places go A, B, A, A, not A, A, A, B."""

    async def scenario():
        admission = make(1)
        h = Holder(admission)
        a, b = Share("A", cap=10), Share("B", cap=10)
        await h.start("x", Share("X", cap=10))
        for name in ("a1", "a2", "a3"):
            await h.start(name, a)
        await h.start("b1", b)
        assert h.queued == {"a1": [1], "a2": [2], "a3": [3], "b1": [1]}  # places among one's own
        await h.release("x", then="a1")
        await h.release("a1", then="b1")
        await h.release("b1", then="a2")
        await h.release("a2", then="a3")
        await h.release("a3")
        assert h.order == ["x", "a1", "b1", "a2", "a3"]
        assert await admission.held() == {}

    asyncio.run(scenario())


def test_turns_are_weighted(make):
    """B (weight 2) gets two turns for each of A (weight 1) while both wait."""

    async def scenario():
        admission = make(1)
        h = Holder(admission)
        await h.start("x", Share("X", cap=1))
        for i in range(4):
            await h.start(f"a{i}", Share("A", cap=10, weight=1))
        for i in range(4):
            await h.start(f"b{i}", Share("B", cap=10, weight=2))
        order = ["x", "a0", "b0", "b1", "a1", "b2", "b3", "a2", "a3"]
        for current, following in itertools.pairwise(order):
            await h.release(current, then=following)
        await h.release(order[-1])
        assert h.order == order

    asyncio.run(scenario())


def test_cap_per_key_leaves_room_for_others(make):
    async def scenario():
        admission = make(10)
        h = Holder(admission)
        for i in range(5):
            await h.start(f"a{i}", Share("A", cap=2))
        assert await admission.held() == {"A": 2}
        assert h.queued == {"a2": [1], "a3": [2], "a4": [3]}
        await h.start("b0", Share("B", cap=2))  # A's waiters do not hold B up: places are free
        assert h.inside["b0"].is_set() and await admission.held() == {"A": 2, "B": 1}
        await h.release("a0", then="a2")
        assert await admission.held() == {"A": 2, "B": 1}
        for name in ("a1", "a2", "a3", "a4", "b0"):
            h.leave[name].set()
        await asyncio.gather(*h.tasks.values())
        assert await admission.held() == {}

    asyncio.run(scenario())


def test_a_ticket_cancelled_while_queued_frees_its_place(make):
    async def scenario():
        admission = make(1)
        h = Holder(admission)
        await h.start("x", Share("X", cap=1))
        await h.start("gone", Share("A", cap=1))
        await h.start("b", Share("B", cap=1))
        h.tasks["gone"].cancel()  # the client went away while it waited
        with pytest.raises(asyncio.CancelledError):
            await h.tasks["gone"]
        await h.release("x", then="b")  # the next turn is B's, not the cancelled ticket's
        await h.release("b")
        assert h.order == ["x", "b"] and await admission.held() == {}
        await h.start("c", Share("C", cap=1))  # nothing was left holding the only place
        assert h.inside["c"].is_set()
        await h.release("c")

    asyncio.run(scenario())


def test_a_place_granted_to_a_cancelled_waiter_is_given_back(make):
    """The grant and the cancellation cross: the place granted to a waiter cancelled before it
    ran again is released by its exit, not kept."""

    async def scenario():
        admission = make(1)
        h = Holder(admission)
        await h.start("x", Share("X", cap=1))
        await h.start("late", Share("A", cap=1))
        h.leave["x"].set()
        h.tasks["late"].cancel()  # before the loop runs the waiter again
        await h.tasks["x"]
        with pytest.raises(asyncio.CancelledError):
            await h.tasks["late"]
        assert await admission.held() == {}
        await h.start("next", Share("B", cap=1))
        assert h.inside["next"].is_set()
        await h.release("next")

    asyncio.run(scenario())


def test_the_queue_wait_is_bounded(make):
    async def scenario():
        admission = make(1, poll_seconds=0.1)
        h = Holder(admission)
        await h.start("x", Share("X", cap=1))
        with pytest.raises(InferenceTimeout) as raised:
            async with admission.admitted(Share("A", cap=1), timeout=0.3):
                pytest.fail("admitted while the only place is held")
        assert raised.value.code == "inference_queue_timeout" and raised.value.details["phase"] == "queue"
        await h.release("x")
        assert await admission.held() == {}

    asyncio.run(scenario())


def test_queued_notices_repeat_while_waiting(make):
    async def scenario():
        admission = make(1, notice_seconds=0.1, poll_seconds=0.05)
        h = Holder(admission)
        await h.start("x", Share("X", cap=1))
        await h.start("a", Share("A", cap=1))
        while len(h.queued["a"]) < 3:
            await asyncio.sleep(0.05)
        assert set(h.queued["a"]) == {1}
        await h.release("x", then="a")
        await h.release("a")

    asyncio.run(scenario())


_HOLD_AND_DIE = textwrap.dedent("""
    import asyncio, os, sys
    from inference.admission import RedisAdmission, Share

    async def main():
        admission = RedisAdmission(url=sys.argv[1], capacity=1, prefix=sys.argv[2], lease_seconds=1.0)
        async with admission.admitted(Share("dead", cap=1), timeout=5):
            print("inside", flush=True)
            sys.stdin.readline()
            os._exit(0)  # dies holding its place: no release runs

    asyncio.run(main())
""")


def test_places_of_a_process_that_died_expire():
    prefix = f"test:adm:{uuid.uuid4().hex}:"
    child = subprocess.Popen([sys.executable, "-c", _HOLD_AND_DIE, settings.REDIS_URL, prefix], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    admission = RedisAdmission(url=settings.REDIS_URL, capacity=1, prefix=prefix, lease_seconds=1.0,
                               poll_seconds=0.2)
    try:
        assert child.stdout.readline().strip() == "inside"

        async def scenario():
            assert await admission.held() == {"dead": 1}
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=10)
            # The dead process's lease runs out (1 s) and the waiter's poll finds the place free.
            async with admission.admitted(Share("alive", cap=1), timeout=10):
                assert await admission.held() == {"alive": 1}

        asyncio.run(scenario())
    finally:
        admission.close()
        if child.poll() is None:
            child.kill()
