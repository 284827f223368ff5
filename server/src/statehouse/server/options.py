"""The options of ``statehouse serve``: light to import, shared by the CLI and the app.

Nothing is declared here: each option is declared once, on the Settings field
it sets (``settings.option``); this module turns those declarations into
argparse options and back into Settings.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .settings import ADDRESS_ENV, Option, Settings, serve_options

__all__ = ["ADDRESS_ENV", "add_serve_arguments", "dest", "settings_from_args"]


def dest(declared: Option) -> str:
    """The argparse attribute of an option: ``--kill-deadline`` is ``kill_deadline``."""
    return declared.flag.removeprefix("--").replace("-", "_")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the server's options to ``parser``."""
    for found, declared in serve_options():
        if isinstance(found.default, bool):
            parser.add_argument(declared.flag, action="store_true", help=declared.help)
            continue
        more: dict[str, Any] = {}
        if declared.parse is not None:
            more["type"] = declared.parse
        if declared.metavar is not None:
            more["metavar"] = declared.metavar
        if declared.choices is not None:
            more["choices"] = declared.choices
        default = found.default
        if declared.env is not None:
            default = os.environ.get(declared.env) or default
        parser.add_argument(declared.flag, default=default, help=declared.help, **more)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed options (options a caller did not define keep their defaults)."""
    given: dict[str, Any] = {
        found.name: getattr(args, dest(declared), found.default)
        for found, declared in serve_options()
    }
    return Settings(**given)
