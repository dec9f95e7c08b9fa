"""P1-P3 and P6: availability lookups and paging on the large company, against bare aiohttp.

P1 ProductItemAvailability?$filter=CRM_ID eq <guid>, answer cache on (BCGW_CACHE_TTL=30), warm
P2 the same with the answer cache off (BCGW_CACHE_TTL=0), keys spread over every item; and the
   p99 latency at about half the peak rate (wrk's per-request delay paces the connections)
P3 one page of 20,000 ItemAvailability rows (Prefer: odata.maxpagesize=20000), one at a time
P6 the gateway processes' resident memory after P1-P3
"""

from __future__ import annotations

import asyncio
import base64
import traceback
import urllib.request
from pathlib import Path
from urllib.parse import quote

from bench import large_company
from bench.context import Context
from bench.figures import Figure, failed, verdict
from bench.measure import alternate, window
from bench.processes import Child, bare, gateway, started
from gateway.initialise import DEMO_USER

P1_KEYS = 200  # distinct products asked for, round robin: all cached after the first round
P2_KEYS = 5000  # spread over the whole company: the database's pages, not one hot row
PAGE = 20_000


def _lookup_paths(size: large_company.Size, keys: int) -> list[str]:
    step = max(1, size.couplings // keys)
    base = f"/ODataV4/Company('{large_company.NAME}')/ProductItemAvailability?$filter="
    return [base + quote(f"CRM_ID eq {large_company.crm_id(i)}") for i in range(0, size.couplings, step)][:keys]


def _get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310
        assert resp.status == 200, resp.status
        return bytes(resp.read())


def _body_file(folder: Path, name: str, body: bytes) -> None:
    (folder / f"{name}.json").write_bytes(body)


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def run(ctx: Context) -> list[Figure]:
    key, size, built = asyncio.run(large_company.ensure(ctx.sqlite_large_url, ctx.scale, rebuild=ctx.rebuild))
    return measure(ctx, key, size, built)


def measure(ctx: Context, key: str, size: large_company.Size, built: bool) -> list[Figure]:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{DEMO_USER}:{key}".encode()).decode()}
    url = ctx.sqlite_large_url
    where = (
        f"large company ({size.items:,} items, {size.entries:,} ledger entries over "
        f"{len(large_company.LOCATIONS)} locations, {size.couplings:,} couplings; SQLite; "
        f"{'built' if built else 'reused'} this run)"
    )
    figures: list[Figure] = []
    rss: list[tuple[str, int, int]] = []

    bodies = ctx.tmp / "bodies-availability"
    # The bare app and both gateways start at once; the idle ones wait while one is measured.
    cache_on = gateway(url, ctx.tmp, company=large_company.NAME, cache_ttl="30", name="gateway-cache-on")
    cache_off = gateway(url, ctx.tmp, company=large_company.NAME, cache_ttl="0", name="gateway-cache-off")
    with started(bare(ctx.tmp, bodies), cache_on, cache_off) as (plain, gw_on, gw_off):
        figures += _measure(ctx, plain, gw_on, gw_off, auth, size, where, bodies, rss)
    return figures


def _measure(
    ctx: Context,
    plain: Child,
    gw_on: Child,
    gw_off: Child,
    auth: dict[str, str],
    size: large_company.Size,
    where: str,
    bodies: Path,
    rss: list[tuple[str, int, int]],
) -> list[Figure]:
    figures: list[Figure] = []
    c = ctx.connections
    # P1: warm answer cache.
    try:
        p1_paths = _lookup_paths(size, P1_KEYS)
        gw = gw_on
        rss.append(("cache on (P1)", *gw.memory()))  # replaced by the figure after P1
        _body_file(bodies, "ProductItemAvailability", _get(gw.base + p1_paths[0], auth))
        b, g = alternate(plain, gw, p1_paths, ctx.seconds, ctx.rounds, c, headers=auth)
        rss[-1] = ("cache on (P1)", *gw.memory())
        ratio = g.per_second / b.per_second
        figures.append(
            Figure(
                "P1",
                "ProductItemAvailability?$filter=CRM_ID eq …, warm cache: answers/s",
                f"bare aiohttp {b.per_second:,.0f}/s, {b.cpu_per_answer * 1e3:.3f} ms CPU/answer",
                f"{g.per_second:,.0f}/s, {g.cpu_per_answer * 1e3:.3f} ms CPU/answer "
                f"(×{g.cpu_per_answer / b.cpu_per_answer:.1f} of bare); p99 {g.wrk.p99_ms:.1f} ms",
                ratio,
                "≥ 0.60",
                verdict(ratio >= 0.60),
                ctx.command("P1"),
                [
                    f"{where}; {len(p1_paths)} products round robin; {c} connections; "
                    f"{ctx.rounds} × {ctx.seconds:g} s windows"
                ],
            )
        )
    except Exception as exc:  # one broken case must not hide the others
        traceback.print_exc()
        figures.append(failed("P1", ctx.command("P1"), exc))

    # P2 and P3: answer cache off, the same process.
    gw = gw_off
    try:
        p2_paths = _lookup_paths(size, P2_KEYS)
        _get(gw.base + p2_paths[0], auth)
        b, g = alternate(plain, gw, p2_paths, ctx.seconds, ctx.rounds, c, headers=auth)
        # p99 at about half the peak: 8 connections, each waiting between requests.
        paced_connections = 8
        target = g.per_second / 2
        delay_ms = max(0.0, paced_connections / target * 1e3 - g.wrk.mean_ms / c * paced_connections)
        paced = window(gw, p2_paths, ctx.seconds, paced_connections, headers=auth, delay_ms=delay_ms)
        ratio = g.per_second / b.per_second
        figures.append(
            Figure(
                "P2",
                "the same, answer cache off: answers/s",
                f"bare aiohttp {b.per_second:,.0f}/s, {b.cpu_per_answer * 1e3:.3f} ms CPU/answer",
                f"{g.per_second:,.0f}/s, {g.cpu_per_answer * 1e3:.3f} ms CPU/answer "
                f"(×{g.cpu_per_answer / b.cpu_per_answer:.1f} of bare); p99 {g.wrk.p99_ms:.1f} ms at {c} connections; "
                f"p99 {paced.wrk.p99_ms:.1f} ms at {paced.per_second:,.0f}/s (≈ half the peak)",
                ratio,
                "≥ 0.25; p99 ≤ 10 ms at half the peak rate",
                verdict(ratio >= 0.25 and paced.wrk.p99_ms <= 10),
                ctx.command("P2"),
                [f"{where}; {len(p2_paths)} products spread over the company; BCGW_CACHE_TTL=0"],
            )
        )
    except Exception as exc:
        traceback.print_exc()
        figures.append(failed("P2", ctx.command("P2"), exc))

    # P3: one 20,000-row page, one request at a time.
    try:
        page_headers = {**auth, "Prefer": f"odata.maxpagesize={PAGE}"}
        page_path = f"/ODataV4/Company('{large_company.NAME}')/ItemAvailability"
        page = _get(gw.base + page_path, page_headers)
        rows = page.count(b'"No":')
        _body_file(bodies, "ItemAvailability", page)
        b, g = alternate(plain, gw, [page_path], ctx.seconds, ctx.rounds, 1, headers=page_headers)
        ratio = g.wrk.p50_ms / b.wrk.p50_ms
        figures.append(
            Figure(
                "P3",
                f"one {PAGE:,}-row page of ItemAvailability: time per page (p50)",
                f"bare aiohttp sending the same {len(page) / 1e6:.1f} MB body: {b.wrk.p50_ms:.1f} ms",
                f"{g.wrk.p50_ms:.1f} ms (p99 {g.wrk.p99_ms:.1f} ms; {rows:,} rows; "
                f"{g.cpu_per_answer * 1e3:.0f} ms CPU/page)",
                ratio,
                "≤ 150 ms",
                verdict(g.wrk.p50_ms <= 150),
                ctx.command("P3"),
                [f"{where}; one connection; Prefer: odata.maxpagesize={PAGE}; the ratio is time, lower is better"],
            )
        )
    except Exception as exc:
        traceback.print_exc()
        figures.append(failed("P3", ctx.command("P3"), exc))
    bare_memory = plain.memory()
    rss.append(("cache off (P2, P3)", *gw.memory()))

    # P6: resident memory after P1-P3.
    worst = max(rss, key=lambda r: r[1])
    figures.append(
        Figure(
            "P6",
            "gateway RSS after P1–P3 on the large company",
            f"bare aiohttp after P3: {_mb(bare_memory[0])} (peak {_mb(bare_memory[1])})",
            "; ".join(f"{name}: {_mb(now)} (peak {_mb(peak)})" for name, now, peak in rss),
            worst[1] / bare_memory[0] if bare_memory[0] else None,
            "≤ 150 MB",
            verdict(max(r[2] for r in rss) <= 150e6),
            ctx.command("P6"),
            ["VmRSS and VmHWM from /proc/<pid>/status; the verdict takes the peak (VmHWM) of both processes"],
        )
    )
    return figures
