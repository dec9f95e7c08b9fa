"""What the entity-set definitions share: zero for a missing total, the coupling join, who reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal

from schemas import tables as t
from schemas.roles import INTEGRATION, INTEGRATION_ADMIN, PRODUCT_AVAILABILITY
from schemas.types import Decimal5

AVAILABILITY = "availability"  # the group the item availability web service publishes


def zero(column: Any) -> Any:
    return func.coalesce(column, literal(0, Decimal5), type_=Decimal5)


def coupled(table_id: int, system_id: Any, company_col: Any) -> Any:
    cir = t.crm_integration_record
    return and_(
        cir.c.company == company_col,
        cir.c.table_id == table_id,
        cir.c.integration_id == system_id,
    )


READ_AVAILABILITY = frozenset({PRODUCT_AVAILABILITY, INTEGRATION_ADMIN})
READ_INTEGRATION = frozenset({INTEGRATION, INTEGRATION_ADMIN})
