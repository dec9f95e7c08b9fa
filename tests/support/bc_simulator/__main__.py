"""Run the simulator on its own: ``python -m tests.support.bc_simulator --port 8091 --seed-demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .config import SimConfig
from .simulator import BcSimulator
from .webservices import PAGES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.bc_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--seed-demo", action="store_true", help="load the CRONUS demo company")
    parser.add_argument("--bulk-items", type=int, default=0, help="also add this many generated items")
    parser.add_argument("--bulk-ledger-entries", type=int, default=0, help="and this many ledger entries")
    parser.add_argument("--page-size", type=int, default=20_000, help="server page cap (default 20,000)")
    parser.add_argument("--deployment", choices=("online", "onprem"), default="online")
    parser.add_argument("--auth", choices=("oauth", "basic", "both"), default=None)
    parser.add_argument(
        "--publish", default="", help=f"web-service pages to publish, comma-separated: {','.join(PAGES)}"
    )
    parser.add_argument("--publish-all", action="store_true", help="publish every web-service page")
    parser.add_argument("--webhook-delay", type=float, default=30.0, help="merge window in seconds")
    parser.add_argument("--lcy", default="USD", help="local currency code")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    published = set(PAGES) if args.publish_all else {p for p in args.publish.split(",") if p}
    config = SimConfig(
        host=args.host,
        port=args.port,
        deployment=args.deployment,
        auth_mode=args.auth,
        max_page_size=args.page_size,
        published_pages=published,
        webhook_delay=args.webhook_delay,
        lcy_code=args.lcy,
    )
    sim = BcSimulator(config, seed_demo=args.seed_demo)
    if args.bulk_items:
        if not sim.store.by_id:
            sim.add_company("CRONUS", "CRONUS USA, Inc.")
        sim.bulk_seed(None, args.bulk_items, args.bulk_ledger_entries)
    await sim.start()
    demo = sim.identity()
    print(f"Business Central simulator at {sim.server_url}")
    print(f"  API v2.0:  {sim.base_url}")
    print(f"  ODataV4:   {sim.odata_url}   published: {', '.join(sorted(published)) or 'none'}")
    print(f"  token URL: {sim.token_url}   (scope https://api.businesscentral.dynamics.com/.default)")
    print(f"  OAuth:     client_id={demo.client_id} client_secret={demo.client_secret}")
    print(f"  Basic:     user={demo.user_name} web service access key={demo.access_key}")
    print(f"  control:   {sim.control_url}/   auth mode: {config.effective_auth_mode}")
    for company in sim.store.by_id.values():
        print(f"  company:   {company.name} id={company.id}")
    sys.stdout.flush()  # a parent process reading a pipe must see the addresses now
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
