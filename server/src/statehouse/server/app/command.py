"""``statehouse serve`` and ``python -m statehouse.server.app``: the options parsed,
logging configured, one process served or ``--processes N`` supervised, and a
start-up failure reported on one line with exit status 1."""

from __future__ import annotations

import argparse
import logging

from ..options import add_serve_arguments, settings_from_args
from ..settings import ConfigError
from ..telemetry import TracingConfigError, configure_logging, trace_exporters
from .process import STARTUP_ERRORS, one_line, run

log = logging.getLogger("statehouse.server")


def serve_from_args(args: argparse.Namespace) -> None:
    """Configure logging and run :func:`serve` (or :func:`supervise`) with the parsed options."""
    # Looked up on the package when called: what the bench installs there runs.
    from . import serve, supervise

    settings = settings_from_args(args)
    configure_logging(settings.log_level, settings.log_format)
    try:
        # OTEL_TRACES_EXPORTER naming an exporter that is missing: refused before anything starts.
        try:
            trace_exporters()
        except TracingConfigError as exc:
            raise ConfigError(str(exc)) from None
        if settings.processes > 1:
            status = supervise(settings, settings.log_level, settings.log_format)
            if status:
                raise SystemExit(status)
            return
        run(serve(settings))
    except STARTUP_ERRORS as exc:
        log.error("%s", one_line(exc))
        raise SystemExit(1) from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="statehouse serve", description="Run the server.")
    add_serve_arguments(parser)
    serve_from_args(parser.parse_args(argv))
