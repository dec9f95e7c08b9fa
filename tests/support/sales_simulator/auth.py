"""The identity provider's token endpoint (OAuth 2.0 client credentials) and the bearer check
of the Web API (docs/reference/dataverse.md §3.2)."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import web

from tests.support.sales_simulator.errors import error_response

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TOKEN_PATH = f"/{TENANT_ID}/oauth2/v2.0/token"


class Tokens:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.issued: dict[str, float] = {}  # token -> when it expires (monotonic)
        self.requests = 0

    def revoke(self) -> None:
        self.issued.clear()

    async def token_endpoint(self, request: web.Request) -> web.Response:
        sim = self.sim
        form = await request.post()
        self.requests += 1

        def oauth_error(status: int, error: str, description: str) -> web.Response:
            return web.json_response({"error": error, "error_description": description}, status=status)

        if form.get("grant_type") != "client_credentials":
            return oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        if form.get("client_id") != sim.client_id:
            client_id = form.get("client_id")
            return oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id!s}' was not found in the directory.",
            )
        if not secrets.compare_digest(str(form.get("client_secret", "")), sim.client_secret):
            return oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") not in (f"{sim.org_url}/.default", f"https://{sim.org_host}/.default"):
            return oauth_error(
                400, "invalid_scope", f"AADSTS500011: The resource principal named {form.get('scope')!s} was not found."
            )
        token = secrets.token_urlsafe(32)
        self.issued[token] = time.monotonic() + sim.token_lifetime
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": sim.token_lifetime,
                "ext_expires_in": sim.token_lifetime,
                "access_token": token,
            }
        )

    def authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        expires = self.issued.get(header[7:])
        return expires is not None and time.monotonic() < expires

    def unauthorised(self) -> web.Response:
        return error_response(
            401,
            "Unauthorized",
            "The user is not authenticated: the bearer token is missing, invalid or expired.",
            {
                "WWW-Authenticate": f"Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}"
                f"/oauth2/authorize, resource_id=https://{self.sim.org_host}/"
            },
        )
