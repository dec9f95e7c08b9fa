"""Alternating windows: the bare aiohttp app and the gateway take turns under the same wrk load,
so whatever else loads the machine hits both; the best window of each counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.processes import Child
from bench.wrk import WrkResult, run_wrk


@dataclass(frozen=True, slots=True)
class Window:
    wrk: WrkResult
    cpu_per_answer: float  # the server process's CPU seconds per answer (utime + stime)

    @property
    def per_second(self) -> float:
        return self.wrk.per_second


def window(
    server: Child,
    paths: Sequence[str],
    seconds: float,
    connections: int,
    *,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
    delay_ms: float = 0.0,
) -> Window:
    before = server.cpu()
    result = run_wrk(
        server.base,
        paths,
        seconds=seconds,
        connections=connections,
        headers=headers,
        method=method,
        body=body,
        delay_ms=delay_ms,
    )
    used = server.cpu() - before
    if result.errors:
        raise RuntimeError(f"{server.name}: {result.errors} of {result.requests} requests failed or were refused")
    if not result.requests:
        raise RuntimeError(f"{server.name}: no answer in {seconds:g} s")
    return Window(result, used / result.requests)


def alternate(
    bare: Child,
    gateway: Child,
    paths: Sequence[str],
    seconds: float,
    rounds: int,
    connections: int,
    *,
    bare_paths: Sequence[str] | None = None,
    **options: object,
) -> tuple[Window, Window]:
    """(best bare window, best gateway window) by answers per second, after a warm-up of each.
    rounds=0 (the CI smoke run): the warm-up windows are the figures."""
    bare_paths = bare_paths or paths
    # Warm-ups as long as a window: on a loaded machine one 20,000-row page can take over a second.
    warm_bare = window(bare, bare_paths, seconds, connections, **options)  # type: ignore[arg-type]
    warm_gateway = window(gateway, paths, seconds, connections, **options)  # type: ignore[arg-type]
    if rounds <= 0:
        return warm_bare, warm_gateway
    bares, gateways = [], []
    for _ in range(rounds):
        bares.append(window(bare, bare_paths, seconds, connections, **options))  # type: ignore[arg-type]
        gateways.append(window(gateway, paths, seconds, connections, **options))  # type: ignore[arg-type]
    return max(bares, key=lambda w: w.per_second), max(gateways, key=lambda w: w.per_second)
