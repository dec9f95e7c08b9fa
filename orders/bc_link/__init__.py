"""The link to a real Business Central through its standard REST API v2.0.

- :mod:`~orders.bc_link.client`: :class:`BcApiClient`, the one client every caller of an identity
  shares (reads, paging, published pages, writes, bound actions, ``$batch``);
- :mod:`~orders.bc_link.config`: :class:`BcConnection`, the credentials, :class:`BcLimits`;
- :mod:`~orders.bc_link.errors`: :class:`BcError` and what each subclass asks the caller to do;
- :mod:`~orders.bc_link.odata`: literals, ``$filter`` helpers, entity paths;
- :mod:`~orders.bc_link.batch`: ``$batch`` operations and results;
- :mod:`~orders.bc_link.shapes`: what reads answer with (company, page, action result);
- :mod:`~orders.bc_link.connection_check`: the checks behind ``bc-gateway setup test``;
- :mod:`~orders.bc_link.transport`, :mod:`~orders.bc_link.auth`, :mod:`~orders.bc_link.limits`:
  retries, tokens and pacing inside the client.

The facts come from ``docs/reference/bc-api.md``; how to use the client: ``docs/bc-link.md``.
"""

from orders.bc_link.batch import BatchOperation, BatchReply, BatchResult
from orders.bc_link.client import BcApiClient
from orders.bc_link.config import BC_SCOPE, BasicAccessKey, BcConnection, BcLimits, OAuthClientCredentials
from orders.bc_link.connection_check import CheckResult, check_bc_connection
from orders.bc_link.errors import (
    BcAuthenticationError,
    BcCompanyNotFound,
    BcConflict,
    BcError,
    BcFailure,
    BcIndeterminate,
    BcNotFound,
    BcPermissionError,
    BcProtocolError,
    BcRejected,
    BcUnavailable,
)
from orders.bc_link.limits import BcMetrics, IdentityLimiter
from orders.bc_link.odata import entity_path, etag_of, query
from orders.bc_link.shapes import ActionResult, BcCompany, BcPage
from orders.bc_link.transport import BcCall, BcResponse

__all__ = [
    "BC_SCOPE",
    "ActionResult",
    "BasicAccessKey",
    "BatchOperation",
    "BatchReply",
    "BatchResult",
    "BcApiClient",
    "BcAuthenticationError",
    "BcCall",
    "BcCompany",
    "BcCompanyNotFound",
    "BcConflict",
    "BcConnection",
    "BcError",
    "BcFailure",
    "BcIndeterminate",
    "BcLimits",
    "BcMetrics",
    "BcNotFound",
    "BcPage",
    "BcPermissionError",
    "BcProtocolError",
    "BcRejected",
    "BcResponse",
    "BcUnavailable",
    "CheckResult",
    "IdentityLimiter",
    "OAuthClientCredentials",
    "check_bc_connection",
    "entity_path",
    "etag_of",
    "query",
]
