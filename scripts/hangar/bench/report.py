"""Figures, targets and the Markdown report that `make bench` writes to docs/benchmarks.md."""

import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hangar.core.errors import HangarError
from hangar.core.git import git, has_uncommitted_changes


@dataclass(frozen=True)
class Target:
    """A bound a figure is reported against: `median <= 3.0` or `median >= 800`."""

    op: str  # "<=" or ">="
    value: float

    def met_by(self, value: float) -> bool:
        return value <= self.value if self.op == "<=" else value >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.value:g}"


@dataclass
class Figure:
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def verdict(self) -> str:
        if not self.samples:
            return ""
        if self.target is None:
            return "not judged"  # context for a judged figure (a baseline, a p50, a memory)
        return "met" if self.target.met_by(self.median) else "**missed**"


def repeat[T](runs: int, warmup: int, sample: Callable[[], T]) -> list[T]:
    """Call `sample` `warmup` times (discarded), then `runs` times; return the kept samples.

    A sample may be a tuple when one run yields several figures (a start and a stop time, say).
    """
    for _ in range(warmup):
        sample()
    return [sample() for _ in range(runs)]


def machine_summary() -> str:
    memory_kib = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return (
        f"{os.cpu_count()} cores, {memory_kib / 1024 / 1024:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def current_commit() -> str:
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = has_uncommitted_changes()
    except HangarError:
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render(
    figures: list[Figure],
    *,
    commit: str,
    command: str,
    runs: int,
    warmup: int,
    skipped: list[str],
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/hangar/bench/run.py); do not edit by hand. What the "
        "missed targets are made of: [performance.md](performance.md).",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: {commit}",
        f"- Machine: {machine_summary()}",
        f"- Reproduce: `{command}`",
        f"- Each figure: {runs} run(s) after {warmup} warm-up run(s), unless its notes say "
        "otherwise; median, min and max of the runs.",
        "",
        "| figure | median | min | max | unit | target | verdict | notes |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for figure in figures:
        if not figure.samples:
            continue
        lines.append(
            f"| {figure.name} | {_number(figure.median)} | {_number(min(figure.samples))} "
            f"| {_number(max(figure.samples))} | {figure.unit} | {figure.target or 'none'} "
            f"| {figure.verdict()} | {figure.note} |"
        )
    if skipped:
        lines += ["", "## Not measured in this run", ""]
        lines += [f"- {reason}" for reason in skipped]
    return "\n".join(lines) + "\n"
