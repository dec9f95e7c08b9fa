"""`bc-gateway sync ...`: BC's synchronisation with Dynamics 365 Sales from the command line —
run it (full, now), see the jobs (status), read the log (log, errors) and act on it
(restore-skipped, retry). The engine is orders/sync (docs/sync.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, print_json, print_table, run_with_engine, shorten
from gateway.config import Settings
from orders.sync import log_view
from orders.sync.jobs import JobBusy
from orders.sync.ports import SalesRefused, SalesUnavailable

DIRECTIONS = {"ToIntegrationTable": "BC -> Sales", "FromIntegrationTable": "Sales -> BC", "Bidirectional": "both"}
NO_JOBS = (
    "No synchronisation jobs have run yet. Next: bc-gateway sync full (creates and couples what is missing in "
    "Sales); then the worker (bc-gateway serve or worker) runs the jobs on their schedule."
)


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("sync", help="synchronisation with Dynamics 365 Sales: run, status, the log")
    o = s.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")

    a = o.add_parser(
        "full",
        help="run every mapping in dependency order, creating in Sales and coupling what is missing "
        "(BC's Run Full Synchronization)",
    )
    g = a.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--progress", action="store_true", help="progress bars even when not on a terminal")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_full)

    a = o.add_parser("now", help="run one mapping now (BC's Synchronize Now); --record: one record, forced")
    a.add_argument("mapping", metavar="MAPPING", help="the mapping's name: ITEM-PRODUCT, CUSTOMER, ... (sync status)")
    a.add_argument("--record", metavar="NO", action="append", help="only this BC record (No. or Code; repeatable)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_now)

    a = o.add_parser("status", help="each job: last run, next run, sleeping or not, the last run's counters")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_status)

    a = o.add_parser("log", help="the synchronisation jobs that ran (BC's Integration Synch. Job List), newest first")
    a.add_argument("--mapping", help="only this mapping")
    a.add_argument("--failed", action="store_true", help="only jobs with failed records")
    a.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_log)

    a = o.add_parser("errors", help="the records that failed, with BC's message (Integration Synch. Errors)")
    a.add_argument("--mapping", help="only this mapping")
    a.add_argument("--job", metavar="JOB_ID", help="only this job's errors (the ID of 'sync log --json')")
    a.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_errors)

    a = o.add_parser("skipped", help="couplings left out of every synchronisation (failed twice the same way)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_skipped)

    a = o.add_parser(
        "restore-skipped",
        help="put skipped couplings back into the synchronisation (BC's Restore on Skipped Records)",
    )
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("entries", nargs="*", metavar="ENTRY_NO", default=[], help="coupling entry numbers (sync skipped)")
    g.add_argument("--mapping", help="every skipped coupling of this mapping")
    g.add_argument("--all", action="store_true", help="every skipped coupling")
    a.set_defaults(func=cmd_restore_skipped)

    a = o.add_parser("retry", help="synchronise the record of an error row again now (forced)")
    a.add_argument("error_no", type=int, metavar="ERROR_NO", help="the error's NO. (sync errors)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_retry)


# -- formatting -------------------------------------------------------------------------------------


def _when(value: dt.datetime | None, zone: ZoneInfo, day: bool = True) -> str:
    if value is None:
        return "-"
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if day else "%H:%M:%S")


def _finish(start: dt.datetime, finish: dt.datetime | None, zone: ZoneInfo) -> str:
    if finish is None:
        return "running"
    same_day = start.astimezone(zone).date() == finish.astimezone(zone).date()
    return _when(finish, zone, day=not same_day)


def _direction(value: str) -> str:
    return DIRECTIONS.get(value, value or "-")


def _counters(j: Any) -> list[object]:
    return [j.inserted, j.modified, j.unchanged, j.skipped, j.failed, j.deleted, j.coupled]


COUNTER_HEADERS = ("INSERTED", "MODIFIED", "UNCHANGED", "SKIPPED", "FAILED", "DELETED", "COUPLED")


# -- the log ----------------------------------------------------------------------------------------


def cmd_log(args: argparse.Namespace, settings: Settings) -> int:
    jobs = run_with_engine(
        settings,
        lambda e: log_view.list_jobs(
            e, settings.company, mapping=args.mapping, failed_only=args.failed, limit=max(1, args.limit)
        ),
    )
    if args.json:
        print_json([j.as_json() for j in jobs])
        return 0
    zone = ZoneInfo(settings.time_zone)
    if not jobs and (args.mapping or args.failed):
        what = " ".join(filter(None, [f"of {args.mapping}" if args.mapping else "", "that failed" * args.failed]))
        print(f"No synchronisation jobs {what} in the log. 'bc-gateway sync log' shows them all.")
        return 0
    print_table(
        ("START", "FINISH", "MAPPING", "DIRECTION", "TYPE", *COUNTER_HEADERS, "MESSAGE"),
        [
            [
                _when(j.start, zone),
                _finish(j.start, j.finish, zone),
                j.mapping,
                _direction(j.direction),
                j.type,
                *_counters(j),
                shorten(j.message, 80),
            ]
            for j in jobs
        ],
        NO_JOBS,
    )
    if any(j.failed for j in jobs):
        print("Some records failed: bc-gateway sync errors shows them with BC's message.")
    return 0


def cmd_errors(args: argparse.Namespace, settings: Settings) -> int:
    errors = run_with_engine(
        settings,
        lambda e: log_view.list_errors(
            e, settings.company, mapping=args.mapping, job_id=args.job, limit=max(1, args.limit)
        ),
    )
    if args.json:
        print_json([e.as_json() for e in errors])
        return 0
    if not errors:
        if args.mapping or args.job:
            print("No synchronisation errors for that in the log. 'bc-gateway sync errors' shows them all.")
        else:
            print("No synchronisation errors yet. 'bc-gateway sync log' shows every run and its counters.")
        return 0
    zone = ZoneInfo(settings.time_zone)
    print_table(
        ("NO.", "DATE/TIME", "MAPPING", "DIRECTION", "SOURCE", "DESTINATION", "MESSAGE"),
        [
            [
                e.no,
                _when(e.date_time, zone),
                e.mapping,
                _direction(e.direction),
                e.source or "-",
                e.destination or "-",
                shorten(e.error_message, 160),
            ]
            for e in errors
        ],
        "",
    )
    print(
        "Fix the cause, then: bc-gateway sync retry NO. A coupling that failed twice the same way is skipped "
        "until restored: bc-gateway sync skipped, bc-gateway sync restore-skipped."
    )
    return 0


def cmd_skipped(args: argparse.Namespace, settings: Settings) -> int:
    rows = run_with_engine(settings, lambda e: log_view.skipped_couplings(e, settings.company))
    if args.json:
        print_json([r.as_json() for r in rows])
        return 0
    print_table(
        ("ENTRY NO.", "TABLE", "NO.", "SALES ID", "MESSAGE"),
        [[r.entry_no, r.table, r.no or "(deleted)", r.crm_id, shorten(r.error, 120)] for r in rows],
        "No skipped couplings: every coupled record takes part in the synchronisation.",
    )
    if rows:
        print("Fix the cause, then: bc-gateway sync restore-skipped ENTRY_NO ... (or --all).")
    return 0


# -- running ----------------------------------------------------------------------------------------


def _print_jobs(jobs: list[Any], settings: Settings) -> None:
    zone = ZoneInfo(settings.time_zone)
    print_table(
        ("MAPPING", "DIRECTION", *COUNTER_HEADERS, "FINISHED", "MESSAGE"),
        [
            [j.mapping_name, _direction(j.direction), *_counters(j), _when(j.finish, zone), shorten(j.message, 80)]
            for j in jobs
        ],
        "Nothing ran.",
    )


def _jobs_json(jobs: list[Any]) -> list[dict[str, Any]]:
    keys = ("id", "mapping_name", "direction", "start", "finish", "message", *log_view.COUNTERS)
    return [{k: getattr(j, k, None) for k in keys} for j in jobs]


def _after_run(jobs: list[Any]) -> int:
    failed = sum(j.failed for j in jobs)
    if failed:
        print(f"{failed} record(s) failed: bc-gateway sync errors shows them with BC's message.")
        return 1
    return 0


def cmd_full(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from orders.sync import api
    from orders.sync.sales_connection import SalesNotConnected, sales_client

    disable = True if args.quiet or args.json else (False if args.progress else None)
    bars: dict[str, Any] = {}

    def progress(mapping: str, done: int, total: int) -> None:
        bar = bars.get(mapping)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[mapping] = tqdm(
                total=total, unit="record", desc=f"{mapping:<18}", file=sys.stderr, disable=disable, leave=True
            )
        if total and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    async def run(engine: AsyncEngine) -> list[Any]:
        await api.ensure_defaults(engine, settings.company)
        async with sales_client(engine, timeout=settings.sales_timeout) as client:
            return list(await api.full_sync(engine, settings.company, api.dataverse_sales(client), progress=progress))

    try:
        results = run_with_engine(settings, run)
    except (SalesNotConnected, JobBusy, SalesUnavailable, SalesRefused) as exc:
        fail(str(exc))
    finally:
        for bar in bars.values():
            bar.close()
    jobs = [j for r in results for j in (r.jobs if hasattr(r, "jobs") else [r])]
    if args.json:
        print_json(_jobs_json(jobs))
        return 1 if any(j.failed for j in jobs) else 0
    _print_jobs(jobs, settings)
    status = _after_run(jobs)
    if not status:
        print(
            "Full synchronisation done: every record in the mappings' filters is coupled. Next: bc-gateway sync status."
        )
    return status


def cmd_now(args: argparse.Namespace, settings: Settings) -> int:
    from orders.sync import api
    from orders.sync.sales_connection import SalesNotConnected, sales_client

    name = args.mapping.upper()

    async def run(engine: AsyncEngine) -> Any:
        await api.ensure_defaults(engine, settings.company)
        system_ids = None
        if args.record:
            system_ids = await log_view.record_system_ids(engine, settings.company, name, args.record)
        async with sales_client(engine, timeout=settings.sales_timeout) as client:
            return await api.run_mapping(
                engine,
                settings.company,
                name,
                api.dataverse_sales(client),
                system_ids=system_ids,
                force=bool(system_ids),
                only_coupled=False if system_ids else None,
            )

    try:
        result = run_with_engine(settings, run)
    except (SalesNotConnected, LookupError, ValueError, JobBusy, SalesUnavailable, SalesRefused) as exc:
        fail(str(exc))
    jobs = list(result.jobs)
    if args.json:
        print_json(_jobs_json(jobs))
        return 1 if any(j.failed for j in jobs) else 0
    _print_jobs(jobs, settings)
    return _after_run(jobs)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from orders.sync import api

    async def run(engine: AsyncEngine) -> list[Any]:
        await api.ensure_defaults(engine, settings.company)
        return list(await api.job_status(engine, settings.company))

    statuses = run_with_engine(settings, run)
    if args.json:
        print_json([_status_json(s) for s in statuses])
        return 0
    zone = ZoneInfo(settings.time_zone)
    print_table(
        ("JOB", "STATUS", "EVERY", "LAST RUN", "NEXT RUN", "SLEEPING", *COUNTER_HEADERS),
        [
            [
                s.mapping_name or s.description,
                s.status,
                f"{s.minutes} min",
                _when(s.last_started_at, zone),
                _when(s.next_run, zone),
                f"yes ({s.inactivity} min)" if s.sleeping else "no",
                *(_totals(s.last_jobs) if s.last_jobs else ["-"] * len(COUNTER_HEADERS)),
            ]
            for s in statuses
        ],
        "No synchronisation jobs are set up yet. Next: bc-gateway sync full.",
    )
    if statuses and all(s.last_started_at is None for s in statuses):
        print(
            "No job has run on its schedule yet: the worker (bc-gateway serve or worker) runs them. "
            "bc-gateway sync log shows every run, one-off runs (sync full, sync now) included."
        )
    return 0


def _totals(jobs: Any) -> list[object]:
    """The counters of a run's passes, added up."""
    return [sum(getattr(j, name) for j in jobs) for name in log_view.COUNTERS[:7]]


def _status_json(s: Any) -> dict[str, Any]:
    data = {
        k: getattr(s, k)
        for k in (
            "mapping_name",
            "codeunit",
            "description",
            "status",
            "sleeping",
            "last_started_at",
            "last_finished_at",
            "next_run",
            "minutes",
            "inactivity",
            "error_message",
        )
    }
    data["last_run"] = dict(zip(log_view.COUNTERS, _totals(s.last_jobs), strict=False)) if s.last_jobs else None
    return data


def cmd_restore_skipped(args: argparse.Namespace, settings: Settings) -> int:
    from orders.sync import api

    entries = [int(e) for e in args.entries if str(e).isdigit()]
    if args.entries and len(entries) != len(args.entries):
        fail("ENTRY_NO must be numbers: the ENTRY NO. column of 'bc-gateway sync skipped'", 2)

    async def run(engine: AsyncEngine) -> int:
        await api.ensure_defaults(engine, settings.company)
        ids = None
        if entries:
            ids = await log_view.coupling_crm_ids(engine, settings.company, entries)
            if not ids:
                return 0
        return int(await api.restore_skipped(engine, settings.company, mapping_name=args.mapping, ids=ids))

    try:
        restored = run_with_engine(settings, run)
    except LookupError as exc:
        fail(str(exc))
    if not restored:
        print("No skipped couplings to restore. 'bc-gateway sync skipped' lists them.")
        return 0
    print(
        f"Restored {restored} skipped coupling(s): the next run synchronises them again "
        "(now: bc-gateway sync now MAPPING)."
    )
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    from orders.sync import api
    from orders.sync.sales_connection import SalesNotConnected, sales_client

    async def run(engine: AsyncEngine) -> Any:
        error = await log_view.find_error(engine, settings.company, args.error_no)
        if error is None:
            return None
        async with sales_client(engine, timeout=settings.sales_timeout) as client:
            return await api.retry(engine, settings.company, args.error_no, api.dataverse_sales(client))

    try:
        result = run_with_engine(settings, run)
    except (SalesNotConnected, LookupError, ValueError, JobBusy, SalesUnavailable, SalesRefused) as exc:
        fail(str(exc))
    if result is None:
        fail(f"There is no synchronisation error {args.error_no}. 'bc-gateway sync errors' lists them.")
    jobs = list(result.jobs)
    if args.json:
        print_json(_jobs_json(jobs))
        return 1 if any(j.failed for j in jobs) else 0
    _print_jobs(jobs, settings)
    return _after_run(jobs)
