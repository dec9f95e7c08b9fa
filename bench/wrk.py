"""wrk (the Debian package) as the load generator: installed when missing, driven by a Lua script
that rotates through paths, and read back through its `done()` hook as JSON.

wrk is C and event driven: on a 2-core machine it costs the server far less CPU than a Python
client would, so the figures are the server's and not the client's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class WrkMissing(RuntimeError):
    """wrk is not installed and could not be installed."""


def ensure_wrk() -> str:
    """The path of wrk; apt-get installs the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise WrkMissing("wrk is not installed and there is no apt-get here: install the 'wrk' package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("wrk is missing: apt-get install wrk ...", flush=True)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise WrkMissing(f"wrk could not be installed ({' '.join(cmd)}: {' / '.join(tail)})")
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("apt-get installed 'wrk' but no wrk command is on PATH")
    return found


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # connect, read, write, timeouts and non-2xx/3xx answers
    p50_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _script(
    paths: Sequence[str], method: str, headers: dict[str, str], body: str | None, delay_ms: float, placeholder: str
) -> str:
    """Each request takes the next path; a body may carry `placeholder`, replaced by a fresh GUID
    per request (so a webhook is a new order every time, not a duplicate)."""
    lines = ["local paths = {", *(f"  {_lua_string(p)}," for p in paths), "}", "local i = 0", "local n = 0"]
    lines.append("local headers = {")
    lines += [f"  [ {_lua_string(k)} ] = {_lua_string(v)}," for k, v in headers.items()]
    lines.append("}")
    lines.append(f"local body = {_lua_string(body) if body is not None else 'nil'}")
    lines.append(f"local placeholder = {_lua_string(placeholder)}")
    lines.append(
        """
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end

function init(args)
  i = (tid or 1) * 7919
end

function request()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  local b = body
  if b ~= nil then
    local guid = string.format("%08x-0000-4000-8000-%012x", tid or 1, i)
    b = b:gsub(placeholder, guid)
  end
  return wrk.format(%METHOD%, path, headers, b)
end
"""
    )
    lines[-1] = lines[-1].replace("%METHOD%", _lua_string(method))
    if delay_ms > 0:
        lines.append(f"function delay()\n  return {delay_ms:.3f}\nend")
    lines.append(
        """
function done(summary, latency, requests)
  local e = summary.errors
  io.write("WRKJSON ")
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d, "mean_us": %f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""
    )
    return "\n".join(lines)


def run_wrk(
    base_url: str,
    paths: Sequence[str],
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 1,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    delay_ms: float = 0.0,
    placeholder: str = "00000000-0000-4000-8000-00000000beef",
) -> WrkResult:
    """One wrk window against `base_url`; raises when wrk fails to run."""
    wrk = ensure_wrk()
    # wrk's placeholder pattern: Lua patterns treat '-' as magic, so escape it.
    pattern = placeholder.replace("-", "%-")
    script = _script(paths, method, headers or {}, body, delay_ms, pattern)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = Path(f.name)
    try:
        cmd = [
            wrk,
            f"-t{threads}",
            f"-c{max(connections, threads)}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script_path),
            base_url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)
    finally:
        script_path.unlink(missing_ok=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                errors=int(data["errors"]),
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                mean_ms=float(data["mean_us"]) / 1000,
            )
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
