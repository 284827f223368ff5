"""The Statehouse server with cProfile switched on and off by signals (``run.py --profile``).

It builds the server exactly as ``statehouse.server.app.serve`` does (same
settings, same event loop), then:

- SIGUSR1 starts profiling: one ``cProfile.Profile`` on the event loop thread
  and one on each thread of the store's writer and reader pools (cProfile
  follows one thread on Python 3.11, and the database work runs on those
  threads);
- SIGUSR2 stops it and writes the profiles (pstats format): all threads merged
  to ``--profile-out``, and per group of threads to ``--profile-out`` plus
  ``.loop``, ``.writer`` and ``.reader``; then logs ``profile written``.

SIGTERM/SIGINT stop the server gracefully, like the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import pstats
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from statehouse.server.app import _display_url, create_server
from statehouse.server.settings import Settings

log = logging.getLogger("statehouse.bench.profiler")


class ThreadProfiles:
    """cProfile profilers for the loop thread and every thread of some named pools."""

    def __init__(self, pools: dict[str, ThreadPoolExecutor]) -> None:
        self.pools = pools
        self.profiles: dict[str, list[cProfile.Profile]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._main: cProfile.Profile | None = None

    def _each_thread(
        self, pool: ThreadPoolExecutor, fn: Callable[[], None]
    ) -> list[asyncio.Future[None]]:
        # Occupy every thread of the pool at once (a barrier), so each runs fn once.
        size = pool._max_workers
        barrier = threading.Barrier(size)

        def job() -> None:
            fn()
            barrier.wait(timeout=10)

        loop = asyncio.get_running_loop()
        return [loop.run_in_executor(pool, job) for _ in range(size)]

    def _enabler(self, group: str) -> Callable[[], None]:
        def enable_here() -> None:
            profile = cProfile.Profile()
            self._local.profile = profile
            with self._lock:
                self.profiles.setdefault(group, []).append(profile)
            profile.enable()

        return enable_here

    def _disable_here(self) -> None:
        profile = getattr(self._local, "profile", None)
        if profile is not None:
            profile.disable()
            self._local.profile = None

    async def start(self) -> None:
        if self._main is not None:
            return
        self.profiles = {}
        jobs = [
            job
            for name, pool in self.pools.items()
            for job in self._each_thread(pool, self._enabler(name))
        ]
        await asyncio.gather(*jobs)
        self._main = cProfile.Profile()
        self.profiles["loop"] = [self._main]
        self._main.enable()
        log.info("profiling started (%d threads)", sum(map(len, self.profiles.values())))

    async def stop(self, path: Path) -> None:
        """Write ``path`` (all threads merged) and ``path.<group>`` for each thread group."""
        if self._main is None:
            return
        self._main.disable()
        self._main = None
        jobs = [
            job
            for pool in self.pools.values()
            for job in self._each_thread(pool, self._disable_here)
        ]
        await asyncio.gather(*jobs)
        merged: pstats.Stats | None = None
        for group, profiles in self.profiles.items():
            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                stats.add(profile)
            stats.dump_stats(f"{path}.{group}")
            if merged is None:
                merged = pstats.Stats(profiles[0])
                for profile in profiles[1:]:
                    merged.add(profile)
            else:
                for profile in profiles:
                    merged.add(profile)
        assert merged is not None
        merged.dump_stats(str(path))
        log.info("profile written to %s (groups: %s)", path, ", ".join(self.profiles))


async def serve(settings: Settings, profile_out: Path) -> None:
    server, port = await create_server(settings)
    await server.start()
    host = settings.address.rsplit(":", 1)[0]
    log.info(
        "statehouse serving on %s:%d (database %s)",
        host,
        port,
        _display_url(settings.resolved_database_url()),
    )
    profiles = ThreadProfiles({"writer": server.store._writer, "reader": server.store._reader})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGUSR1, lambda: spawn(profiles.start()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: spawn(profiles.stop(profile_out)))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    log.info("statehouse stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--database", required=True)
    parser.add_argument("--profile-out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings(address=args.address, database_url=args.database)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings, args.profile_out))
    else:
        uvloop.run(serve(settings, args.profile_out))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
