"""Credentials on the wire: an OAuth client-credentials token (cached, renewed before it expires,
fetched once for all concurrent callers), or HTTP Basic with a web service access key.

``docs/reference/bc-api.md §2``: BC online takes only OAuth (``scope``
``https://api.businesscentral.dynamics.com/.default``, ``Authorization: Bearer``); on-premises
also Basic with a user's web service access key. A refused token is BC's 401
``Authentication_InvalidCredentials``: the caller drops the token (:meth:`Authorizer.invalidate`)
and asks once more.

Neither class ever puts a secret or a token in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from orders.bc_link.config import BasicAccessKey, BcCredentials, OAuthClientCredentials
from orders.bc_link.errors import BcAuthenticationError, BcError, BcProtocolError, parse_error_body
from orders.bc_link.limits import SingleFlight
from orders.bc_link.odata import loads

__all__ = ["Authorizer", "BasicAuthorizer", "OAuthAuthorizer", "TokenFetch", "authorizer_for"]

log = logging.getLogger(__name__)

# One POST to the token endpoint: (form) -> (status, body text). The client supplies it, with its
# retries on passing failures; tests may supply their own.
TokenFetch = Callable[[dict[str, str]], Awaitable[tuple[int, str]]]


class Authorizer(Protocol):
    can_refresh: bool

    async def header(self) -> str:
        """The ``Authorization`` header value for the next request."""
        ...

    def invalidate(self, header: str) -> None:
        """BC refused ``header`` (401): forget it, so the next :meth:`header` gets a fresh one."""
        ...


class BasicAuthorizer:
    """HTTP Basic with a user name and web service access key; nothing to refresh."""

    can_refresh = False

    def __init__(self, credentials: BasicAccessKey) -> None:
        raw = f"{credentials.user_name}:{credentials.access_key}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode()
        self.user_name = credentials.user_name

    def __repr__(self) -> str:
        return f"BasicAuthorizer(user_name={self.user_name!r})"

    async def header(self) -> str:
        return self._header

    def invalidate(self, header: str) -> None:
        pass  # a refused key stays refused: the caller raises BcAuthenticationError


class OAuthAuthorizer:
    """A client-credentials bearer token, shared by every caller of the client.

    The token is renewed ``refresh_margin`` seconds before ``expires_in`` runs out (or at 90 % of
    a lifetime shorter than ten margins), so a token never expires in flight. Renewal is
    single-flight: concurrent callers await the one token request and share its outcome, token or
    error (so an Entra outage costs one request per round, not one per waiting caller).
    """

    can_refresh = True

    def __init__(
        self,
        credentials: OAuthClientCredentials,
        fetch: TokenFetch,
        *,
        clock: Callable[[], float],
        refresh_margin: float = 300.0,
    ) -> None:
        self._credentials = credentials
        self._fetch = fetch
        self._clock = clock
        self._margin = refresh_margin
        self._token: str | None = None
        self._renew_at = 0.0
        self._renewal = SingleFlight(self._renew)

    def __repr__(self) -> str:
        return f"OAuthAuthorizer(client_id={self._credentials.client_id!r})"

    @property
    def token_valid_for(self) -> float | None:
        """Seconds before the cached token is due for renewal (None: no token)."""
        return None if self._token is None else self._renew_at - self._clock()

    async def header(self) -> str:
        return f"Bearer {await self.token()}"

    async def token(self) -> str:
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token
        return await self._renewal()

    async def _renew(self) -> str:
        creds = self._credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scope,
        }
        status, text = await self._fetch(form)
        if status >= 300:
            code, message, _ = parse_error_body(text, status)
            if status in (400, 401, 403):
                # Entra's error_description (AADSTS...) says what is wrong and never holds the secret.
                raise BcAuthenticationError(
                    status, code, f"the token endpoint refused the client credentials: {message}"
                )
            raise BcProtocolError(status, code, f"the token endpoint answered {status}: {message}")
        try:
            body = loads(text)
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise BcProtocolError(status, "invalid_token_response", "the token endpoint sent no access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(self._margin, lifetime * 0.1)
        self._token = token
        self._renew_at = self._clock() + lifetime - margin
        log.debug("BC token acquired for client %s, valid %.0f s", creds.client_id, lifetime)
        return token

    def invalidate(self, header: str) -> None:
        if self._token is not None and header == f"Bearer {self._token}":
            self._token = None  # only the refused one: a concurrent caller may have a newer token


def authorizer_for(
    credentials: BcCredentials,
    fetch: TokenFetch,
    *,
    clock: Callable[[], float],
    refresh_margin: float,
) -> Authorizer:
    if isinstance(credentials, BasicAccessKey):
        return BasicAuthorizer(credentials)
    if isinstance(credentials, OAuthClientCredentials):
        return OAuthAuthorizer(credentials, fetch, clock=clock, refresh_margin=refresh_margin)
    raise BcError(None, "configuration", f"unknown credentials type {type(credentials).__name__}")
