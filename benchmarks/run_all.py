"""Run every benchmark script in this folder and print one table of their figures (``make bench``).

Each script runs in its own interpreter with ``$MLW_BENCH_RESULTS`` naming a file it appends its
figures to (``_report.report``); its own output streams through unchanged. A script that records
no figures contributes the lines of its output that end in a ``[target]``. A failed script is a
row saying so, and makes the exit status 1 after the table.

Usage: python benchmarks/run_all.py [--markdown FILE] [script.py ...]   (default: every script)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _report import RESULTS_ENV  # noqa: E402

COLUMNS = ("figure", "this project", "baseline", "ratio", "target")
TARGETED_LINE = re.compile(r"^\s*(?P<figure>.*?)\s*\[(?P<target>[^\[\]]+)\]\s*$")
RATIO = re.compile(r"ratio\s+(?P<ratio>\d+(?:\.\d+)?)")


def scripts(names: list[str]) -> list[Path]:
    if names:
        return [HERE / Path(name).name for name in names]
    return sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != Path(__file__).name
    )


def figures_from_output(output: str) -> list[dict[str, Any]]:
    """Rows for a script that does not call ``report``: its lines that end in ``[target]``."""
    rows = []
    for line in output.splitlines():
        match = TARGETED_LINE.match(line)
        if match and match["figure"]:
            ratio = RATIO.search(line)
            rows.append(
                {
                    "figure": match["figure"],
                    "ours": "(in figure)",
                    "baseline": "(in figure)",
                    "ratio": float(ratio["ratio"]) if ratio else None,
                    "target": match["target"],
                }
            )
    return rows


def run(script: Path) -> tuple[list[dict[str, Any]], int, float]:
    """Run one script, streaming its output; returns its figures, exit status and seconds."""
    with tempfile.NamedTemporaryFile(prefix="mlw-bench-", suffix=".jsonl", delete=False) as handle:
        results = Path(handle.name)
    env = {**os.environ, RESULTS_ENV: str(results), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        sys.stdout.write(line)
        output.append(line)
    status = process.wait()
    elapsed = time.perf_counter() - started
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    results.unlink()
    if not rows:
        rows = figures_from_output("".join(output))
    return rows, status, elapsed


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        values = [row["figure"], row["ours"], row["baseline"], row["ratio"], row["target"]]
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)


def machine() -> str:
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import airflow

    return (
        f"{date.today().isoformat()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
        f"Airflow {airflow.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scripts", nargs="*", help="script names (default: every benchmark)")
    parser.add_argument("--markdown", type=Path, help="also write the table (with its heading) here")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    failed = []
    for script in scripts(args.scripts):
        print(f"== {script.relative_to(HERE.parent)}", flush=True)
        figures, status, elapsed = run(script)
        print(f"== {script.name}: exit {status} after {elapsed:.0f} s", flush=True)
        rows += [{**row, "figure": f"{script.stem}: {row['figure']}"} for row in figures]
        if status:
            failed.append(script.name)
            rows.append(
                {
                    "figure": f"{script.stem}: FAILED (exit {status})",
                    "ours": None,
                    "baseline": None,
                    "ratio": None,
                    "target": None,
                }
            )
    heading = f"Benchmarks ({machine()})"
    text = f"{heading}\n\n{table(rows)}\n"
    print("\n" + text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
