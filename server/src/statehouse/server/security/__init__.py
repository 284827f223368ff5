"""Security: who a caller is, what it may do, and the TLS of the ports.

- ``access.py``: roles, namespace patterns and the rule of every RPC (data);
- ``credentials.py``: tokens, certificate grants and JWTs -> the caller (a ``Principal``);
- ``jwts.py``: JWTs from an identity provider, checked against a key or a JWKS;
- ``guard.py``: what every call of both transports passes (authentication,
  authorization, and a stream ended once its credential is revoked);
- ``reflection.py``: gRPC reflection behind a valid credential when authentication is on;
- ``tls.py``: the server's TLS credentials, re-read on SIGHUP.

Its modules sit at different layers (docs/design.md, "Layers"): ``access`` and
``credentials`` know nothing of gRPC or SQL, and the transports (``api``) and
the app's assembly import them by module (``from ..security.guard import
Guard``). This package re-exports nothing, so that importing one of its
modules imports no other.
"""
