"""What one pass of a mapping carries around: both sides, the lookups, the caches its hooks fill."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync.defaults import BC_TABLES, SALES_TABLES, SalesTable
from orders.sync.model import Direction, TableMapping
from orders.sync.ports import BcRecords, SalesPort
from orders.sync.transfer import LookupTable


class HookError(Exception):
    """A table's own rule failed for this record; the message is BC's."""


def parse_sales_time(value: Any) -> dt.datetime | None:
    """Sales' ``modifiedon`` (ISO text, Z for UTC) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).replace("Z", "+00:00")
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _record_value(value: Any) -> str:
    if value is None or value == dt.date.min:  # BC's blank date (0D)
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@dataclass
class PassContext:
    engine: AsyncEngine
    company: str
    mapping: TableMapping
    direction: Direction
    sales: SalesPort
    bc: BcRecords
    job_id: str
    lookups: dict[str, LookupTable] = field(default_factory=dict)
    lcy_code: str = ""
    integration_user: str | None = None  # the systemuserid our writes carry as modifiedby
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def sales_table(self) -> SalesTable:
        return SALES_TABLES[self.mapping.integration_table]

    @property
    def bc_caption(self) -> str:
        return BC_TABLES[self.mapping.table_id].caption

    @property
    def bc_key(self) -> str:
        return BC_TABLES[self.mapping.table_id].key

    def bc_record_id(self, record: dict[str, Any]) -> str:
        """BC's RecordId text: ``Item: 1000``, ``Sales Price: 1000,Customer Price Group,RETAIL,,,,PCS,0``."""
        fields = BC_TABLES[self.mapping.table_id].record_fields or (self.bc_key,)
        return f"{self.bc_caption}: {','.join(_record_value(record.get(name)) for name in fields)}"

    def sales_record_id(self, row_id: str | None) -> str:
        return f"{self.mapping.integration_table}: {{{row_id}}}" if row_id else self.mapping.integration_table
