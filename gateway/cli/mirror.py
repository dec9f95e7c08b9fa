"""`bc-gateway mirror`: the mirror of a real Business Central (api mode) run alone, with a progress
bar for the initial load; `mirror status` (what it holds, how fresh, what failed, what to do next)
and `mirror reconcile` (the full comparison, now)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import CliError, Subcommands, print_json, run_with_engine
from gateway.config import Settings
from orders.bc_link.from_setup import BcLink
from orders.bc_link.mirror import Mirror, MirrorOptions, MirrorStatus, Progress, ProgressFactory, mirror_status
from orders.bc_link.mirror.reconcile import summary
from orders.change_setup import load_connection_setup


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser(
        "mirror",
        help="mirror a real Business Central (api mode): load it, then keep it fresh (Ctrl-C stops)",
        description="Without an action: the initial load (resumable) and then the poll, deltas, webhook "
        "subscriptions and reconciliation, as inside bc-gateway serve.",
    )
    s.add_argument("action", nargs="?", choices=["status", "reconcile"], help="show the mirror, or reconcile it now")
    s.add_argument("--once", action="store_true", help="load or catch up once, then stop")
    s.add_argument("--json", action="store_true", help="machine-readable output (status, reconcile)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--progress", action="store_true", help="a progress bar even when not on a terminal")
    s.set_defaults(func=cmd_mirror)


def _options(settings: Settings) -> MirrorOptions:
    return MirrorOptions(
        poll_interval=settings.bc_poll_interval,
        delta_interval=settings.bc_delta_interval,
        reconcile_interval=settings.bc_reconcile_interval,
        notification_url=settings.bc_notification_url(),
    )


def _bars(args: argparse.Namespace) -> ProgressFactory:
    from tqdm import tqdm  # only for this command

    disable = True if args.quiet else (False if args.progress else None)

    def make(what: str, total: int | None) -> Progress:
        return tqdm(total=total, unit=" rows", desc=f"load {what}", file=sys.stderr, disable=disable)

    return make


async def _api_mode(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        setup = await load_connection_setup(conn)
    if not setup.bc_api_mode:
        raise CliError(
            "Business Central is embedded (the setup's Business Central Mode): there is nothing to mirror. "
            "Link a real BC first: bc-gateway setup --bc-mode api --bc-api-url ... --bc-company ..."
        )


def cmd_mirror(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "status":
        return _status(args, settings)
    if args.action == "reconcile":
        return _reconcile(args, settings)

    async def run(engine: AsyncEngine) -> int:
        await _api_mode(engine)
        link = BcLink()
        mirror = Mirror(engine, link, settings.company, _options(settings), progress=_bars(args))
        try:
            if args.once:
                result = await mirror.cycle()
                if result.status == "standby":
                    raise CliError("Another process is mirroring this company now (bc-gateway mirror status).")
                return 1 if result.failed else 0
            print(f"Mirroring Business Central into company {settings.company}; Ctrl-C stops.", file=sys.stderr)
            await mirror.run()
            return 0
        finally:
            await link.aclose()

    try:
        code = run_with_engine(settings, run)
    except KeyboardInterrupt:
        code = 130
    status = run_with_engine(settings, lambda e: mirror_status(e, settings.company))
    print(_summary_line(status))
    return code


def _summary_line(status: MirrorStatus) -> str:
    ledger = next((e for e in status.entities if e["entity"] == "itemLedgerEntries"), None)
    counts = ", ".join(f"{e['rows']} {e['entity']}" for e in status.entities)
    entry = f"; ledger up to entry {ledger['watermark']}" if ledger else ""
    return f"Mirror {'ready' if status.ready else 'not ready'}: {counts}{entry}. {status.next_step}"


def _when(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return "never"
    seconds = (now - value).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _status(args: argparse.Namespace, settings: Settings) -> int:
    status = run_with_engine(settings, lambda e: mirror_status(e, settings.company))
    failing = any(e["last_error"] for e in status.entities)
    if args.json:
        print_json(dataclasses.asdict(status))
        return 1 if failing else 0
    now = dt.datetime.now(dt.UTC)
    if status.mode != "api":
        print(status.next_step)
        return 0
    print(f"Business Central mirror of company {status.company}: {status.api_url}, company {status.bc_company}")
    owner = (
        f"kept fresh by {status.owner} (lease until {status.owner_until:%H:%M:%S} UTC)"
        if status.owner and status.owner_until and status.owner_until > now
        else "no process is keeping it fresh"
    )
    print(f"  {'ready' if status.ready else 'not ready (loading)'}; {owner}")
    print(f"\n  {'entity':<20} {'phase':<8} {'rows':>9}  {'read':<12} {'changed':<12} watermark")
    for e in status.entities:
        mark = e["watermark"]
        mark_text = (
            f"entry {mark}" if e["entity"] == "itemLedgerEntries" else (f"{mark:%Y-%m-%d %H:%M:%S}" if mark else "-")
        )
        rows = e["rows"] if e["phase"] == "ready" else f"{e['loaded']}…"
        print(
            f"  {e['entity']:<20} {e['phase']:<8} {rows!s:>9}  {_when(e['last_success_at'], now):<12} "
            f"{_when(e['last_change_at'], now):<12} {mark_text}"
        )
        if e["last_error"]:
            print(f"      last error ({_when(e['last_failure_at'], now)}, {e['failures']} in a row): {e['last_error']}")
    print("\n  webhooks:", end=" ")
    active = [s for s in status.subscriptions if s["status"] == "active"]
    if not active:
        print("none (BC reaches the gateway only with BCGW_PUBLIC_URL; deltas keep it fresh meanwhile)")
    else:
        print(", ".join(f"{s['entity_set']} until {s['expires_at']:%Y-%m-%d %H:%M}" for s in active if s["expires_at"]))
        for s in status.subscriptions:
            if s["status"] == "failed":
                print(f"    {s['entity_set']}: not subscribed: {s['last_error']}")
    print(f"  notifications waiting: {status.notifications_waiting}")
    pages = "; ".join(f"{k}: {v or 'not published'}" for k, v in status.pages.items())
    print(f"  published pages: {pages}")
    drift = ", ".join(f"{k} {v}" for k, v in status.drift.items()) or "none"
    print(f"  last reconciliation: {_when(status.last_reconciled_at, now)}; drift repaired: {drift}")
    print(f"\nNext: {status.next_step}")
    return 1 if failing else 0


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    async def run(engine: AsyncEngine) -> dict[str, Any]:
        await _api_mode(engine)
        link = BcLink()
        try:
            mirror = Mirror(engine, link, settings.company, _options(settings), progress=_bars(args))
            result = await mirror.cycle()  # loaded and caught up first
            if result.status != "ran":
                raise CliError("Another process is mirroring this company now; it reconciles on its own schedule.")
            return await mirror.reconcile_now()
        finally:
            await link.aclose()

    report = run_with_engine(settings, run)
    if args.json:
        print_json(report)
        return 0
    if not report:
        print("Nothing was compared: Business Central is not linked (bc-gateway setup --bc-mode api ...).")
        return 0
    print(f"  {'entity':<20} {'rows':>9} {'missing':>8} {'changed':>8} {'removed':>8} {'inventory':>10}  examples")
    for name, entry in report.items():
        if not isinstance(entry, dict):
            continue
        found = entry.get("inventory")
        inventory: dict[str, Any] = found if isinstance(found, dict) else {}
        examples = [str(e.get("no", e)) if isinstance(e, dict) else str(e) for e in entry.get("examples", [])]
        examples += [str(e.get("no", e)) for e in inventory.get("examples", []) if isinstance(e, dict)]
        print(
            f"  {name:<20} {entry.get('rows', '-')!s:>9} {entry.get('missing', 0):>8} {entry.get('changed', 0):>8} "
            f"{entry.get('removed', 0):>8} {inventory.get('differed', 0):>10}  {', '.join(examples) or '-'}"
        )
    totals = summary(report)
    repaired = ", ".join(f"{k} {v}" for k, v in totals.items())
    print("No drift: the mirror equals Business Central." if not totals else f"Repaired: {repaired}.")
    return 0
