"""CSV import of units of measure, currencies, items, item units, customers, customer price
groups, sales prices, resources, ledger entries and couplings.

The header row names the columns with the entity-set property names (No, Description,
Base_Unit_of_Measure, Unit_Price, ...). Each row is applied on its own (a savepoint): a bad row is
reported with its line number and reason (BC's message where BC has one: an unknown unit of
measure or currency code is refused as BC refuses it), and the good rows are kept.

Items, couplings and ledger entries go in batches of BATCH rows, one transaction each: the rows are
parsed and checked in Python against what one query per batch found (items, units, locations,
couplings), then written with one statement per table (the running totals summed per item and
location first). Should the database still refuse a batch, that batch is applied again row by
row, each in a savepoint, so the refused row is found and the others kept.

`ledger` rows are item ledger entries as BC lists them: the quantity carries its sign (a sale is
negative, a sales return positive). `bc-gateway inventory post` is a journal line instead.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import master_data as masterdata
from schemas import sales_prices, tables
from schemas.db import is_unavailable, write_transaction
from schemas.inventory import LedgerLine, PostingError, post_ledger_entries, post_ledger_entries_in_bulk
from schemas.master_data import MasterDataError
from schemas.mirror_ledger import analyse_growing

BATCH = 500  # rows per transaction, row by row (a savepoint each)
BULK_BATCH = 2000  # rows per transaction in batches; bigger gain little and hold SQLite's write lock longer


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (missing, unknown columns ...)."""


class RowError(ValueError):
    """One row cannot be imported; the message says why (the line number is added by the caller)."""


def _text(value: str) -> str:
    return value.strip()


def _decimal(value: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise RowError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise RowError(f"'{value}' is not a number")
    return number


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "y"):
        return True
    if low in ("0", "false", "no", "n", ""):
        return False
    raise RowError(f"'{value}' is not true or false")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise RowError(f"'{value}' is not a date (YYYY-MM-DD)") from None


Apply = Callable[[AsyncConnection, str, dict[str, Any]], Awaitable[bool]]
# A batch's parsed rows -> per row: True created, False updated, or the reason it is refused.
ApplyBatch = Callable[[AsyncConnection, str, list[dict[str, Any]]], Awaitable[list[bool | str]]]


@dataclass(frozen=True)
class Kind:
    columns: dict[str, Callable[[str], Any]]
    required: tuple[str, ...]
    apply: Apply
    apply_batch: ApplyBatch | None = None  # without it, row by row
    # Tables a batch both grows and looks up: their statistics are refreshed as they grow (PostgreSQL).
    grows: tuple[Table, ...] = ()


async def _couple_if_given(conn: AsyncConnection, company: str, kind: str, no: str, values: dict[str, Any]) -> None:
    crm_id = values.get("CRM_ID")
    if crm_id:
        await masterdata.couple(conn, company, kind, no, crm_id)


async def _apply_item(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    names = {
        "Description": "description",
        "Type": "type",
        "Base_Unit_of_Measure": "base_unit_of_measure",
        "Unit_Price": "unit_price",
        "Blocked": "blocked",
    }
    created = await masterdata.upsert_item(conn, company, v["No"], **{names[k]: v[k] for k in names if k in v})
    await _couple_if_given(conn, company, "item", v["No"], v)
    return created


async def _apply_unit_of_measure(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    return await masterdata.upsert_unit_of_measure(conn, company, v["Code"], v.get("Description", ""))


async def _apply_currency(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    return await masterdata.upsert_currency(conn, company, v["Code"], v.get("Description", ""))


async def _apply_unit(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    await masterdata.set_item_unit(conn, company, v["Item_No"], v["Code"], v["Qty_per_Unit_of_Measure"])
    return True


async def _apply_customer(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    names = {
        "Name": "name",
        "Address": "address",
        "City": "city",
        "Post_Code": "post_code",
        "Country_Region_Code": "country_region_code",
        "Currency_Code": "currency_code",
        "Customer_Price_Group": "customer_price_group",
        "Blocked": "blocked",
    }
    created = await masterdata.upsert_customer(conn, company, v["No"], **{names[k]: v[k] for k in names if k in v})
    await _couple_if_given(conn, company, "customer", v["No"], v)
    return created


async def _apply_resource(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    names = {
        "Name": "name",
        "Base_Unit_of_Measure": "base_unit_of_measure",
        "Unit_Price": "unit_price",
        "Blocked": "blocked",
    }
    created = await masterdata.upsert_resource(conn, company, v["No"], **{names[k]: v[k] for k in names if k in v})
    await _couple_if_given(conn, company, "resource", v["No"], v)
    return created


async def _apply_price_group(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    names = {
        "Description": "description",
        "Price_Includes_VAT": "price_includes_vat",
        "Allow_Invoice_Disc": "allow_invoice_disc",
        "Allow_Line_Disc": "allow_line_disc",
    }
    return await sales_prices.upsert_customer_price_group(
        conn, company, v["Code"], **{names[k]: v[k] for k in names if k in v}
    )


async def _apply_sales_price(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    key = sales_prices.PriceKey(
        item_no=v["Item_No"],
        sales_type=v.get("Sales_Type") or sales_prices.CUSTOMER_PRICE_GROUP,
        sales_code=v.get("Sales_Code", ""),
        starting_date=v.get("Starting_Date"),
        currency_code=v.get("Currency_Code", ""),
        variant_code=v.get("Variant_Code", ""),
        unit_of_measure_code=v.get("Unit_of_Measure_Code", ""),
        minimum_quantity=v.get("Minimum_Quantity", Decimal(0)),
    )
    names = {
        "Unit_Price": "unit_price",
        "Ending_Date": "ending_date",
        "Price_Includes_VAT": "price_includes_vat",
        "Allow_Invoice_Disc": "allow_invoice_disc",
        "Allow_Line_Disc": "allow_line_disc",
    }
    return await sales_prices.upsert_sales_price(conn, company, key, **{names[k]: v[k] for k in names if k in v})


_ITEM_COLUMNS = {
    "Description": "description",
    "Type": "type",
    "Base_Unit_of_Measure": "base_unit_of_measure",
    "Unit_Price": "unit_price",
    "Blocked": "blocked",
}


async def _apply_items(conn: AsyncConnection, company: str, rows: list[dict[str, Any]]) -> list[bool | str]:
    return await masterdata.upsert_items_in_bulk(
        conn,
        company,
        [(v["No"], {_ITEM_COLUMNS[k]: v[k] for k in _ITEM_COLUMNS if k in v}, v.get("CRM_ID")) for v in rows],
    )


def _ledger_line(v: dict[str, Any]) -> LedgerLine:
    return LedgerLine(
        item_no=v["Item_No"],
        quantity=v["Quantity"],
        location_code=v.get("Location_Code", ""),
        posting_date=v.get("Posting_Date"),
        entry_type=v.get("Entry_Type") or None,
        document_no=v.get("Document_No", ""),
        description=v.get("Description", ""),
    )


async def _apply_ledger_batch(conn: AsyncConnection, company: str, rows: list[dict[str, Any]]) -> list[bool | str]:
    refusals = await post_ledger_entries_in_bulk(conn, company, [_ledger_line(v) for v in rows])
    return [True if refusal is None else refusal for refusal in refusals]


async def _apply_ledger(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    await post_ledger_entries(conn, company, [_ledger_line(v)])
    return True


_TABLES = {
    "item": "item",
    "27": "item",
    "customer": "customer",
    "18": "customer",
    "resource": "resource",
    "156": "resource",
    "unit": "unit",
    "unit of measure": "unit",
    "204": "unit",
}


async def _apply_coupling(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    kind = _TABLES.get(v["Table"].strip().lower())
    if kind is None:
        raise RowError(f"Table '{v['Table']}' is not Item, Customer, Resource or Unit")
    await masterdata.couple(conn, company, kind, v["No"], v["CRM_ID"])
    return True


async def _apply_couplings(conn: AsyncConnection, company: str, rows: list[dict[str, Any]]) -> list[bool | str]:
    outcomes: list[bool | str] = [True] * len(rows)
    wanted: list[tuple[str, str, str]] = []
    at: list[int] = []
    for index, v in enumerate(rows):
        kind = _TABLES.get(v["Table"].strip().lower())
        if kind is None:
            outcomes[index] = f"Table '{v['Table']}' is not Item, Customer, Resource or Unit"
        else:
            wanted.append((kind, v["No"], v["CRM_ID"]))
            at.append(index)
    for index, refusal in zip(at, await masterdata.couple_in_bulk(conn, company, wanted), strict=True):
        if refusal is not None:
            outcomes[index] = refusal
    return outcomes


KINDS: dict[str, Kind] = {
    # First what the others refer to: BC refuses an unknown unit of measure or currency code.
    "units-of-measure": Kind({"Code": _text, "Description": _text}, ("Code",), _apply_unit_of_measure),
    "currencies": Kind({"Code": _text, "Description": _text}, ("Code",), _apply_currency),
    "items": Kind(
        {
            "No": _text,
            "Description": _text,
            "Type": _text,
            "Base_Unit_of_Measure": _text,
            "Unit_Price": _decimal,
            "Blocked": _bool,
            "CRM_ID": _text,
        },
        ("No",),
        _apply_item,
        _apply_items,
        (tables.item, tables.crm_integration_record),
    ),
    "units": Kind(
        {"Item_No": _text, "Code": _text, "Qty_per_Unit_of_Measure": _decimal},
        ("Item_No", "Code", "Qty_per_Unit_of_Measure"),
        _apply_unit,
    ),
    "customers": Kind(
        {
            "No": _text,
            "Name": _text,
            "Address": _text,
            "City": _text,
            "Post_Code": _text,
            "Country_Region_Code": _text,
            "Currency_Code": _text,
            "Customer_Price_Group": _text,
            "Blocked": _bool,
            "CRM_ID": _text,
        },
        ("No",),
        _apply_customer,
    ),
    # Before customers that name them; sales prices after items, units and currencies.
    "customer-price-groups": Kind(
        {
            "Code": _text,
            "Description": _text,
            "Price_Includes_VAT": _bool,
            "Allow_Invoice_Disc": _bool,
            "Allow_Line_Disc": _bool,
        },
        ("Code",),
        _apply_price_group,
    ),
    "sales-prices": Kind(
        {
            "Item_No": _text,
            "Sales_Type": _text,
            "Sales_Code": _text,
            "Starting_Date": _date,
            "Ending_Date": _date,
            "Currency_Code": _text,
            "Variant_Code": _text,
            "Unit_of_Measure_Code": _text,
            "Minimum_Quantity": _decimal,
            "Unit_Price": _decimal,
            "Price_Includes_VAT": _bool,
            "Allow_Invoice_Disc": _bool,
            "Allow_Line_Disc": _bool,
        },
        ("Item_No", "Unit_Price"),
        _apply_sales_price,
    ),
    "resources": Kind(
        {
            "No": _text,
            "Name": _text,
            "Base_Unit_of_Measure": _text,
            "Unit_Price": _decimal,
            "Blocked": _bool,
            "CRM_ID": _text,
        },
        ("No",),
        _apply_resource,
    ),
    "ledger": Kind(
        {
            "Item_No": _text,
            "Location_Code": _text,
            "Quantity": _decimal,
            "Posting_Date": _date,
            "Entry_Type": _text,
            "Document_No": _text,
            "Description": _text,
        },
        ("Item_No", "Quantity"),
        _apply_ledger,
        _apply_ledger_batch,
    ),
    "couplings": Kind(
        {"Table": _text, "No": _text, "CRM_ID": _text},
        ("Table", "No", "CRM_ID"),
        _apply_coupling,
        _apply_couplings,
        (tables.crm_integration_record,),
    ),
}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.created + self.updated


def _read(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]], int]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: not UTF-8 text") from None
    first = text.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(keepends=True), dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFileError(f"{path}: the file is empty") from None
    total = max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)

    def rows() -> Iterator[tuple[int, list[str]]]:
        for row in reader:
            # (any(row) first: C speed for the common row, whose cells are not all blank)
            if any(row) and (row[0].strip() or any(cell.strip() for cell in row)):
                yield reader.line_num, row

    return header, rows(), total


Plan = list[tuple[str, Callable[[str], Any], bool]]  # per column: name, conversion, required


def _plan(kind: Kind, header: list[str]) -> Plan:
    return [(name, kind.columns[name], name in kind.required) for name in header]


def _parse_row(kind: Kind, header: list[str], cells: list[str], plan: Plan | None = None) -> dict[str, Any]:
    if len(cells) != len(header):
        raise RowError(f"{len(cells)} values for {len(header)} columns")
    values: dict[str, Any] = {}
    for (name, convert, required), cell in zip(plan or _plan(kind, header), cells, strict=True):
        text = cell.strip()
        if not text and not required:
            continue
        if convert is _text:  # most columns: no call for them
            values[name] = text
            continue
        try:
            values[name] = convert(cell)
        except RowError as exc:
            raise RowError(f"{name}: {exc}") from None
    for name in kind.required:
        if values.get(name) in (None, ""):
            raise RowError(f"{name} must have a value")
    return values


async def import_csv(
    engine: AsyncEngine,
    company: str,
    kind_name: str,
    path: Path,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ImportFileError(f"Cannot import '{kind_name}': use one of {', '.join(KINDS)}.")
    header, rows, _total = _read(path)
    unknown = [h for h in header if h not in kind.columns]
    if unknown:
        raise ImportFileError(
            f"{path}: unknown column(s) {', '.join(unknown)}; {kind_name} takes {', '.join(kind.columns)}"
        )
    missing = [r for r in kind.required if r not in header]
    if missing:
        raise ImportFileError(f"{path}: the column(s) {', '.join(missing)} are required")
    if len(set(header)) != len(header):
        raise ImportFileError(f"{path}: a column is named twice")

    async with write_transaction(engine) as conn:
        await masterdata.require_company(conn, company)

    result = ImportResult()
    batch: list[tuple[int, list[str]]] = []

    async def row_by_row(parsed: list[tuple[int, dict[str, Any]]]) -> dict[int, bool | str]:
        outcomes: dict[int, bool | str] = {}
        async with write_transaction(engine) as conn:
            for line, values in parsed:
                try:
                    async with conn.begin_nested():
                        outcomes[line] = await kind.apply(conn, company, values)
                except (RowError, MasterDataError, PostingError) as exc:
                    outcomes[line] = str(exc)
                except IntegrityError as exc:
                    outcomes[line] = f"refused by the database: {type(exc.orig).__name__}"
        return outcomes

    batches = [0]

    async def in_one(parsed: list[tuple[int, dict[str, Any]]]) -> dict[int, bool | str] | None:
        """The batch in one go; None when the database refused it (then row_by_row finds why)."""
        assert kind.apply_batch is not None
        try:
            async with write_transaction(engine) as conn:
                applied = await kind.apply_batch(conn, company, [values for _line, values in parsed])
                batches[0] += 1
                # Else PostgreSQL still plans for the empty tables it saw first: each batch's
                # look-ups then scan what the batches before wrote (slower batch by batch).
                await analyse_growing(conn, kind.grows, batches[0])
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise
            return None
        return {line: outcome for (line, _values), outcome in zip(parsed, applied, strict=True)}

    plan = _plan(kind, header)

    async def flush() -> None:
        outcomes: dict[int, bool | str] = {}
        parsed: list[tuple[int, dict[str, Any]]] = []
        for line, cells in batch:
            try:
                parsed.append((line, _parse_row(kind, header, cells, plan)))
            except RowError as exc:
                outcomes[line] = str(exc)
        if parsed:
            applied = await in_one(parsed) if kind.apply_batch else None
            outcomes.update(applied if applied is not None else await row_by_row(parsed))
        for line, outcome in sorted(outcomes.items()):
            result.rows += 1
            if isinstance(outcome, str):
                result.errors.append((line, outcome))
            elif outcome:
                result.created += 1
            else:
                result.updated += 1
        if progress:
            progress(len(batch))
        batch.clear()

    size = BULK_BATCH if kind.apply_batch is not None else BATCH
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            await flush()
    if batch:
        await flush()
    return result


def count_rows(path: Path) -> int:
    try:
        _header, _rows, total = _read(path)
    except ImportFileError:
        return 0
    return total
