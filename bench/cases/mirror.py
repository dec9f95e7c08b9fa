"""P8: the mirror's initial load from the BC simulator, and a full synchronisation of 10,000
products to the Sales simulator: hooks for the scripts that measure them, once they exist.

A hook is a module beside this package's parent, run as `python -m bench.<name> --scale S`. It may
print result lines `BENCH {"case": ..., "title": ..., "baseline": ..., "figure": ..., "ratio": ...,
"goal": ..., "verdict": ...}` (JSON after the word BENCH); each becomes a row of the report.
Without such lines its last output lines are quoted. A missing script: "not available yet".
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.context import Context
from bench.figures import NOT_AVAILABLE, NOT_YET, Figure, not_run
from bench.processes import ROOT, gateway_env

HOOKS = (
    ("P8 mirror", "mirror_load", "the mirror's initial load from the BC simulator"),
    ("P8 sync", "full_sync", "a full synchronisation of 10,000 products to the Sales simulator"),
)


def _figure(case: str, data: dict[str, Any], command: str) -> Figure:
    ratio = data.get("ratio")
    return Figure(
        str(data.get("case") or case),
        str(data.get("title", "")),
        str(data.get("baseline", "—")),
        str(data.get("figure", "")),
        float(ratio) if isinstance(ratio, int | float) else None,
        str(data.get("goal", "—")),
        str(data.get("verdict", NOT_YET)),
        command,
    )


def run(ctx: Context) -> list[Figure]:
    figures = []
    for case, module, title in HOOKS:
        command = f"{sys.executable.rsplit('/', 1)[-1]} -m bench.{module} --scale {ctx.scale:g}"
        if not (ROOT / "bench" / f"{module}.py").exists():
            print(f"  {case}: not available yet (bench/{module}.py is not there)", flush=True)
            figures.append(not_run(case, title, "—", command, f"not available yet (bench/{module}.py)", NOT_AVAILABLE))
            continue
        env = gateway_env(f"sqlite+aiosqlite:///{ctx.tmp / (module + '.db')}")
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", "--scale", f"{ctx.scale:g}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        found = [line[6:] for line in done.stdout.splitlines() if line.startswith("BENCH ")]
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"bench/{module}.py failed ({done.returncode}): {' / '.join(tail)}")
        if found:
            figures += [_figure(case, json.loads(line), command) for line in found]
        else:
            tail = " / ".join(done.stdout.strip().splitlines()[-3:]) or "(no output)"
            figures.append(Figure(case, title, "—", tail, None, "—", NOT_YET, command))
    return figures
