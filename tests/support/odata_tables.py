"""Made-up tables and entity sets for the generic OData layer's tests: gateway/odata knows nothing
of BC, and these hold it to that. Books (every property type, rows with awkward text), and a table
of nullable columns for keyset paging.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, MetaData, Numeric, String, Table, select

from gateway.odata import edm

books_metadata = MetaData()
books = Table(
    "books",
    books_metadata,
    Column("code", String(20), primary_key=True),
    Column("title", String(100), nullable=False),
    Column("isbn_id", String(36), nullable=True),
    Column("pages", Integer, nullable=False),
    Column("price", Numeric(20, 5, asdecimal=True), nullable=False),
    Column("in_print", Boolean, nullable=False),
    Column("published", Date, nullable=True),
)


def _books_source(_company: str) -> Any:
    b = books.c
    return select(
        b.code.label("Code"),
        b.title.label("Title"),
        b.isbn_id.label("Id"),
        b.pages.label("Pages"),
        b.price.label("Price"),
        b.in_print.label("In_Print"),
        b.published.label("Published"),
    )


BOOKS = edm.EntitySet(
    name="Books",
    properties=(
        edm.Property("Code", edm.STRING, nullable=False, max_length=20),
        edm.Property("Title", edm.STRING, nullable=False, max_length=100),
        edm.Property("Id", edm.GUID),
        edm.Property("Pages", edm.INT32, nullable=False),
        edm.Property("Price", edm.DECIMAL, nullable=False),
        edm.Property("In_Print", edm.BOOLEAN, nullable=False),
        edm.Property("Published", edm.DATE),
    ),
    key=("Code",),
    source=_books_source,
    cache_identity={"Code": "code", "Id": "id"},
)

GUID_A = "0a000000-0000-4000-8000-00000000000a"
BOOK_ROWS: list[dict[str, Any]] = [
    {
        "code": "B1",
        "title": "O'Brien's Guide",
        "isbn_id": GUID_A,
        "pages": 120,
        "price": Decimal("19.5"),
        "in_print": True,
        "published": dt.date(2020, 5, 1),
    },
    {
        "code": "B2",
        "title": "50% off_sale",
        "isbn_id": None,
        "pages": 7,
        "price": Decimal("3"),
        "in_print": False,
        "published": None,
    },
    {
        "code": "B3",
        "title": "50X offXsale",
        "isbn_id": "0b000000-0000-4000-8000-00000000000b",
        "pages": 300,
        "price": Decimal("42.125"),
        "in_print": True,
        "published": dt.date(1999, 12, 31),
    },
    {
        "code": "B_4",
        "title": "Äpfel – Größe XL 日本",
        "isbn_id": None,
        "pages": 64,
        "price": Decimal("0.5"),
        "in_print": False,
        "published": dt.date(2024, 2, 29),
    },
]


def book_columns() -> dict[str, Any]:
    """The entity set's properties as columns of its source (what compile_filter resolves names to)."""
    sq = BOOKS.source("").subquery("s")
    return {p.name: sq.c[p.name] for p in BOOKS.properties}


# --- keyset paging ------------------------------------------------------------------------------

keyset_metadata = MetaData()
rows_table = Table(
    "rows",
    keyset_metadata,
    Column("id", Integer, primary_key=True),
    Column("a", Integer, nullable=True),
    Column("b", String(5), nullable=True),
)
