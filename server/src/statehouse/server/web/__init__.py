"""The HTTP port: Connect RPCs and the web console's files, served by uvicorn.

``asgi.py`` routes a request to the Connect transport (``api/connect_transport.py``)
or to the console's built files in ``static/``; ``serving.py`` runs uvicorn on the
server's event loop, beside grpc.aio.
"""

from .asgi import STATIC_DIR, HttpApp
from .serving import HttpServer

__all__ = ["STATIC_DIR", "HttpApp", "HttpServer"]
