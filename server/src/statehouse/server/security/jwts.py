"""JWTs from an identity provider (PyJWT, imported only when configured).

A token is checked against a PEM public key or a JWKS file, with the issuer
and audience when configured; the role is the ``statehouse_role`` claim, the
namespaces the ``statehouse_namespaces`` claim (a list, or one string), the
actor the ``sub`` claim. ``credentials.Authenticator`` asks it about bearer
tokens that are not Statehouse tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..orchestration import Unauthenticated
from ..orchestration.patterns import problem
from .access import Principal, Role

ROLE_CLAIM = "statehouse_role"
NAMESPACES_CLAIM = "statehouse_namespaces"


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """How JWTs are checked: a PEM public key or a JWKS file, issuer and audience."""

    public_key: Path | None = None
    jwks: Path | None = None
    issuer: str | None = None
    audience: str | None = None


class JwtVerifier:
    """Checks JWT signatures, expiry, issuer and audience, and maps claims to a principal."""

    def __init__(self, config: JwtConfig) -> None:
        import jwt  # PyJWT: imported only when JWTs are configured

        self._jwt = jwt
        self.config = config
        self._keys: dict[str | None, Any] = {}
        if config.jwks is not None:
            keyset = jwt.PyJWKSet.from_json(config.jwks.read_text())
            for key in keyset.keys:
                self._keys[key.key_id] = key
        elif config.public_key is not None:
            data = config.public_key.read_bytes()
            self._keys[None] = jwt.PyJWK.from_dict(_jwk_of_pem(data))
        else:
            raise ValueError("JWTs need --jwt-public-key or --jwt-jwks")

    def verify(self, token: str) -> Principal:
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid")) or self._keys.get(None)
            if key is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
            if key is None:
                raise Unauthenticated()
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                issuer=self.config.issuer,
                audience=self.config.audience,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.config.audience is not None,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated() from None
        try:
            role = Role.parse(str(claims.get(ROLE_CLAIM, "")))
        except ValueError:
            raise Unauthenticated() from None
        raw = claims.get(NAMESPACES_CLAIM, [])
        namespaces = (raw,) if isinstance(raw, str) else tuple(str(n) for n in raw)
        if not namespaces or any(problem(n) for n in namespaces):
            raise Unauthenticated()
        subject = str(claims["sub"])
        issuer = str(claims.get("iss", ""))
        expires_us = int(claims["exp"]) * 1_000_000
        return Principal(f"jwt:{issuer}|{subject}", subject, role, namespaces, expires_us)


def _jwk_of_pem(data: bytes) -> dict[str, Any]:
    """A JWK for a PEM public key (RSA, EC or Ed25519), so both sources work alike."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(data)
    if isinstance(key, rsa.RSAPublicKey):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
        jwk["alg"] = "RS256"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
        jwk["alg"] = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[
            key.curve.name
        ]
    elif isinstance(key, ed25519.Ed25519PublicKey):
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key))
        jwk["alg"] = "EdDSA"
    else:
        raise ValueError("--jwt-public-key: an RSA, EC or Ed25519 public key in PEM is needed")
    return dict(jwk)
