"""Who is calling: an Entra-style client-credentials token endpoint, Bearer checks, and on-premises Basic.

The token endpoint answers like Microsoft Entra (``POST /{tenant}/oauth2/v2.0/token``, AADSTS errors);
tokens look like JWTs but are only recognised by this simulator. Expired, unknown or foreign-tenant
tokens, and apps not enabled in BC, get BC's 401 ``Authentication_InvalidCredentials``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from .clock import SimClock
from .config import BC_SCOPE, Identity, SimConfig
from .errors import invalid_credentials


@dataclass
class Token:
    identity: Identity
    tenant_id: str
    expires: float  # on the simulator's clock (monotonic)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


class Auth:
    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.tokens: dict[str, Token] = {}

    def tenant_known(self, tenant: str) -> bool:
        return tenant.lower() in (self.config.tenant_id.lower(), self.config.tenant_domain.lower())

    def issue(self, identity: Identity, lifetime: float | None = None) -> str:
        lifetime = self.config.token_lifetime if lifetime is None else lifetime
        now = int(time.time())
        claims = {
            "aud": "https://api.businesscentral.dynamics.com",
            "iss": f"https://sts.windows.net/{self.config.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            "appid": identity.client_id,
            "tid": self.config.tenant_id,
            "oid": identity.user_id,
            "roles": ["API.ReadWrite.All"],
            "jti": str(uuid.uuid4()),
        }
        token = f"{_b64({'typ': 'JWT', 'alg': 'RS256'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
        self.tokens[token] = Token(identity, self.config.tenant_id, self.clock.monotonic() + lifetime)
        return token

    def token_response(self, tenant: str, form: dict[str, str], basic: str | None) -> tuple[int, dict[str, Any]]:
        """The Entra token endpoint: (status, JSON body)."""
        if not self.tenant_known(tenant):
            return 400, _aad(
                "invalid_request",
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            )
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if basic:
            client_id, _, secret = basic.partition(":")
        if form.get("grant_type") != "client_credentials":
            return 400, _aad(
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type. "
                "The simulator supports client_credentials only.",
            )
        identity = next((i for i in self.config.identities if i.client_id and i.client_id == client_id), None)
        if identity is None:
            return 400, _aad(
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if not hmac.compare_digest((identity.client_secret or "").encode(), secret.encode()):
            return 401, _aad(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scope = form.get("scope", "")
        if scope != BC_SCOPE:
            return 400, _aad(
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        lifetime = int(self.config.token_lifetime)
        return 200, {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self.issue(identity),
        }

    def authenticate(self, authorization: str | None, tenant: str | None) -> Identity:
        """The identity behind an Authorization header, or BC's 401."""
        if not authorization:
            raise invalid_credentials()
        scheme, _, value = authorization.partition(" ")
        mode = self.config.effective_auth_mode
        if scheme.lower() == "bearer" and mode in ("oauth", "both"):
            token = self.tokens.get(value.strip())
            if token is None or token.expires <= self.clock.monotonic():
                raise invalid_credentials()
            if tenant is not None and not self.tenant_known(tenant):
                raise invalid_credentials()
            if not token.identity.enabled or token.identity not in self.config.identities:
                raise invalid_credentials()
            return token.identity
        if scheme.lower() == "basic" and mode in ("basic", "both"):
            try:
                user, _, key = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise invalid_credentials() from None
            for identity in self.config.identities:
                if (
                    identity.user_name
                    and identity.access_key
                    and identity.user_name.lower() == user.lower()
                    and hmac.compare_digest(identity.access_key.encode(), key.encode())
                    and identity.enabled
                ):
                    return identity
        raise invalid_credentials()


def _aad(error: str, description: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {uuid.uuid4()}\r\nCorrelation ID: {uuid.uuid4()}",
        "error_codes": [int(description.split(":")[0].removeprefix("AADSTS"))],
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
