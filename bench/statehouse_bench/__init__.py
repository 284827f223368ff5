"""``make bench``: Statehouse measured in phases, beside a protobuf echo server.

Modules: ``common`` (server subprocesses through ``bench/bench_server.py`` and its
counters, timing, percentiles, /proc), ``load`` (client processes: raw stubs or the
SDK), one module per phase (``echo``, ``transitions``, ``batch``, ``fanout``,
``idle``, ``metrics``, ``postgres``, ``security``, ``hostile``), ``profiling``,
``report`` (text, JSON, PNG chart) and ``main`` (the options and the order).
"""
