"""Stream sends under a budget of the event loop: requests first (:class:`Pacer`).

The hub's deliveries take turns here: each send takes a *slot* and gives it back
once grpc has written it, and the sends of one turn of the loop use at most a
budget of its time, smaller while unary calls are in flight. docs/design.md,
"The event stream".
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from .. import priority

#: Event-loop time (seconds) that deliveries may use per turn of the loop while
#: unary calls are in flight, and while none are.
BUSY_BUDGET = 0.0005
IDLE_BUDGET = 0.002
#: The most of the loop's wall time deliveries use while unary calls are in flight.
BUSY_SHARE = 0.05
#: Stream sends outstanding at once (written by grpc or not yet): a few while the
#: subscribers waiting for a turn are few, so that an event reaches them quickly;
#: one while unary calls are in flight or more than CROWD subscribers wait, so that
#: a request waits behind one send at most and every waiting subscriber gathers
#: what arrives into its next message. Measured in alternating rounds of
#: bench/run.py --only idle and --only fanout: 8 (2 while calls are in flight) put
#: the write p99 beside 5,000 idle streams at 2.0 to 2.4 x that with none; one at
#: all times at 1.5 to 2.1 x but the fan-out p99 at 10,000 deliveries/s to 100
#: subscribers at 10 to 15 ms; this at 1.6 to 2.1 x and 4.9 to 5.2 ms.
MAX_IN_FLIGHT = 4
BUSY_IN_FLIGHT = 1
CROWD = 256
#: Bounds of the measured cost of a send and of one rest (seconds): a cycle's CPU
#: time includes whatever else ran in that turn of the loop.
MAX_COST = 0.001
MAX_REST = 0.02
#: A send outstanding this long (its client stopped reading) no longer holds a slot.
STUCK_SECONDS = 0.05


class Pacer:
    """Stream sends under a budget of the event loop: requests first.

    A send costs the event loop tens of microseconds, most of it in grpc's C
    core (the write, its completion) where no Python timer sees it; and grpc
    handles the completions of every send started before a new request is
    even read. 5,000 streams woken by one event would otherwise all send at
    once, and a request arriving then waits for every one of them. So a send
    takes a *slot* and gives it back when grpc has written it, and:

    - At most ``max_in_flight`` sends are outstanding (``busy_in_flight``
      while unary calls are in flight, as ``priority.small_calls`` counts
      them, or while more than ``CROWD`` subscribers wait for a turn): a
      request waits behind a few sends, never thousands. A slot held
      longer than ``STUCK_SECONDS`` (a client that stopped reading) no longer
      counts, so stalled streams cannot hold deliveries up.
    - Sends go in cycles. At the start of each, the pacer measures the CPU
      time the loop's thread used in the last one (``thread_time``: grpc's
      share included, and the requests' too, which only makes deliveries more
      modest) per send granted, a moving average (``cost``), and grants as
      many sends as the cycle's budget holds at that cost (``budget``, or
      ``busy_budget`` while calls are in flight). Sends beyond it wait, in
      order (FIFO).
    - While unary calls are in flight, the next cycle starts only after a rest
      in proportion to the time the cycle's sends take, so that deliveries use
      at most ``busy_share`` of the loop: the loop then waits in its poll, the
      GIL free for the writer thread, and requests' steps find the loop idle.
    - Without contention a send does not wait at all.

    ``turn()`` gives a slot (an int) or a future of one; ``done(slot)`` gives it back.
    """

    def __init__(
        self,
        budget: float = IDLE_BUDGET,
        busy_budget: float = BUSY_BUDGET,
        *,
        busy_share: float = BUSY_SHARE,
        max_in_flight: int = MAX_IN_FLIGHT,
        busy_in_flight: int = BUSY_IN_FLIGHT,
        busy: Callable[[], int] = priority.small_calls,
        clock: Callable[[], float] = time.thread_time,
        cost: float = 50e-6,
    ) -> None:
        self.budget = budget
        self.busy_budget = busy_budget
        self.max_in_flight = max(1, max_in_flight)
        self.busy_in_flight = max(1, busy_in_flight)
        #: Rest this many times the time used, while requests are in flight.
        self._rest_ratio = (1.0 - busy_share) / busy_share if 0 < busy_share < 1 else 0.0
        self._busy = busy
        self._clock = clock
        #: The measured loop CPU time of one send (seconds), a moving average.
        self.cost = cost
        #: The loop thread's CPU time when the current cycle opened (None: idle).
        self._cycle_cpu: float | None = None
        self._granted = 0
        self._room = 0
        self._scheduled = False
        self._resting = False
        #: Outstanding sends: slot -> when it was given (monotonic), oldest first.
        self._slots: dict[int, float] = {}
        self._next_slot = 0
        self.waiters: deque[asyncio.Future[int]] = deque()

    @property
    def in_flight(self) -> int:
        return len(self._slots)

    def allowance(self) -> float:
        """The loop time deliveries may use in one cycle."""
        return self.busy_budget if self._busy() else self.budget

    def rest(self, used: float) -> float:
        """How long deliveries stay off the loop after using it for ``used`` seconds."""
        return used * self._rest_ratio if self._busy() else 0.0

    def _limit(self) -> int:
        if self._busy() or len(self.waiters) > CROWD:
            return self.busy_in_flight
        return self.max_in_flight

    def turn(self) -> int | asyncio.Future[int]:
        """A slot to send now, or a future of one (resolved at its turn)."""
        if not self.waiters and not self._resting:
            if self._cycle_cpu is None:
                self._open_cycle()
                asyncio.get_running_loop().call_soon(self._close_cycle)
            if self._granted < self._room and len(self._slots) < self._limit():
                self._granted += 1
                return self._take()
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.enqueue(waiter)
        return waiter

    def enqueue(self, waiter: asyncio.Future[int]) -> None:
        """Resolve ``waiter`` with a slot at its turn (a subscriber woken by new events)."""
        self.waiters.append(waiter)
        self._next_soon()

    def done(self, slot: int) -> None:
        """A send is written (or abandoned): its slot is free."""
        if self._slots.pop(slot, None) is not None and self.waiters:
            self._next_soon()

    def _take(self) -> int:
        self._next_slot += 1
        self._slots[self._next_slot] = time.monotonic()
        return self._next_slot

    def _next_soon(self) -> None:
        """The next cycle at the next turn of the loop, unless one is open, due, or resting."""
        if self._cycle_cpu is None and not self._scheduled and not self._resting:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next_cycle)

    def _open_cycle(self) -> None:
        """A cycle: its room at the measured cost. It closes at the next turn of the
        loop, once the sends it granted ran their step (and grpc its write): callers
        schedule the close after waking them."""
        self._cycle_cpu = self._clock()
        self._granted = 0
        self._room = max(1, int(self.allowance() / max(self.cost, 1e-6)))

    def _close_cycle(self) -> None:
        """Learn the cost of the cycle's sends; start the next one, at once, after a
        rest while requests are in flight, or when a slot is free again."""
        used = max(0.0, self._clock() - (self._cycle_cpu or 0.0))
        granted = self._granted
        self._cycle_cpu = None
        if granted:
            self.cost += 0.2 * (min(used / granted, MAX_COST) - self.cost)
        if not self.waiters:
            return
        loop = asyncio.get_running_loop()
        if not granted and len(self._slots) >= self._limit():
            # Every slot is taken: the next ``done`` goes on, or the stuck check.
            loop.call_later(STUCK_SECONDS, self._next_soon)
            return
        rest = min(self.rest(used), MAX_REST)
        if rest > 0:
            self._resting = True
            loop.call_later(rest, self._next_cycle)
        else:
            self._scheduled = True
            loop.call_soon(self._next_cycle)

    def _next_cycle(self) -> None:
        """A new cycle: wake as many waiters as it has room and slots for."""
        self._scheduled = False
        self._resting = False
        slots = self._slots
        if slots:
            stuck = time.monotonic() - STUCK_SECONDS
            while slots and next(iter(slots.values())) < stuck:
                del slots[next(iter(slots))]
        waiters = self.waiters
        if not waiters or self._cycle_cpu is not None:
            return
        self._open_cycle()
        limit = self._limit()
        while waiters and self._granted < self._room and len(slots) < limit:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._take())
                self._granted += 1
        asyncio.get_running_loop().call_soon(self._close_cycle)


async def slot_of(pacer: Pacer) -> int:
    """A slot of ``pacer``: at once, or at its turn."""
    turn = pacer.turn()
    return turn if isinstance(turn, int) else await turn
