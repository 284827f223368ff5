"""``make bench``: Statehouse measured in phases beside a protobuf echo server.

The phases live in ``bench/statehouse_bench/`` (see its ``__init__``); this is the
entry point. Every server binds 127.0.0.1 and is started through
``bench/bench_server.py`` (the server as ``statehouse serve`` builds it, plus
statement, commit and commit-time counters). Every loop is bounded in count and
time. ``--quick`` is a short run (2-3 min), ``--json PATH`` writes every figure,
``--chart PATH`` the sweep's PNG, ``--only PHASES`` runs some phases alone (``--quick
--only fanout --fanout-processes 1,2``: the fan-out phases and the writer's rate beside
subscribers on 1 and 2 server processes, in about a minute); ``--help`` for the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from statehouse_bench.main import main  # type: ignore[import-not-found]

if __name__ == "__main__":
    sys.exit(main())
