"""Availability benchmarks: each figure a ratio against a baseline measured in the same run.

  (a) ProductItemAvailability?$filter=CRM_ID eq <guid>: answer cache on vs off (BCGW_CACHE_TTL=0)
  (b) the same lookup (cache off) in a company with 1k vs 100k item ledger entries: the running
      totals keep it flat; summing the ledger per item, for contrast, is not
  (c) a paged walk through 20k items: gateway peak RSS with odata.maxpagesize 1000 vs 20000

The gateway runs as real `bc-gateway serve` processes on loopback; an aiohttp client with many
connections drives them. SQLite in a temporary directory by default; PostgreSQL when
BCGW_BENCH_DATABASE_URL is set (a scratch database: its schema is dropped and rebuilt).
Run: `make bench`. Absolute figures depend on the machine; the ratios are the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
import random
import shutil
import socket
import sys
import tempfile
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/availability.py` from a checkout

from gateway.config import Settings  # noqa: E402
from gateway.initialise import DEMO_USER, initialise  # noqa: E402
from schemas import tables as t  # noqa: E402
from schemas.db import create_engine, write_transaction  # noqa: E402
from schemas.users import UserService  # noqa: E402

WINDOW = float(os.environ.get("BCGW_BENCH_SECONDS", "4"))  # seconds per measured window
ROUNDS = 3  # baseline and variant alternate, so drift hits both; the best window of each counts
CONCURRENCY = 32
LOOKUP_KEYS = 200  # distinct CRM_IDs asked for, round robin (all cached after the first round)
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    items: int
    entries: int

    def crm_id(self, i: int) -> str:
        return str(uuid.UUID(int=zlib.crc32(self.name.encode()) << 64 | i, version=4))

    def entry_counts(self) -> list[int]:
        """Ledger entries per item: as in a real company, a few items have most of them (1/rank)."""
        extra = self.entries - self.items  # every item has one; the rest by weight
        weights = [1 / (i + 1) for i in range(self.items)]
        total = sum(weights)
        counts = [1 + int(extra * w / total) for w in weights]
        counts[0] += self.entries - sum(counts)
        return counts


SMALL = Company("SMALL", 1_000, 1_000)  # one entry per item
LARGE = Company("LARGE", 1_000, 100_000)  # the same items, 100 times the entries
WIDE = Company("WIDE", 20_000, 20_000)  # 20k items to walk through
COMPANIES = (SMALL, LARGE, WIDE)


# --- database ---------------------------------------------------------------------------------


async def fresh_schema(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


async def seed(engine: AsyncEngine, company: Company) -> None:
    """Items coupled to Sales products, ledger entries, and the running totals that match them.

    Bulk inserts (posting 100k entries one by one would take longer than the benchmark); the
    totals are summed here from the same entries and checked against the ledger afterwards.
    """
    rng = random.Random(company.name)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)
    items, couplings, entries = [], [], []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for i, n_entries in enumerate(company.entry_counts()):
        no = f"B{i:06d}"
        system_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        items.append(
            {
                "company": company.name,
                "no": no,
                "system_id": system_id,
                "description": f"Bench item {i}",
                "type": "Inventory",
                "base_unit_of_measure": "PCS",
                "unit_price": Decimal(rng.randint(1, 999)),
            }
        )
        couplings.append(
            {
                "company": company.name,
                "crm_id": company.crm_id(i),
                "table_id": t.TABLE_ITEM,
                "integration_id": system_id,
                "coupled_at": now,
            }
        )
        for k in range(n_entries):
            qty = Decimal(rng.randint(1, 20)) if k % 4 != 3 else Decimal(-rng.randint(1, 5))
            entries.append(
                {
                    "company": company.name,
                    "item_no": no,
                    "location_code": "",
                    "posting_date": today - dt.timedelta(days=k % 365),
                    "entry_type": "Purchase" if qty > 0 else "Sale",
                    "document_no": f"D{k:06d}",
                    "quantity": qty,
                }
            )
            totals[no] += qty
    inventory = [{"company": company.name, "item_no": no, "inventory": q} for no, q in totals.items()]
    by_location = [{**row, "location_code": ""} for row in inventory]
    async with write_transaction(engine) as conn:
        await conn.execute(
            t.company.insert().values(name=company.name, display_name=company.name, system_id=str(uuid.uuid4()))
        )
        for table, rows in (
            (t.item, items),
            (t.crm_integration_record, couplings),
            (t.item_ledger_entry, entries),
            (t.item_inventory, inventory),
            (t.item_location_inventory, by_location),
        ):
            for chunk in _chunks(rows):
                await conn.execute(table.insert(), chunk)
    async with engine.connect() as conn:
        ledger = (
            await conn.execute(
                select(func.sum(t.item_ledger_entry.c.quantity)).where(t.item_ledger_entry.c.company == company.name)
            )
        ).scalar_one()
        kept = (
            await conn.execute(
                select(func.sum(t.item_inventory.c.inventory)).where(t.item_inventory.c.company == company.name)
            )
        ).scalar_one()
    assert Decimal(ledger) == Decimal(kept), f"{company.name}: totals {kept} do not match the ledger {ledger}"
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()


async def prepare(url: str) -> str:
    """Schema, demo user with its key, availability published, the bench companies. The key."""
    await fresh_schema(url)
    engine = create_engine(url)
    try:
        await initialise(engine, Settings(database_url=url), demo=True)
        _user, key = await UserService(engine).change_key(DEMO_USER)
        for company in COMPANIES:
            await seed(engine, company)
    finally:
        await engine.dispose()
    return key


async def ledger_sum_cost(url: str, company: Company) -> float:
    """Seconds per SUM over the busiest item's ledger entries: what a lookup would pay without
    running totals (with the ledger's index on company, item, location)."""
    engine = create_engine(url)
    ile = t.item_ledger_entry
    stmt = select(func.sum(ile.c.quantity)).where(ile.c.company == company.name, ile.c.item_no == "B000000")
    try:
        async with engine.connect() as conn:
            for _ in range(20):
                await conn.execute(stmt)
            n, started = 0, time.perf_counter()
            while time.perf_counter() - started < WINDOW / 2:
                await conn.execute(stmt)
                n += 1
            return (time.perf_counter() - started) / n
    finally:
        await engine.dispose()


# --- gateway processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> tuple[float, int]:
    """(CPU seconds used, peak RSS in bytes) of a process, from /proc; (nan, 0) elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan"), 0
    peak = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return cpu, peak


class Gateway:
    """`bc-gateway serve` as a child process, on a free loopback port."""

    def __init__(self, url: str, cache_ttl: float, logdir: Path) -> None:
        self.url, self.cache_ttl, self.logdir = url, cache_ttl, logdir
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def __aenter__(self) -> Gateway:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BCGW_")}
        env.update(
            BCGW_DATABASE_URL=self.url,
            BCGW_CACHE_TTL=str(self.cache_ttl),
            BCGW_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        log = self.logdir / f"gateway-{self.port}.log"
        with log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                "--no-worker",
                "--port",
                str(self.port),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.base + "/health") as resp:
                        if resp.status == 200:
                            return self
                await asyncio.sleep(0.1)
        await self.__aexit__()
        raise RuntimeError(f"the gateway did not start; its output:\n{log.read_text(errors='replace')}")

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


# --- load --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    cpu_per_request: float  # server CPU seconds per answer

    @staticmethod
    def best(rates: list[Rate]) -> Rate:
        return max(rates, key=lambda r: r.per_second)


def lookup_urls(gateway: Gateway, company: Company) -> list[str]:
    path = f"/ODataV4/Company('{company.name}')/ProductItemAvailability?$filter="
    return [gateway.base + path + quote(f"CRM_ID eq {company.crm_id(i)}") for i in range(LOOKUP_KEYS)]


async def measure_rate(session: aiohttp.ClientSession, gateway: Gateway, urls: list[str], seconds: float) -> Rate:
    """Answers per second with CONCURRENCY requests in flight, and the server's CPU per answer."""
    order = itertools.cycle(urls)
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            async with session.get(next(order)) as resp:
                body = await resp.read()
                if resp.status != 200 or b'"value":[{' not in body:
                    raise RuntimeError(f"unexpected answer {resp.status}: {body[:200]!r}")
            done += 1

    cpu_before, _ = proc_status(gateway.pid)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    cpu_after, _ = proc_status(gateway.pid)
    return Rate(done / elapsed, (cpu_after - cpu_before) / done)


async def alternate(
    baseline: Callable[[float], Awaitable[Rate]], variant: Callable[[float], Awaitable[Rate]]
) -> tuple[Rate, Rate]:
    await baseline(1.0)  # warm-up: connections, caches, the database's own pages
    await variant(1.0)
    a, b = [], []
    for _ in range(ROUNDS):
        a.append(await baseline(WINDOW))
        b.append(await variant(WINDOW))
    return Rate.best(a), Rate.best(b)


async def walk(session: aiohttp.ClientSession, gateway: Gateway, page_size: int) -> tuple[int, int, float]:
    """Follow @odata.nextLink through every item of WIDE: (pages, items, seconds)."""
    url: str | None = f"{gateway.base}/ODataV4/Company('{WIDE.name}')/ItemAvailability"
    pages = items = 0
    started = time.perf_counter()
    while url:
        async with session.get(url, headers={"Prefer": f"odata.maxpagesize={page_size}"}) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        pages += 1
        items += len(body["value"])
        url = body.get("@odata.nextLink")
    return pages, items, time.perf_counter() - started


async def peak_rss_walk(url: str, logdir: Path, auth: str, page_size: int) -> tuple[int, int, float]:
    """A fresh gateway (cache off: memory of paging, not of cached answers) walks WIDE once.

    Returns (peak RSS when idle, peak RSS after the walk, walk seconds)."""
    async with Gateway(url, 0, logdir) as gateway, aiohttp.ClientSession(headers={"Authorization": auth}) as session:
        # Idle baseline after one small answer: imports, pools and statement caches are in.
        async with session.get(f"{gateway.base}/ODataV4/Company('{WIDE.name}')/ItemAvailability?$top=5") as resp:
            assert resp.status == 200
        _cpu, idle = proc_status(gateway.pid)
        pages, items, seconds = await walk(session, gateway, page_size)
        assert items == WIDE.items, (pages, items)
        _cpu, peak = proc_status(gateway.pid)
        return idle, peak, seconds


# --- report ------------------------------------------------------------------------------------


def ratio(variant: float, baseline: float) -> str:
    if not baseline or baseline != baseline or variant != variant:
        return "n/a"
    return f"{variant / baseline:.2f}x"


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.3f} ms"


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n else "n/a"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("measurement", "baseline", "compared with", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


async def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bcgw-bench-"))
    url = os.environ.get("BCGW_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    total = time.perf_counter()
    try:
        print(f"bc-gateway availability benchmark on {kind}; {os.cpu_count()} CPUs; {WINDOW:g} s windows", flush=True)
        started = time.perf_counter()
        key = await prepare(url)
        sizes = ", ".join(f"{c.name} ({c.items:,} items, {c.entries:,} entries)" for c in COMPANIES)
        print(f"  seeded {sizes} in {time.perf_counter() - started:.1f} s", flush=True)
        auth = aiohttp.encode_basic_auth(DEMO_USER, key)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        rows: list[tuple[str, str, str, str]] = []
        async with aiohttp.ClientSession(connector=connector, headers={"Authorization": auth}) as session:
            print("  (a) cache on vs off ...", flush=True)
            async with Gateway(url, 0, tmp) as off, Gateway(url, 30, tmp) as on:
                uncached, cached = await alternate(
                    lambda s: measure_rate(session, off, lookup_urls(off, SMALL), s),
                    lambda s: measure_rate(session, on, lookup_urls(on, SMALL), s),
                )
            rows += [
                (
                    "(a) PIA by CRM_ID: answers/s",
                    f"cache off {uncached.per_second:,.0f}/s",
                    f"cache on {cached.per_second:,.0f}/s",
                    ratio(cached.per_second, uncached.per_second),
                ),
                (
                    "    gateway CPU per answer",
                    ms(uncached.cpu_per_request),
                    ms(cached.cpu_per_request),
                    ratio(cached.cpu_per_request, uncached.cpu_per_request),
                ),
            ]
            print("  (b) 1k vs 100k ledger entries ...", flush=True)
            async with Gateway(url, 0, tmp) as off:
                small, large = await alternate(
                    lambda s: measure_rate(session, off, lookup_urls(off, SMALL), s),
                    lambda s: measure_rate(session, off, lookup_urls(off, LARGE), s),
                )
            sum_small = await ledger_sum_cost(url, SMALL)
            sum_large = await ledger_sum_cost(url, LARGE)
            rows += [
                (
                    "(b) PIA by CRM_ID, cache off: answers/s",
                    f"1k entries {small.per_second:,.0f}/s",
                    f"100k entries {large.per_second:,.0f}/s",
                    ratio(large.per_second, small.per_second),
                ),
                (
                    "    gateway CPU per answer",
                    ms(small.cpu_per_request),
                    ms(large.cpu_per_request),
                    ratio(large.cpu_per_request, small.cpu_per_request),
                ),
                (
                    "    contrast: SUM over the busiest item's ledger",
                    f"{SMALL.entry_counts()[0]:,} entry {ms(sum_small)}",
                    f"{LARGE.entry_counts()[0]:,} entries {ms(sum_large)}",
                    ratio(sum_large, sum_small),
                ),
            ]
        print("  (c) paged walk through 20k items ...", flush=True)
        idle_1k, peak_1k, secs_1k = await peak_rss_walk(url, tmp, auth, 1000)
        idle_20k, peak_20k, secs_20k = await peak_rss_walk(url, tmp, auth, 20000)
        rows += [
            ("(c) walk 20k items: gateway peak RSS", f"page 1000: {mib(peak_1k)}", f"page 20000: {mib(peak_20k)}",
             ratio(peak_20k, peak_1k)),
            ("    growth over idle", f"+{mib(peak_1k - idle_1k)}", f"+{mib(peak_20k - idle_20k)}",
             ratio(peak_20k - idle_20k, peak_1k - idle_1k)),
            ("    walk time", f"{secs_1k:.2f} s", f"{secs_20k:.2f} s", ratio(secs_20k, secs_1k)),
        ]  # fmt: skip
        print()
        print(table(rows))
        print(f"\n{kind}; {CONCURRENCY} connections; total {time.perf_counter() - total:.0f} s")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    with contextlib.suppress(ImportError):  # uvloop is optional on some platforms
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as `bc-gateway serve` does
    sys.exit(asyncio.run(main()))
