"""What a case reports: one Figure per row of BENCHMARKS.md."""

from __future__ import annotations

from dataclasses import dataclass, field

MET, NOT_YET, NO_GOAL, NOT_RUN, NOT_AVAILABLE = "met", "not yet", "no goal", "not run", "not available yet"
FAILED = "failed"


@dataclass
class Figure:
    case: str  # "P1", "P4 SQLite", ...
    title: str
    baseline: str  # the same-run baseline, as measured ("bare aiohttp 9,800/s")
    figure: str  # what the gateway did
    ratio: float | None  # figure / baseline where a same-run baseline applies
    goal: str
    verdict: str
    command: str  # reproduces this case alone
    details: list[str] = field(default_factory=list)  # further lines for the case's section

    def ratio_text(self) -> str:
        return "—" if self.ratio is None else f"{self.ratio:.3f}"


def verdict(ok: bool) -> str:
    return MET if ok else NOT_YET


def not_run(case: str, title: str, goal: str, command: str, why: str, verdict_: str = NOT_RUN) -> Figure:
    return Figure(case, title, "—", why, None, goal, verdict_, command)


def failed(case: str, command: str, exc: BaseException) -> Figure:
    """A case that broke: the report says so (and the run exits 1) instead of losing the others."""
    return Figure(case, "(the case failed)", "—", f"{type(exc).__name__}: {exc}"[:300], None, "—", FAILED, command)
