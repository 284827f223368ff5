"""What the server does in the background, beside the requests: the durable timers
(``timers``), health's probe (``health``) and the retention sweeps
(``housekeeping``), each a loop on :class:`statehouse.server.loops.Every`."""
