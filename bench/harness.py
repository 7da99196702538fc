"""What every benchmark shares: a small table on stdout and in bench/results/<name>.md,
with the machine, the date and the versions, so a number can be traced to where it came from.

Timings compare configurations measured in the same run (ratios), alternated and repeated;
medians. A target a bench checks is printed as met or missed, by how much.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGES = ("flask", "sentry-sdk", "rq", "redis", "sqlalchemy", "psycopg", "gunicorn")


def median(values) -> float:
    return statistics.median(values)


def percentile(values, p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells) -> None:
        self.rows.append(list(cells))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def target(self, label: str, value: float, limit: float, *, at_most: bool = True, unit: str = "") -> bool:
        met = value <= limit if at_most else value >= limit
        sign = "≤" if at_most else "≥"
        gap = "" if met else f", missed by {abs(value - limit):.3g}{unit}"
        self.note(f"target {label} {sign} {limit:g}{unit}: {value:.3g}{unit} — {'met' if met else 'MISSED'}{gap}")
        return met

    def markdown(self) -> str:
        def cell(value) -> str:
            return f"{value:,.2f}" if isinstance(value, float) else str(value)

        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def report(name: str, command: str, tables: list[Table]) -> Path:
    """Print the tables and write bench/results/<name>.md; return its path."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"## {name}", "", f"`{command}` — {stamp}, commit {commit()}", "",
              f"Machine: {machine()}", "", f"Versions: {versions()}", ""]
    text = "\n".join(header + [t.markdown() + "\n" for t in tables])
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path
