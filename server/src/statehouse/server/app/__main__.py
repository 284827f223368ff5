"""``python -m statehouse.server.app``: what ``statehouse serve`` runs."""

import contextlib

from . import main

with contextlib.suppress(KeyboardInterrupt):
    main()
