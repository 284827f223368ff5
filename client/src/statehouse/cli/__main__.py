"""``python -m statehouse.cli``: the same as the ``statehouse`` command."""

from statehouse.cli._main import main

raise SystemExit(main())
