"""The ``statehouse`` command line: ``serve``, and a client of a running server.

Run ``statehouse --help``. Output is aligned plain text in a terminal and JSON
with ``--json`` (one document, or JSON lines for ``watch``). Errors print
``error: <message> (<REASON>)`` on stderr and exit with 1 (2 for usage errors).
"""
