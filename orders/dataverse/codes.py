"""Dataverse's option values that the integration reads and writes, defined once.

State (``statecode``) and status (``statuscode``) of orders and quotes, product states and types,
the account type. The captions are Sales' own, as BC's messages show them.
"""

from __future__ import annotations

from enum import IntEnum


class SalesOrderState(IntEnum):
    ACTIVE = 0
    SUBMITTED = 1
    CANCELED = 2
    FULFILLED = 3
    INVOICED = 4


class SalesOrderStatus(IntEnum):
    NEW = 1  # Active
    PENDING = 2  # Active
    IN_PROGRESS = 3  # Submitted
    NO_MONEY = 4  # Canceled
    COMPLETE = 100001  # Fulfilled
    PARTIAL = 100002  # Fulfilled
    INVOICED = 100003  # Invoiced
    ON_HOLD = 690970000  # Active


class QuoteState(IntEnum):
    DRAFT = 0
    ACTIVE = 1
    WON = 2
    CLOSED = 3

    @property
    def caption(self) -> str:
        return _QUOTE_STATE_CAPTIONS[self]


_QUOTE_STATE_CAPTIONS = {
    QuoteState.DRAFT: "Draft",
    QuoteState.ACTIVE: "Active",
    QuoteState.WON: "Won",
    QuoteState.CLOSED: "Closed (Lost, Canceled or Revised)",
}


class QuoteStatus(IntEnum):
    IN_PROGRESS_DRAFT = 1  # Draft
    IN_PROGRESS = 2  # Active
    OPEN = 3  # Active
    WON = 4  # Won
    LOST = 5  # Closed
    CANCELED = 6  # Closed
    REVISED = 7  # Closed


class ProductState(IntEnum):
    ACTIVE = 0
    RETIRED = 1
    DRAFT = 2
    UNDER_REVISION = 3

    @property
    def caption(self) -> str:
        return self.name.replace("_", " ").title()


class ProductType(IntEnum):
    SALES_INVENTORY = 1
    MISCELLANEOUS_CHARGES = 2
    SERVICES = 3
    FLAT_FEES = 4


class AccountType(IntEnum):
    CUSTOMER = 3  # account.customertypecode
