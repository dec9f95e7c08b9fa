"""Run the Sales simulator on its own: ``python -m tests.support.sales_simulator --port 8090``.

It prints what a gateway's connection setup needs (the organisation URL, the token URL and the
client credentials) and serves until Ctrl-C. With ``--demo`` it holds the accounts, products and
units the demo company (``bc-gateway init --demo``) is coupled to; with ``--webhook`` it delivers
submissions and quote changes to that URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from tests.support.sales_simulator.app import SalesSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.support.sales_simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--org-host", default="contoso.crm4.dynamics.com", help="the organisation's host name")
    parser.add_argument("--client-id", help="the application's client id (default: a new GUID)")
    parser.add_argument("--client-secret", help="its secret (default: a new random one)")
    parser.add_argument("--demo", action="store_true", help="add the rows the demo company is coupled to")
    parser.add_argument("--webhook", metavar="URL", help="register a webhook (Update of salesorder and quote)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--webhook-header", metavar="NAME:VALUE", help="HttpHeader authentication")
    auth.add_argument("--webhook-code", metavar="KEY", help="WebhookKey authentication (sent as ?code=)")
    return parser


async def serve(args: argparse.Namespace) -> None:
    sim = SalesSimulator(args.org_host, client_id=args.client_id, client_secret=args.client_secret)
    if args.demo:
        from tests.support.order_harness import add_demo_records

        add_demo_records(sim)
    if args.webhook:
        if args.webhook_header:
            name, _, value = args.webhook_header.partition(":")
            sim.register_webhook(args.webhook, auth=("header", name, value))
        else:
            sim.register_webhook(args.webhook, auth=("code", args.webhook_code or "secret"))
    await sim.start(args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
            loop.add_signal_handler(sig, stop.set)
    print(f"Sales simulator for {sim.org_host} serving until Ctrl-C", flush=True)
    print(f"  org URL:       {sim.org_url}", flush=True)
    print(f"  token URL:     {sim.token_url}", flush=True)
    print(f"  client id:     {sim.client_id}", flush=True)
    print(f"  client secret: {sim.client_secret}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
