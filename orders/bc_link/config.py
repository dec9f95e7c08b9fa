"""What the gateway needs to know to reach one Business Central: where its API lives, which company,
who we are, and how hard we may push it.

- :class:`BcConnection`: the API v2.0 root, the company (name or id), the credentials and the OData
  V4 root of published pages (derived from the API root unless given).
- :class:`OAuthClientCredentials` (BC online, and on-premises with Entra) or
  :class:`BasicAccessKey` (on-premises: a BC user name and its web service access key;
  ``docs/reference/bc-api.md §2``).
- :class:`BcLimits`: BC's operational limits for one identity (``bc-api.md §5``) and our retry
  settings.

Everything is a frozen dataclass; secrets are left out of ``repr`` so that a connection can be
logged or shown in an error without leaking them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from yarl import URL

__all__ = [
    "BC_SCOPE",
    "BasicAccessKey",
    "BcConnection",
    "BcCredentials",
    "BcLimits",
    "OAuthClientCredentials",
]

# The resource of every BC environment, as Entra's client-credentials flow wants it (bc-api §2.1).
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"


@dataclass(frozen=True, slots=True)
class OAuthClientCredentials:
    """OAuth 2.0 client credentials (an Entra app registered in BC's *Microsoft Entra Applications*).

    ``token_url`` is e.g. ``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``.
    """

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = BC_SCOPE

    def __post_init__(self) -> None:
        _check_http_url(self.token_url, "token_url")
        if not self.client_id or not self.client_secret:
            raise ValueError("OAuth needs a client id and a client secret")


@dataclass(frozen=True, slots=True)
class BasicAccessKey:
    """HTTP Basic with a BC user name and that user's web service access key (on-premises only:
    BC online stopped accepting access keys in October 2022, bc-api §2.2)."""

    user_name: str
    access_key: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.user_name or not self.access_key:
            raise ValueError("Basic authentication needs a user name and a web service access key")
        if ":" in self.user_name:
            raise ValueError("a Basic user name cannot contain ':'")


BcCredentials = OAuthClientCredentials | BasicAccessKey


@dataclass(frozen=True, slots=True)
class BcLimits:
    """How the client paces itself for one identity, and how it retries.

    BC online allows 5 requests processing at once per user or app (more wait in BC's queue) and
    6,000 requests per 5-minute sliding window (bc-api §5): we stay under both instead of
    collecting 429s. ``max_retry_after`` caps how long we sleep on BC's ``Retry-After``; a longer
    wait raises :class:`~orders.bc_link.errors.BcUnavailable` carrying ``retry_after`` so the caller
    can reschedule the work rather than hold a worker.
    """

    max_in_flight: int = 5
    rate_limit: int = 6000
    rate_window: float = 300.0
    max_batch: int = 100  # operations per $batch call (bc-api §1.6, §5)
    page_size: int | None = None  # Prefer: odata.maxpagesize for collection reads; None: BC's cap
    timeout: float = 120.0  # seconds per HTTP request, answer included
    connect_timeout: float = 15.0  # seconds to open the TCP/TLS connection
    max_attempts: int = 6  # per call, the first attempt included
    base_delay: float = 1.0  # seconds before the first retry; doubles each time
    max_delay: float = 60.0
    max_retry_after: float = 120.0
    token_refresh_margin: float = 300.0  # renew a token this long before it expires

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.rate_limit < 1 or self.max_attempts < 1:
            raise ValueError("max_in_flight, rate_limit and max_attempts must be at least 1")
        if not 1 <= self.max_batch <= 100:
            raise ValueError("max_batch must be between 1 and 100 (BC's $batch limit)")
        if self.page_size is not None and not 1 <= self.page_size <= 20_000:
            raise ValueError("page_size must be between 1 and 20000")
        for name in ("rate_window", "timeout", "connect_timeout", "base_delay", "max_delay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.max_retry_after < 0 or self.token_refresh_margin < 0:
            raise ValueError("max_retry_after and token_refresh_margin cannot be negative")


@dataclass(frozen=True, slots=True)
class BcConnection:
    """One BC environment, one company, one identity.

    ``api_url`` is the API v2.0 route root: online
    ``https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}/api/v2.0``, on-premises
    ``https://host:port/{instance}/api/v2.0`` (bc-api §1.1). Other API routes
    (``.../api/{publisher}/{group}/{version}``) are accepted too. ``company`` is the company's name
    or its id (GUID); a name is resolved to the id once, by ``GET companies``. ``odata_url`` is the
    OData V4 root of published web-service pages; by default the API root with ``/api/...``
    replaced by ``/ODataV4`` (bc-api §9). ``language`` is sent as ``Accept-Language`` so BC's
    messages come in the language our rules and people expect (bc-api §1.3).
    """

    api_url: str
    company: str
    auth: BcCredentials
    odata_url: str | None = None
    language: str = "en-US"

    def __post_init__(self) -> None:
        api = _check_http_url(self.api_url, "api_url")
        if "/api/" not in api.path + "/":
            raise ValueError("api_url must be an API route root such as https://host/.../api/v2.0")
        if api.query_string or api.fragment:
            raise ValueError("api_url cannot have a query or a fragment")
        object.__setattr__(self, "api_url", str(api).rstrip("/"))
        if self.odata_url is not None:
            object.__setattr__(self, "odata_url", str(_check_http_url(self.odata_url, "odata_url")).rstrip("/"))
        if not self.company.strip():
            raise ValueError("company must name a company (or give its id)")

    @property
    def odata_root(self) -> str:
        """The OData V4 web-services root: given, or derived from the API root."""
        if self.odata_url is not None:
            return self.odata_url
        head, _, _ = self.api_url.rpartition("/api/")
        return head + "/ODataV4"

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the API: the only place our credentials are sent."""
        return str(URL(self.api_url).origin())

    @property
    def uses_oauth(self) -> bool:
        return isinstance(self.auth, OAuthClientCredentials)


def _check_http_url(value: str, name: str) -> URL:
    try:
        url = URL(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if url.user or url.password:
        raise ValueError(f"{name} cannot carry credentials")  # they belong in `auth`, kept out of reprs
    return url
