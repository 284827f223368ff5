"""The event hub's index and delivery, on a fake log: candidates by filter, delivery
off the writer's path in chunks, nothing lost or repeated across replay and live."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import pytest

from statehouse.server.events import EventHub
from statehouse.server.events.pacing import Pacer
from statehouse.server.events.subscriptions import SubscriberIndex, Subscription
from statehouse.server.orchestration import Event, State
from statehouse.server.orchestration.filters import EventFilter
from statehouse.server.telemetry import Metrics, Tracing
from tests.eventually import eventually_async


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll at every turn of the loop (the hub has no event for these conditions)."""
    await eventually_async(condition, str(condition), step=0)


class FakeStore:
    """The log in a list: what the hub reads of a store, nothing else."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.listeners: list[Callable[[list[Event]], None]] = []
        self.url = None  # not SQLite: no file to watch
        self.log_reads = 0
        self.metrics = Metrics()
        self.tracing = Tracing()

    def add_commit_listener(self, fn: Callable[[list[Event]], None]) -> None:
        self.listeners.append(fn)

    def listen_for_commits(
        self, wake: Callable[[int, list[Event] | None], object], wants_events: Any = None
    ) -> None:
        self.wake = wake
        self.wants_events = wants_events

    def commit_elsewhere(self, count: int) -> int:
        """``count`` events committed by another process: in the log, announced by
        their last sequence alone (as a commit too large for its NOTIFY)."""
        for _ in range(count):
            e = event()
            e.sequence = self.last_sequence() + 1
            self.events.append(e)
        return self.last_sequence()

    def last_sequence(self) -> int:
        return self.events[-1].sequence if self.events else 0

    async def read(self, fn: Any) -> Any:
        await asyncio.sleep(0)  # a real read suspends the reader
        if isinstance(fn, functools.partial):
            kw = fn.keywords
            upto = kw.get("upto") or 1 << 62
            flt: EventFilter | None = kw.get("flt")
            selected = [
                e
                for e in self.events
                if kw["after"] < e.sequence <= upto and (flt is None or flt.matches(e))
            ][: kw["limit"]]
            if fn.func.__name__ == "read_events":
                self.log_reads += 1
                return selected
            assert fn.func.__name__ == "read_events_page"
            return selected, self.events[0].sequence if self.events else 1
        return fn(self)

    def commit(self, *events: Event) -> list[Event]:
        """Append events as one commit and hand them to the listeners."""
        batch = []
        for e in events:
            e.sequence = self.last_sequence() + 1
            self.events.append(e)
            batch.append(e)
        for fn in self.listeners:
            fn(batch)
        return batch


def event(namespace: str = "ns", execution_id: str = "ex", state: State = State.RUNNING) -> Event:
    return Event(
        namespace=namespace, flow_id="flow", execution_id=execution_id, state=state, time_us=1
    )


def idle_followers(hub: EventHub) -> int:
    """Followers waiting for events, whatever they follow."""
    return sum(len(followers) for followers in hub._idle_followers.values())


async def started(store: FakeStore, **options: Any) -> EventHub:
    hub = EventHub(store, **options)  # type: ignore[arg-type]
    await hub.start()
    return hub


async def collect(hub: EventHub, flt: EventFilter, after: int, until: int) -> list[int]:
    """The sequences a subscriber receives until it has covered ``until``."""
    got: list[int] = []
    async for item in hub.subscribe(flt, after, 0.05):
        if isinstance(item, int):
            if item >= until:
                return got
            continue
        got.append(item.sequence)
        if item.sequence >= until:
            return got
    return got


async def settle(hub: EventHub) -> None:
    await wait_until(lambda: not (hub.pending or hub.delivered < hub.head))


def test_the_index_gives_each_event_its_candidates_only() -> None:
    index = SubscriberIndex()
    by_ex = Subscription(EventFilter(execution_ids=frozenset({"e1", "e2"})), 0, 10)
    by_ns = Subscription(EventFilter(namespace="a"), 0, 10)
    scoped = Subscription(EventFilter(scope=("a.*",)), 0, 10)
    everything = Subscription(EventFilter(), 0, 10)
    for sub in (by_ex, by_ns, scoped, everything):
        index.add(sub)
    assert set(index.rest) == {scoped, everything}
    batch = [event("a", "e9"), event("b", "e1"), event("b", "e3"), event("a", "e2")]
    targets = dict(index.targets(batch))
    assert targets == {by_ns: [batch[0], batch[3]], by_ex: [batch[1], batch[3]]}
    for sub in (by_ex, by_ns, scoped, everything):
        index.discard(sub)
    assert (index.by_execution, index.by_namespace, index.rest) == ({}, {}, {})


async def test_a_commit_only_queues_its_batch_for_the_delivery_task() -> None:
    store = FakeStore()
    hub = await started(store, chunk_size=100)
    # Offered each batch (a flow in a namespace); a follower reads ``recent``: below.
    flt = EventFilter(namespace="ns", flow_id="flow")
    subscribers = [asyncio.create_task(collect(hub, flt, 0, 1)) for _ in range(1000)]
    await wait_until(lambda: not (sum(s.synced for s in hub.subscriptions) < 1000))
    store.commit(event())
    # The writer's call returned: the head moved, nobody was offered anything yet.
    assert (hub.head, hub.delivered, len(hub.pending)) == (1, 0, 1)
    assert all(s.covered == 0 and not s.buffer for s in hub.subscriptions)
    # Delivery spreads over several turns of the loop, chunk_size subscribers each.
    progress = []
    while hub.delivered < 1:
        await asyncio.sleep(0)
        progress.append(sum(s.covered == 1 for s in hub.subscriptions))
    assert any(0 < p < 1000 for p in progress)
    assert all(b - a <= 100 for a, b in zip([0, *progress], progress, strict=False))
    assert [await s for s in subscribers] == [[1]] * 1000
    await hub.close()


async def test_followers_cost_a_batch_nothing_but_the_waking_of_idle_ones() -> None:
    """Subscribers that select every event read the hub's memory from their cursor:
    a commit wakes the idle ones, a chunk at a time, and touches nobody else."""
    store = FakeStore()
    hub = await started(store, chunk_size=100)
    subscribers = [asyncio.create_task(collect(hub, EventFilter(), 0, 3)) for _ in range(1000)]
    await wait_until(lambda: idle_followers(hub) == 1000)
    assert all(s.follows and not s.buffer for s in hub.subscriptions)
    store.commit(event())
    assert idle_followers(hub) == 1000  # the writer's call did not wake anyone
    progress = []
    while hub.delivered < 1:
        await asyncio.sleep(0)
        progress.append(1000 - sum(s.idle is not None for s in hub.subscriptions))
    assert any(0 < p < 1000 for p in progress)
    store.commit(event(), event())
    assert [await s for s in subscribers] == [[1, 2, 3]] * 1000
    assert all(not s.buffer and s.overflows == 0 for s in hub.subscriptions)
    await hub.close()


async def test_a_namespace_follower_reads_its_namespace_and_sleeps_through_the_others() -> None:
    """A subscriber of one namespace reads ``recent`` itself: no batch is offered to
    it, batches of other namespaces do not wake it, and it receives its own events
    in order, however the namespaces interleave."""
    store = FakeStore()
    hub = await started(store)
    stream = hub.subscribe_batches(EventFilter(namespace="a"), 0, None, 3)
    first = asyncio.ensure_future(anext(stream))
    await wait_until(lambda: idle_followers(hub) == 1)
    (sub,) = hub.subscriptions
    assert sub.follows and hub._idle_followers.keys() == {"a"}
    store.commit(event("b"), event("b"))
    await settle(hub)
    assert sub.idle is not None and not first.done()  # not woken by another namespace
    store.commit(event("b"), event("a"), event("b"), event("a"))
    batches = [await first]
    for _ in range(5):
        store.commit(*(event(ns) for ns in ("a", "b", "b", "a", "c")))
    while sum(len(b) for b in batches) < 12:
        item = await anext(stream)
        assert isinstance(item, list) and 0 < len(item) <= 3 and not sub.buffer
        batches.append(item)
    got = [e.sequence for b in batches for e in b]
    assert got == [e.sequence for e in store.events if e.namespace == "a"]
    assert all(e.namespace == "a" for b in batches for e in b)
    await stream.aclose()
    assert hub._idle_followers == {}
    await hub.close()


async def test_followers_of_one_namespace_share_one_reading_of_the_memory() -> None:
    store = FakeStore()
    hub = await started(store)
    streams = [hub.subscribe_batches(EventFilter(namespace="a"), 0, None, 100) for _ in range(50)]
    firsts = [asyncio.ensure_future(anext(s)) for s in streams]
    await wait_until(lambda: idle_followers(hub) == 50)
    store.commit(*(event(ns) for ns in ("a", "b") * 20))
    received = [await f for f in firsts]
    assert all([e.sequence for e in r] == list(range(1, 41, 2)) for r in received)  # type: ignore[union-attr]
    assert len(hub._windows) == 1  # one scan for the fifty
    for s in streams:
        await s.aclose()
    await hub.close()


async def test_an_idle_namespace_follower_beats_at_the_head_while_others_write() -> None:
    store = FakeStore()
    hub = await started(store)
    beats: list[int] = []
    got: list[int] = []

    async def watch() -> None:
        async for item in hub.subscribe_batches(EventFilter(namespace="a"), 0, 0.01, 10):
            if isinstance(item, int):
                beats.append(item)
                if item >= 7:
                    return
            else:
                got.extend(e.sequence for e in item)

    task = asyncio.create_task(watch())
    await wait_until(lambda: idle_followers(hub) == 1)
    store.commit(event("b"), event("a"), event("b"))
    store.commit(event("b"))
    await settle(hub)
    store.commit(event("c"), event("c"), event("b"))
    await settle(hub)
    await asyncio.wait_for(task, 5)
    assert got == [2] and beats[-1] == 7
    assert beats == sorted(beats)  # a cursor never goes back
    await hub.close()


async def test_a_follower_that_falls_behind_the_memory_reads_the_log() -> None:
    store = FakeStore()
    hub = await started(store, memory_events=10)
    stream = hub.subscribe_batches(EventFilter(), 0, None, 5)
    store.commit(event())
    first = await anext(stream)
    assert isinstance(first, list)
    got = [e.sequence for e in first]
    for _ in range(100):  # while it does not read
        store.commit(event())
    await settle(hub)
    assert hub.recent_first > 50  # the memory holds the newest only
    while got[-1] < 101:
        item = await anext(stream)
        assert isinstance(item, list) and 0 < len(item) <= 5
        got.extend(e.sequence for e in item)
    assert got == list(range(1, 102))
    await stream.aclose()
    await hub.close()


@pytest.mark.slow
async def test_thousands_of_subscribers_get_every_pending_batch_once_in_order() -> None:
    store = FakeStore()
    hub = await started(store, chunk_size=200)
    plain = [asyncio.create_task(collect(hub, EventFilter(), 0, 300)) for _ in range(2000)]
    ns_b = [
        asyncio.create_task(collect(hub, EventFilter(namespace="b"), 0, 300)) for _ in range(50)
    ]
    ex_1 = [
        asyncio.create_task(collect(hub, EventFilter(execution_ids=frozenset({"x1"})), 0, 300))
        for _ in range(50)
    ]
    await wait_until(lambda: not (sum(s.synced for s in hub.subscriptions) < 2100))
    # 100 commits of 3 events before the delivery task runs once.
    for i in range(100):
        store.commit(event("a", f"x{i}"), event("b", f"x{i}"), event("c", "x1"))
    assert len(hub.pending) == 100 and hub.delivered == 0
    everything = list(range(1, 301))
    assert [await s for s in plain] == [everything] * len(plain)
    assert [await s for s in ns_b] == [
        [e.sequence for e in store.events if e.namespace == "b"]
    ] * len(ns_b)
    on_x1 = [e.sequence for e in store.events if e.execution_id == "x1"]
    assert [await s for s in ex_1] == [on_x1] * len(ex_1)
    await hub.close()


async def test_a_subscriber_that_catches_up_while_batches_are_pending_loses_and_repeats_nothing() -> (
    None
):
    """Replay reads up to the committed head, ahead of what was delivered: the
    pending batches it read from the log are skipped when they are offered."""
    store = FakeStore()
    hub = await started(store, chunk_size=50)
    others = [asyncio.create_task(collect(hub, EventFilter(), 0, 400)) for _ in range(500)]
    await wait_until(lambda: not (sum(s.synced for s in hub.subscriptions) < 500))
    for _ in range(200):
        store.commit(event())
    assert hub.delivered < hub.head == 200
    joined = [asyncio.create_task(collect(hub, EventFilter(), after, 400)) for after in (0, 7, 199)]

    async def more() -> None:
        for _ in range(200):
            store.commit(event())
            await asyncio.sleep(0)

    await more()
    assert await joined[0] == list(range(1, 401))
    assert await joined[1] == list(range(8, 401))
    assert await joined[2] == list(range(200, 401))
    assert [await s for s in others] == [list(range(1, 401))] * len(others)
    await hub.close()


async def test_from_latest_after_a_commit_sees_only_later_events() -> None:
    store = FakeStore()
    hub = await started(store)
    store.commit(event())
    cursor = hub.latest()  # the commit is pending, not delivered: still covered
    assert cursor == 1
    task = asyncio.create_task(collect(hub, EventFilter(), cursor, 2))
    await asyncio.sleep(0)
    store.commit(event())
    assert await task == [2]
    await hub.close()


async def test_scoped_and_state_filters_apply_to_the_candidates() -> None:
    store = FakeStore()
    hub = await started(store)
    scoped = asyncio.create_task(collect(hub, EventFilter(scope=("team.*",)), 0, 4))
    failed = asyncio.create_task(
        collect(hub, EventFilter(namespace="team.a", states=frozenset({State.FAILED})), 0, 4)
    )
    await wait_until(lambda: not (sum(s.synced for s in hub.subscriptions) < 2))
    store.commit(event("team.a"), event("other"), event("team.b", state=State.FAILED))
    store.commit(event("team.a", state=State.FAILED))
    assert await scoped == [1, 3, 4]
    assert await failed == [4]
    await hub.close()


async def test_a_synced_subscriber_that_no_batch_concerns_gets_heartbeats_at_the_head() -> None:
    store = FakeStore()
    hub = await started(store)
    beats: list[int] = []

    async def watch() -> None:
        async for item in hub.subscribe(EventFilter(namespace="nobody"), 0, 0.01):
            assert isinstance(item, int)
            beats.append(item)
            if item >= 3:
                return

    task = asyncio.create_task(watch())
    await wait_until(lambda: any(s.synced for s in hub.subscriptions))
    store.commit(event(), event())
    store.commit(event())
    await settle(hub)
    await asyncio.wait_for(task, 5)
    assert beats[-1] == 3
    await hub.close()


async def _paced_sends(pacer: Pacer, now: list[float], count: int) -> list[int]:
    """Run ``count`` sends of 1 ms of loop time each; the turn each one ran in."""
    order: list[int] = []
    turn = 0
    turns: list[int] = []

    async def send(i: int) -> None:
        slot = pacer.turn()
        if not isinstance(slot, int):
            slot = await slot
        order.append(i)
        turns.append(turn)
        now[0] += 0.001
        pacer.done(slot)

    tasks = [asyncio.create_task(send(i)) for i in range(count)]
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0)
        turn += 1
    assert order == list(range(count))  # first come, first served
    return [turns.count(t) for t in sorted(set(turns))]


#: Budget tests: slots enough that only the budget of loop time holds sends back.
_MANY_SLOTS: dict[str, Any] = {"max_in_flight": 1000, "busy_in_flight": 1000}


async def test_the_pacer_grants_sends_within_its_budget_of_loop_time_in_order() -> None:
    now = [0.0]
    pacer = Pacer(0.003, 0.001, **_MANY_SLOTS, busy=lambda: 0, clock=lambda: now[0], cost=0.001)
    per_turn = await _paced_sends(pacer, now, 12)
    assert per_turn == [3, 3, 3, 3]
    assert abs(pacer.cost - 0.001) < 1e-9  # measured: 1 ms a send


async def test_the_pacer_gives_sends_a_smaller_budget_while_requests_are_in_flight() -> None:
    now = [0.0]
    in_flight = [2]
    pacer = Pacer(
        0.003, 0.001, **_MANY_SLOTS, busy=lambda: in_flight[0], clock=lambda: now[0], cost=0.001
    )
    assert await _paced_sends(pacer, now, 4) == [1, 1, 1, 1]
    in_flight[0] = 0
    assert await _paced_sends(pacer, now, 6) == [3, 3]


async def test_the_pacer_learns_the_cost_of_a_send() -> None:
    now = [0.0]
    pacer = Pacer(0.003, 0.001, **_MANY_SLOTS, busy=lambda: 0, clock=lambda: now[0], cost=50e-6)
    per_turn = await _paced_sends(pacer, now, 120)
    # The first estimate lets too many through; the measured cost brings it to the budget.
    assert per_turn[0] == 60
    assert per_turn == sorted(per_turn, reverse=True)
    assert per_turn[-2] == 3
    assert 0.0009 < pacer.cost <= 0.001


async def test_the_pacer_keeps_at_most_its_slots_of_sends_outstanding(monkeypatch: Any) -> None:
    """Sends not yet written hold their slots: a request waits behind a few of them.
    (None is outstanding long enough to count as stuck, however loaded the machine.)"""
    from statehouse.server.events import pacing

    monkeypatch.setattr(pacing, "STUCK_SECONDS", 3600.0)
    in_flight = [0]
    pacer = Pacer(1.0, 1.0, max_in_flight=4, busy_in_flight=2, busy=lambda: in_flight[0])
    slots = [pacer.turn() for _ in range(4)]
    assert all(isinstance(s, int) for s in slots) and pacer.in_flight == 4
    fifth = pacer.turn()
    assert isinstance(fifth, asyncio.Future)
    await asyncio.sleep(0.01)
    assert not fifth.done()  # every slot is taken
    pacer.done(slots[0])  # type: ignore[arg-type]
    assert await asyncio.wait_for(fifth, 1) > 0
    # While requests are in flight, fewer: two of the four are given back first.
    in_flight[0] = 1
    for slot in slots[1:3]:
        pacer.done(slot)  # type: ignore[arg-type]
    assert pacer.in_flight == 2
    sixth = pacer.turn()
    assert isinstance(sixth, asyncio.Future)
    pacer.done(slots[3])  # type: ignore[arg-type]
    assert await asyncio.wait_for(sixth, 1) > 0


async def test_with_a_crowd_waiting_sends_go_one_at_a_time(monkeypatch: Any) -> None:
    """Few subscribers waiting: several sends overlap (an event reaches them
    quickly). More than CROWD waiting: one at a time (each gathers more per message)."""
    from statehouse.server.events import pacing

    monkeypatch.setattr(pacing, "STUCK_SECONDS", 3600.0)
    monkeypatch.setattr(pacing, "CROWD", 3)
    pacer = Pacer(1.0, 1.0, max_in_flight=4, busy_in_flight=1, busy=lambda: 0)
    first = [pacer.turn() for _ in range(4)]  # few waiting: four at once
    assert all(isinstance(s, int) for s in first) and pacer.in_flight == 4
    crowd = [pacer.turn() for _ in range(5)]  # then 5 waiting, more than CROWD
    assert all(isinstance(w, asyncio.Future) for w in crowd)
    for slot in first:
        pacer.done(slot)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    # The crowd goes one at a time: one slot given, the others still waiting.
    assert sum(w.done() for w in crowd) == 1 and pacer.in_flight == 1  # type: ignore[union-attr]


async def test_a_send_outstanding_too_long_gives_its_slot_up() -> None:
    """A client that stopped reading holds its send for ever: not the others."""
    pacer = Pacer(1.0, 1.0, max_in_flight=1, busy=lambda: 0)
    stuck = pacer.turn()
    assert isinstance(stuck, int)
    waiting = pacer.turn()
    assert isinstance(waiting, asyncio.Future)
    assert await asyncio.wait_for(waiting, 2) > 0
    pacer.done(stuck)  # late: nothing changes
    assert pacer.in_flight == 1


def test_the_pacer_rests_deliveries_only_while_requests_are_in_flight() -> None:
    in_flight = [0]
    pacer = Pacer(0.002, 0.0005, busy_share=0.2, busy=lambda: in_flight[0])
    assert pacer.rest(0.001) == 0.0
    in_flight[0] = 1
    assert abs(pacer.rest(0.001) - 0.004) < 1e-12  # 20% of the time for deliveries
    assert pacer.allowance() == 0.0005


async def test_a_batching_subscriber_gets_a_burst_then_few_messages_for_many_events(
    monkeypatch: Any,
) -> None:
    """Many events in a short time go together once the burst is spent: never more
    messages than the token bucket allows in the time taken. One event per message
    for a client that did not ask for batches."""
    from statehouse.server.events import hub as hub_module

    monkeypatch.setattr(hub_module, "MESSAGE_BURST", 3)
    monkeypatch.setattr(hub_module, "MESSAGES_PER_SECOND", 20.0)
    store = FakeStore()
    hub = await started(store)
    messages: list[list[int]] = []
    singles: list[int] = []

    async def batched() -> None:
        async for item in hub.subscribe_batches(EventFilter(), 0, None, 1000):
            assert isinstance(item, list)
            messages.append([e.sequence for e in item])
            if item[-1].sequence >= 100:
                return

    tasks = [
        asyncio.create_task(batched()),
        asyncio.create_task(collect(hub, EventFilter(), 0, 100)),
    ]
    await wait_until(lambda: idle_followers(hub) == 2)
    loop = asyncio.get_running_loop()
    started_at = loop.time()
    for _ in range(100):
        store.commit(event())
        await asyncio.sleep(0.001)
    await asyncio.wait_for(tasks[0], 10)
    elapsed = loop.time() - started_at
    singles = await tasks[1]
    assert [s for m in messages for s in m] == list(range(1, 101)) == singles
    assert len(messages) <= 3 + elapsed * 20.0 + 1
    assert len(messages) < 100
    await hub.close()


async def test_what_runs_while_deliveries_rest_is_not_counted_as_their_cost() -> None:
    """Requests use the loop while deliveries rest: their CPU time is theirs. (Counted
    as the sends', it made each rest longer than the last until deliveries stopped.)"""
    now = [0.0]
    pacer = Pacer(0.003, 0.001, **_MANY_SLOTS, busy=lambda: 1, clock=lambda: now[0], cost=0.001)

    async def requests() -> None:
        while True:
            if pacer._resting:
                now[0] += 0.01  # 10 ms of a request's CPU in each turn of the rest
            await asyncio.sleep(0)

    busy = asyncio.create_task(requests())
    try:
        per_turn = await asyncio.wait_for(_paced_sends(pacer, now, 20), 10)
    finally:
        busy.cancel()
    assert sum(per_turn) == 20
    assert pacer.cost < 0.0015


async def test_with_nobody_to_deliver_to_other_processes_events_are_passed_unread() -> None:
    """No subscription, no claim waiting: an announced commit moves the head past its
    events without reading them (nor decoding an announcement's); a subscriber that
    comes later reads them from the log; with a subscriber, they are read again."""
    store = FakeStore()
    hub = await started(store, poll_interval=3600)
    try:
        assert store.wants_events() is False
        last = store.commit_elsewhere(5)
        store.wake(last, None)
        await wait_until(lambda: hub.head == 5)
        assert store.log_reads == 0 and hub.skipped == 5
        # A local commit after a gap nobody needs: accepted, the gap passed unread.
        store.commit_elsewhere(2)
        store.commit(event())
        assert hub.head == 8 and hub.skipped == 7 and store.log_reads == 0
        # A subscriber from the start: the skipped events come from the log, in order.
        got = asyncio.create_task(collect(hub, EventFilter(), 0, 12))
        await wait_until(lambda: bool(hub.subscriptions))
        assert store.wants_events() is True
        last = store.commit_elsewhere(4)
        store.wake(last, None)  # now read: someone needs them
        assert await asyncio.wait_for(got, 30) == list(range(1, 13))
        assert hub.skipped == 7 and store.log_reads > 0
        # An interest (claims waiting) counts as someone, too.
        hub.interest.append(lambda: True)
        reads = store.log_reads
        store.wake(store.commit_elsewhere(1), None)
        await wait_until(lambda: hub.head == 13)
        assert store.log_reads > reads and hub.skipped == 7
    finally:
        await hub.close()


@pytest.mark.parametrize("flt", [EventFilter(), EventFilter(namespace="ns")], ids=["all", "ns"])
async def test_a_follower_whose_heartbeat_and_wake_meet_loses_nothing(
    flt: EventFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat's timeout fires, then a batch comes before the follower runs:
    the wake finds its wait over (cancelled by the timeout) and the hub marks the
    batch delivered. The follower must read the batch before it beats past it."""
    timeouts: list[asyncio.Timeout] = []
    real_timeout = asyncio.timeout

    def kept(delay: float | None) -> asyncio.Timeout:
        timeouts.append(real_timeout(delay))
        return timeouts[-1]

    store = FakeStore()
    hub = await started(store)
    monkeypatch.setattr(asyncio, "timeout", kept)
    stream = hub.subscribe_batches(flt, 0, 3600.0, 10)
    first = asyncio.ensure_future(anext(stream))
    await wait_until(lambda: idle_followers(hub) == 1)
    loop = asyncio.get_running_loop()
    timeouts[-1].reschedule(loop.time())  # the timeout's callback runs first
    store.commit(event())  # then the delivery task, then the follower
    item = await asyncio.wait_for(first, 5)
    if isinstance(item, int):  # a heartbeat, if any, comes after what it covers
        assert item == 0
        item = await asyncio.wait_for(anext(stream), 5)
    assert isinstance(item, list) and [e.sequence for e in item] == [1]
    await stream.aclose()
    await hub.close()
