"""CSV import of units of measure, currencies, items, item units, customers, resources, ledger
entries and couplings.

The header row names the columns with the entity-set property names (No, Description,
Base_Unit_of_Measure, Unit_Price, ...). A bad row is reported with its line number and reason
(BC's message where BC has one: an unknown unit of measure or currency code is refused as BC
refuses it), and the good rows are kept.

Items, ledger entries and couplings go in bulk (issue 13: a real company's first import): 2,000
rows per transaction, checked against the database in a few lookups, written by executemany, the
running totals summed per batch; each row gets the outcome and message it would get on its own.
What the bulk path does not handle (an item that exists already or comes twice, an item with its
coupling, a record coupled twice in one batch, a refusal by the database) sends that batch row by
row: each row on its own savepoint, as the other kinds always go.

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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import master_data as masterdata
from schemas.db import write_transaction
from schemas.inventory import LedgerLine, PostingError, post_ledger_batch, post_ledger_entries
from schemas.master_data import MasterDataError

BATCH = 500  # rows per transaction, row by row (a savepoint each)
BULK_BATCH = 2000  # rows per transaction in bulk: a few statements for all of them


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
# Many rows at once: per row None (created) or why it is refused, the message `apply` would give;
# None for the whole batch when it cannot be done in bulk (then `apply` goes row by row).
ApplyBatch = Callable[[AsyncConnection, str, list[dict[str, Any]]], Awaitable[list[str | None] | None]]


@dataclass(frozen=True)
class Kind:
    columns: dict[str, Callable[[str], Any]]
    required: tuple[str, ...]
    apply: Apply
    apply_batch: ApplyBatch | None = None


async def _couple_if_given(conn: AsyncConnection, company: str, kind: str, no: str, values: dict[str, Any]) -> None:
    crm_id = values.get("CRM_ID")
    if crm_id:
        await masterdata.couple(conn, company, kind, no, crm_id)


async def _apply_item(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    names = _ITEM_COLUMNS
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


async def _apply_ledger(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    await post_ledger_entries(conn, company, [_ledger_line(v)])
    return True


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


async def _apply_ledger_batch(conn: AsyncConnection, company: str, rows: list[dict[str, Any]]) -> list[str | None]:
    return await post_ledger_batch(conn, company, [_ledger_line(v) for v in rows])


_ITEM_COLUMNS = {
    "Description": "description",
    "Type": "type",
    "Base_Unit_of_Measure": "base_unit_of_measure",
    "Unit_Price": "unit_price",
    "Blocked": "blocked",
}


async def _apply_item_batch(conn: AsyncConnection, company: str, rows: list[dict[str, Any]]) -> list[str | None] | None:
    if any(v.get("CRM_ID") for v in rows):
        return None  # an item and its coupling stand or fall together: row by row
    return await masterdata.create_items(
        conn, company, [(v["No"], {_ITEM_COLUMNS[k]: v[k] for k in _ITEM_COLUMNS if k in v}) for v in rows]
    )


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


async def _apply_coupling_batch(
    conn: AsyncConnection, company: str, rows: list[dict[str, Any]]
) -> list[str | None] | None:
    kinds = [_TABLES.get(v["Table"].strip().lower()) for v in rows]
    wanted = [(k, v["No"], v["CRM_ID"]) for k, v in zip(kinds, rows, strict=True) if k is not None]
    result = await masterdata.couple_many(conn, company, wanted) if wanted else []
    if result is None:
        return None
    coupled = iter(result)
    outcome: list[str | None] = []
    for kind, v in zip(kinds, rows, strict=True):
        if kind is None:
            outcome.append(f"Table '{v['Table']}' is not Item, Customer, Resource or Unit")
        else:
            outcome.append(next(coupled))
    return outcome


async def _apply_coupling(conn: AsyncConnection, company: str, v: dict[str, Any]) -> bool:
    kind = _TABLES.get(v["Table"].strip().lower())
    if kind is None:
        raise RowError(f"Table '{v['Table']}' is not Item, Customer, Resource or Unit")
    await masterdata.couple(conn, company, kind, v["No"], v["CRM_ID"])
    return True


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
        _apply_item_batch,
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
            "Blocked": _bool,
            "CRM_ID": _text,
        },
        ("No",),
        _apply_customer,
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
        _apply_coupling_batch,
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
            if any(cell.strip() for cell in row):
                yield reader.line_num, row

    return header, rows(), total


def _parse_row(kind: Kind, header: list[str], cells: list[str]) -> dict[str, Any]:
    if len(cells) != len(header):
        raise RowError(f"{len(cells)} values for {len(header)} columns")
    values: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=True):
        if cell.strip() == "" and name not in kind.required:
            continue
        try:
            values[name] = kind.columns[name](cell)
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

    async def row_by_row(conn: AsyncConnection) -> None:
        """Each row on its own savepoint: a bad one is reported and the good ones are kept."""
        for line, cells in batch:
            result.rows += 1
            try:
                values = _parse_row(kind, header, cells)
                async with conn.begin_nested():
                    created = await kind.apply(conn, company, values)
                if created:
                    result.created += 1
                else:
                    result.updated += 1
            except (RowError, MasterDataError, PostingError) as exc:
                result.errors.append((line, str(exc)))
            except IntegrityError as exc:
                result.errors.append((line, f"refused by the database: {type(exc.orig).__name__}"))
            if progress:
                progress(1)

    async def in_bulk(conn: AsyncConnection, apply_batch: ApplyBatch) -> bool:
        """The whole batch in a few statements, with the same per-row outcome as row_by_row;
        False (nothing written) when it cannot be done so: then row_by_row does it."""
        parsed: list[tuple[int, dict[str, Any] | str]] = []
        for line, cells in batch:
            try:
                parsed.append((line, _parse_row(kind, header, cells)))
            except RowError as exc:
                parsed.append((line, str(exc)))
        good = [values for _line, values in parsed if isinstance(values, dict)]
        try:
            async with conn.begin_nested():
                outcome = await apply_batch(conn, company, good) if good else []
                if outcome is None:
                    raise _RowByRow
        except (_RowByRow, IntegrityError, MasterDataError, PostingError):
            return False
        refusals = iter(outcome)
        for line, values in parsed:
            result.rows += 1
            refused = values if isinstance(values, str) else next(refusals)
            if refused is None:
                result.created += 1
            else:
                result.errors.append((line, refused))
        if progress:
            progress(len(batch))
        return True

    async def flush() -> None:
        async with write_transaction(engine) as conn:
            if kind.apply_batch is None or not await in_bulk(conn, kind.apply_batch):
                await row_by_row(conn)
        batch.clear()

    size = BULK_BATCH if kind.apply_batch is not None else BATCH
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            await flush()
    if batch:
        await flush()
    return result


class _RowByRow(Exception):
    """The batch cannot be done in bulk (see ApplyBatch)."""


def count_rows(path: Path) -> int:
    try:
        _header, _rows, total = _read(path)
    except ImportFileError:
        return 0
    return total
