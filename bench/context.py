"""What every case is handed: the run's options and its scratch places."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.secrets import ENV_KEY_FILE


@dataclass(frozen=True)
class Context:
    scale: float  # 1.0: the sizes; the CI smoke run uses a tiny one
    seconds: float  # one measured window
    rounds: int  # baseline and gateway windows alternate this many times; the best of each counts
    connections: int
    tmp: Path  # logs and scratch databases of this run
    sqlite_large_url: str  # the large company on SQLite (kept between runs, see large_company)
    postgres_url: str | None  # a scratch PostgreSQL database, or None: PostgreSQL rows are not run
    rebuild: bool  # build the large company again even if its stamp matches

    def command(self, case: str) -> str:
        """The command that reproduces one case with this run's options."""
        args = [f"--only {case}"]
        if self.scale != 1.0:
            args.append(f"--scale {self.scale:g}")
        if self.postgres_url and case in ("P4", "P5", "P7"):
            args.append("--postgres $BCGW_BENCH_POSTGRES_URL")
        return f"make bench BENCH_ARGS='{' '.join(args)}'"


@contextlib.contextmanager
def scratch_key_file(ctx: Context) -> Iterator[None]:
    """A scratch database's secrets under this run's key file, not the user's ~/.config one
    (SQLite keeps its key beside the database file anyway); the children inherit it."""
    before = os.environ.get(ENV_KEY_FILE)
    os.environ[ENV_KEY_FILE] = str(ctx.tmp / "scratch-secret.key")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_KEY_FILE, None)
        else:
            os.environ[ENV_KEY_FILE] = before
