"""The server's assembly and its processes (docs/design.md, "Layers").

- ``server.py``: ``create_server(settings) -> (server, port)`` builds a
  ``Server`` on one ``AsyncExitStack`` (a failed start closes what it opened);
- ``process.py``: ``serve()`` runs one until a signal, ``run()`` its event loop;
- ``supervisor.py``: ``supervise()``, the parent of ``--processes N``;
- ``command.py``: ``main()`` and ``serve_from_args()``, what ``statehouse serve``
  and ``python -m statehouse.server.app`` run.

Only the CLI, the tests and the bench import this package; nothing of the
server does.
"""

from ..settings import ConfigError
from .command import main, serve_from_args
from .process import (
    GC_THRESHOLDS,
    SWITCH_INTERVAL,
    raise_descriptor_limit,
    run,
    serve,
    write_ready_file,
)
from .server import SERVICE_NAMES, SERVICES, Server, create_server
from .supervisor import supervise

__all__ = [
    "GC_THRESHOLDS",
    "SERVICES",
    "SERVICE_NAMES",
    "SWITCH_INTERVAL",
    "ConfigError",
    "Server",
    "create_server",
    "main",
    "raise_descriptor_limit",
    "run",
    "serve",
    "serve_from_args",
    "supervise",
    "write_ready_file",
]
