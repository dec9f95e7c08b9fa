"""The roles a web service user can hold: BC's integration permission sets, as Sales names them.

- PRODUCT_AVAILABILITY ("Product Availability User"): reads the item availability sets;
- INTEGRATION ("Integration User"): the account the integration acts as; delivers webhooks and
  reads the BC document sets;
- INTEGRATION_ADMIN ("Integration Administrator"): the connection setup, users, the inbox, metrics.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PRODUCT_AVAILABILITY = "PRODUCT_AVAILABILITY"
    INTEGRATION = "INTEGRATION"
    INTEGRATION_ADMIN = "INTEGRATION_ADMIN"


PRODUCT_AVAILABILITY = Role.PRODUCT_AVAILABILITY
INTEGRATION = Role.INTEGRATION
INTEGRATION_ADMIN = Role.INTEGRATION_ADMIN
ROLES: tuple[Role, ...] = tuple(Role)
