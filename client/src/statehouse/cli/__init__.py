"""The ``statehouse`` command line: ``serve``, and a client of a running server.

Run ``statehouse --help``. Output is aligned plain text in a terminal and JSON
with ``--json`` (one document, or JSON lines for ``watch``). Errors print
``error: <message> (<REASON>)`` on stderr and exit with 1 (2 for usage errors).
"""

import os

# gRPC's C core logs to stderr by itself, below Python's logging: every failed
# TLS handshake prints `Handshake failed with error SSL_ERROR_SSL ...` (at INFO,
# twice, as the channel retries), before the command's own one-line error says
# the same with what to check. The core reads GRPC_VERBOSITY once, when grpc is
# first imported, so it is set here, before any module of the command line
# imports grpc; a value the user set (GRPC_VERBOSITY=DEBUG to see them) wins.
# ERROR keeps the core's own errors, which the command's message does not repeat;
# `statehouse serve` gets the same, so that its log holds only its own lines.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
