"""The large company: 100,000 items, 2,000,000 item ledger entries over 5 locations and 100,000
couplings (times --scale), loaded in bulk with a progress bar.

Built once and kept between runs: a stamp file beside the data records what was built (sizes,
the generator's version and the migrations it was built with); a run whose stamp matches reuses
the database, any other builds it again. The running totals (item_inventory and
item_location_inventory) are summed here from the same entries, as posting would keep them, and
checked against the ledger.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from bench.processes import ROOT
from gateway.config import Settings
from gateway.initialise import DEMO_USER, initialise
from schemas import tables as t
from schemas.db import create_engine, write_transaction
from schemas.users import UserService

NAME = "LARGE"
VERSION = 1  # bump when the generated data changes
LOCATIONS = ("BLUE", "GREEN", "RED", "WHITE", "YELLOW")
CHUNK = 10_000
CACHE = ROOT / ".cache" / "bench"


@dataclass(frozen=True, slots=True)
class Size:
    items: int
    entries: int
    couplings: int

    @staticmethod
    def at(scale: float) -> Size:
        items = max(20, round(100_000 * scale))
        return Size(items, max(items, round(2_000_000 * scale)), min(items, max(20, round(100_000 * scale))))


def crm_id(i: int) -> str:
    """The Sales product id item i is coupled to."""
    return f"1a26e000-0000-4000-8000-{i:012d}"


def item_no(i: int) -> str:
    return f"L{i:07d}"


def _system_id(i: int) -> str:
    return f"5e5e0000-0000-4000-8000-{i:012d}"


def _migrations_hash() -> str:
    versions = sorted((ROOT / "schemas" / "migrations" / "versions").glob("*.py"))
    digest = hashlib.sha256()
    for path in versions:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _quantity(i: int, k: int) -> Decimal:
    """Purchases bring stock in, every fourth entry is a sale: inventory differs per item and location."""
    return Decimal(-(1 + (i + k) % 5)) if k % 4 == 3 else Decimal(1 + (i * 7 + k * 13) % 40)


def _chunks(size: Size) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)
    per_item, extra = divmod(size.entries, size.items)
    for start in range(0, size.items, CHUNK):
        stop = min(size.items, start + CHUNK)
        yield (
            "item",
            [
                {
                    "company": NAME,
                    "no": item_no(i),
                    "system_id": _system_id(i),
                    "description": f"Large company item {i}",
                    "type": "Inventory",
                    "base_unit_of_measure": "PCS",
                    "unit_price": Decimal(1 + i % 997),
                }
                for i in range(start, stop)
            ],
        )
        coupled = range(start, min(stop, size.couplings))
        if coupled:
            yield "crm_integration_record", [
                {"company": NAME, "crm_id": crm_id(i), "table_id": t.TABLE_ITEM, "integration_id": _system_id(i),
                 "coupled_at": now}
                for i in coupled
            ]  # fmt: skip
    batch: list[dict[str, Any]] = []
    for i in range(size.items):
        for k in range(per_item + (1 if i < extra else 0)):
            qty = _quantity(i, k)
            batch.append(
                {
                    "company": NAME,
                    "item_no": item_no(i),
                    "location_code": LOCATIONS[k % len(LOCATIONS)],
                    "posting_date": today - dt.timedelta(days=k % 365),
                    "entry_type": "Purchase" if qty > 0 else "Sale",
                    "document_no": f"LD{k:06d}",
                    "quantity": qty,
                }
            )
            if len(batch) >= CHUNK:
                yield "item_ledger_entry", batch
                batch = []
    if batch:
        yield "item_ledger_entry", batch


async def _load(engine: AsyncEngine, size: Size) -> None:
    totals: dict[str, Decimal] = {}
    by_location: dict[tuple[str, str], Decimal] = {}
    async with write_transaction(engine) as conn:
        await conn.execute(t.company.insert().values(name=NAME, display_name="Large company", system_id=_system_id(0)))
        await conn.execute(t.location.insert(), [{"company": NAME, "code": c, "name": c.title()} for c in LOCATIONS])
    bar = tqdm(total=size.items + size.couplings + size.entries, unit="row", desc="large company", mininterval=1)
    try:
        for table_name, rows in _chunks(size):
            if table_name == "item_ledger_entry":
                for row in rows:
                    totals[row["item_no"]] = totals.get(row["item_no"], Decimal(0)) + row["quantity"]
                    key = (row["item_no"], row["location_code"])
                    by_location[key] = by_location.get(key, Decimal(0)) + row["quantity"]
            async with write_transaction(engine) as conn:
                await conn.execute(t.metadata.tables[table_name].insert(), rows)
            bar.update(len(rows))
    finally:
        bar.close()
    inventory = [{"company": NAME, "item_no": no, "inventory": q} for no, q in totals.items()]
    locations = [{"company": NAME, "item_no": no, "location_code": loc, "inventory": q}
                 for (no, loc), q in by_location.items()]  # fmt: skip
    for table, rows in ((t.item_inventory, inventory), (t.item_location_inventory, locations)):
        for i in range(0, len(rows), CHUNK):
            async with write_transaction(engine) as conn:
                await conn.execute(table.insert(), rows[i : i + CHUNK])
    async with engine.connect() as conn:
        ledger = (
            await conn.execute(
                select(func.sum(t.item_ledger_entry.c.quantity)).where(t.item_ledger_entry.c.company == NAME)
            )
        ).scalar_one()
        kept = (
            await conn.execute(select(func.sum(t.item_inventory.c.inventory)).where(t.item_inventory.c.company == NAME))
        ).scalar_one()
    if Decimal(ledger) != Decimal(kept):
        raise RuntimeError(f"the running totals ({kept}) do not match the ledger ({ledger})")
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def reset_postgres(url: str) -> None:
    """A scratch PostgreSQL database: its public schema dropped and made again."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def _stamp_path(url: str, scale: float) -> Path:
    return CACHE / f"large-{hashlib.sha256(url.encode()).hexdigest()[:10]}-{scale:g}.stamp"


def sqlite_url(scale: float) -> str:
    return f"sqlite+aiosqlite:///{CACHE / f'large-{scale:g}.db'}"


async def _matches(engine: AsyncEngine, size: Size) -> bool:
    """The stamp is right only if the database still holds what it says (nobody dropped it)."""
    try:
        async with engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(t.item).where(t.item.c.company == NAME))).scalar()
    except Exception:
        return False
    return n == size.items


def _remove_sqlite(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(db) + suffix).unlink(missing_ok=True)


async def ensure(url: str, scale: float, *, rebuild: bool = False) -> tuple[str, Size, bool]:
    """The large company in `url` (built, or reused when its stamp matches); a fresh key for the
    demo user. Returns (key, size, built)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    size = Size.at(scale)
    stamp = {"version": VERSION, "migrations": _migrations_hash(), **asdict(size)}
    stamp_file = _stamp_path(url, scale)
    built = False
    engine = create_engine(url)
    try:
        fresh = not rebuild and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp
        if not (fresh and await _matches(engine, size)):
            await engine.dispose()
            stamp_file.unlink(missing_ok=True)
            if url.startswith("postgresql"):
                await reset_postgres(url)
            else:
                _remove_sqlite(Path(url.split("///", 1)[1]))
            engine = create_engine(url)
            await initialise(engine, Settings(database_url=url), demo=True)
            await _load(engine, size)
            stamp_file.write_text(json.dumps(stamp))
            built = True
        _user, key = await UserService(engine).change_key(DEMO_USER)
    finally:
        await engine.dispose()
    return key, size, built


if __name__ == "__main__":  # python -m bench.large_company [scale]: build (or check) it alone
    import sys

    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    _key, built_size, was_built = asyncio.run(ensure(sqlite_url(scale), scale))
    print(f"{'built' if was_built else 'reused'} {NAME}: {built_size}")
