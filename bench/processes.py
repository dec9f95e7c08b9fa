"""The processes a case measures: `bc-gateway serve` and the bare aiohttp app as children on
loopback ports, and what /proc says about them (CPU time, resident memory)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from schemas.secrets import ENV_KEY_FILE

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory(pid: int) -> tuple[int, int]:
    """(resident now, peak resident) in bytes, from /proc/<pid>/status (VmRSS, VmHWM)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


@dataclass
class Child:
    """A child process serving HTTP on a loopback port; waits for `ready_path` to answer."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    logdir: Path
    ready_path: str = "/health"
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> tuple[int, int]:
        return memory(self.pid)

    def __enter__(self) -> Child:
        log = self.logdir / f"{self.name}-{self.port}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=ROOT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not start; its output:\n{log.read_text(errors='replace')[-3000:]}")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def started(*children: Child) -> Iterator[tuple[Child, ...]]:
    """Start children at once (their Python start-ups overlap), stop them all at the end."""
    with contextlib.ExitStack() as stack, concurrent.futures.ThreadPoolExecutor(len(children)) as pool:
        futures = [pool.submit(child.__enter__) for child in children]
        for child in children:
            stack.callback(child.__exit__, None, None, None)
        for future in futures:
            future.result()
        yield children


def gateway_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a gateway child: only the bench's BCGW_* settings, quiet logs."""
    # Only the bench's settings, and where the secrets' key is (see bench.context.scratch_key_file).
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCGW_") or k == ENV_KEY_FILE}
    env.update(BCGW_DATABASE_URL=database_url, BCGW_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    env.update({f"BCGW_{k.upper()}": v for k, v in settings.items()})
    return env


def gateway(
    database_url: str,
    logdir: Path,
    *,
    company: str = "CRONUS",
    worker: bool = False,
    port: int | None = None,
    reuse_port: bool = False,
    name: str = "gateway",
    **settings: str,
) -> Child:
    """`bc-gateway serve` as it runs in production (uvloop; access log only at INFO)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    if not worker:
        argv.append("--no-worker")
    if reuse_port:
        argv.append("--reuse-port")
    env = gateway_env(database_url, company=company, **settings)
    return Child(name, argv, env, port, logdir)


def bare(logdir: Path, bodies: Path) -> Child:
    """The bare aiohttp app (bench/bare.py) answering with the bodies in `bodies` (see there)."""
    port = free_port()
    bodies.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "bench.bare", "--port", str(port), "--bodies", str(bodies)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return Child("bare", argv, env, port, logdir)
