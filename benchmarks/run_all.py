"""`make bench`: every benchmark of issue 20's table at a size that takes a few minutes in all, and one table of
each figure beside its anchor measured in the same run (fairlearn, aif360, pandas + scipy, a plain DRF view, a bare
bincount, shap's own explainer) with the ratio, the machine's load average and the commit.

    python benchmarks/run_all.py                 # the quick sizes (a few minutes on two cores)
    python benchmarks/run_all.py --size full     # the scripts' own sizes (an hour or more)
    python benchmarks/run_all.py --dry-run       # the commands and the table's rows, nothing run
    python benchmarks/run_all.py --only gate,group_metrics

Each benchmark script runs in its own process with its command-line flags; its printed output is read back by a
parser here (a JSON line where the script offers one). A script that fails, times out, or prints what its parser
does not recognise gives rows marked "not run" with the reason, never a number. Set DATABASE_URL (PostgreSQL) for
the trail and the gate as the issue measures them. Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
VERIFY_KEEP = str(Path(tempfile.gettempdir()) / "assay-run-all-verify")  # not bench_verify.py's default folder


@dataclass
class Row:
    """One line of the table: a figure, its anchor in the same run, and the ratio (figure / anchor)."""

    what: str
    figure: str = ""
    anchor: str = ""
    anchor_figure: str = ""
    ratio: str = ""
    goal: str = ""
    note: str = ""

    def missing(self, reason: str) -> Row:
        return Row(self.what, figure=f"not run: {reason}", goal=self.goal)


@dataclass
class Benchmark:
    """A script, its flags at each size, and how to read its output into the rows it promises."""

    name: str
    script: str
    sizes: dict[str, list[str]]
    rows: list[Row]
    parse: Callable[[str, dict[str, str]], list[Row]]
    timeout: int = 900
    anchors: list[str] = field(default_factory=list)  # anchors the driver measures itself (see ANCHORS)


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text, re.MULTILINE)
    if not found:
        raise ValueError(f"no line matching {pattern!r}")
    return float(found.group(1).replace(",", ""))


def _ratio(figure: float, anchor: float) -> str:
    """figure / anchor; below 0.1 written as a fraction (1/1,234x: the figure is 1,234 times smaller)."""
    if not anchor or not figure:
        return "-"
    ratio = figure / anchor
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"1/{1 / ratio:,.0f}x"


# --- parsers: a script's output to its rows (each raises ValueError when a line it needs is missing) -----------------


def parse_gate(output: str, _: dict[str, str]) -> list[Row]:
    found = [json.loads(line) for line in output.splitlines() if line.startswith('{"benchmark": "gate"')]
    if not found:
        raise ValueError("no JSON line (bench_gate.py --json)")
    rows = found[-1]["rows"]
    gate = sorted(r["p99_ms"] for r in rows if r["request"] == "gate")
    me = sorted(r["p99_ms"] for r in rows if r["request"] == "me")
    ratios = sorted(g["p99_ms"] / m["p99_ms"] for g, m in zip(rows[::2], rows[1::2], strict=True))
    clients = rows[0]["clients"]
    median = ratios[len(ratios) // 2]
    lock = next((r["trail_lock"] for r in rows if r.get("trail_lock")), None)
    note = f"{found[-1]['database']}, {len(ratios)} round(s), ratios {', '.join(f'{r:.2f}' for r in ratios)}"
    if lock:
        note += f"; trail lock held {lock['lock_held_share']:.0%} of the time"
    return [
        Row(
            f"gate decision, p99 at {clients} clients",
            f"{gate[len(gate) // 2]:.0f} ms",
            "GET /api/v1/me (plain DRF view)",
            f"{me[len(me) // 2]:.0f} ms",
            f"{median:.2f}x",
            "<= 1.5x",
            note,
        )
    ]


def parse_group_metrics(output: str, _: dict[str, str]) -> list[Row]:
    lines = {}
    for method in ("kernel", "fairlearn", "aif360", "floor"):
        found = re.search(rf"^\s*([\d,]+)\s+(\d+)\s+{method}\s+([\d.]+)", output, re.MULTILINE)
        if found:
            lines[method] = (found.group(1), found.group(2), float(found.group(3)))
    if "kernel" not in lines or "floor" not in lines:
        raise ValueError("no kernel or floor line")
    rows_, groups, kernel = lines["kernel"]
    what = f"group-metric kernel, {rows_} rows, {groups} groups"
    result = [
        Row(
            what,
            f"{kernel:.3f} s",
            "bare chunked bincount",
            f"{lines['floor'][2]:.3f} s",
            _ratio(kernel, lines["floor"][2]),
            "<= 3x the bincount",
        )
    ]
    for method in ("fairlearn", "aif360"):
        name = "fairlearn MetricFrame" if method == "fairlearn" else "aif360 ClassificationMetric"
        if method in lines:
            result.append(
                Row(
                    what,
                    f"{kernel:.3f} s",
                    name,
                    f"{lines[method][2]:.3f} s",
                    _ratio(kernel, lines[method][2]),
                    "numbers equal",
                )
            )
        else:
            result.append(Row(what, anchor=name).missing(f"{method} gave no line"))
    return result


_EXPLAIN = (
    r"^(?P<name>[^\n:]*{key}[^\n:]*): check (?P<s>[\d.]+) s \((?P<how>[^)]*)\).*?; "
    r"(?P<anchor>[^;\n]+?) (?P<a>[\d.]+) s; ratio"
)


def parse_explain(output: str, _: dict[str, str]) -> list[Row]:
    found = re.search(_EXPLAIN.format(key="boost"), output, re.MULTILINE | re.IGNORECASE)
    if not found:
        raise ValueError("no gradient-boosting check line")
    seconds, anchor = float(found["s"]), float(found["a"])
    return [
        Row(
            "SHAP, 60-input gradient boosting (skops)",
            f"{seconds:.3f} s",
            found["anchor"].strip(),
            f"{anchor:.3f} s",
            _ratio(seconds, anchor),
            "1,000 rows under 2 s, exact",
            found["how"][:60],
        )
    ]


def parse_whole(output: str, _: dict[str, str]) -> list[Row]:
    seconds = _number(r"demo high-risk audit, every check \(engine\): ([\d.]+) s", output)
    return [
        Row(
            "demo high-risk audit, every check (engine)",
            f"{seconds:.2f} s",
            "none (the goal is absolute)",
            "-",
            "-",
            "under 10 s",
        )
    ]


def parse_audit(output: str, anchors: dict[str, str]) -> list[Row]:
    seconds = _number(r"audit \(prediction column\): ([\d.]+) s end to end", output)
    rows = re.search(r"([\d,]+) rows, \d+ MB of CSV", output)
    size = rows.group(1) if rows else "?"
    anchor = float(anchors.get("pandas_scipy") or 0)
    name = "pandas + scipy (read, group rates, chi-square)" if anchor else "pandas + scipy (not measured)"
    shown = f"{anchor:.2f} s" if anchor else ""
    goal = "under 3 s at 1,000,000 rows"
    found = [
        Row(
            f"predictions-only audit, {size}-row CSV (in process)",
            f"{seconds:.2f} s",
            name,
            shown,
            _ratio(seconds, anchor),
            goal,
        )
    ]
    whole = re.search(r"median wall ([\d.]+) s, median cpu ([\d.]+) s", output)  # bench_audit.py --process N
    if whole:
        wall = float(whole.group(1))
        found.append(
            Row(
                f"manage.py run_audit, {size}-row CSV, whole process",
                f"{wall:.2f} s",
                name,
                shown,
                _ratio(wall, anchor),
                goal,
                f"cpu {float(whole.group(2)):.2f} s",
            )
        )
    return found


def parse_data(output: str, anchors: dict[str, str]) -> list[Row]:
    seconds = _number(r"whole registration \(hash, profile, store, subject index, event\)\s+([\d.]+) s", output)
    floor = _number(r"sha256 of the file, streamed \(the floor\)\s+([\d.]+) s", output)
    rows = re.search(r"dataset rows: ([\d,]+)", output)
    what = f"dataset registration, {rows.group(1) if rows else '?'} rows"
    result = [
        Row(
            what,
            f"{seconds:.2f} s",
            "sha256 of the file (streamed)",
            f"{floor:.2f} s",
            _ratio(seconds, floor),
            "under 10 s at 1,000,000 rows",
        )
    ]
    anchor = anchors.get("pandas_scipy", "")
    if anchor:
        result.append(
            Row(
                what,
                f"{seconds:.2f} s",
                "pandas + scipy (read, group rates, chi-square)",
                f"{float(anchor):.2f} s",
                _ratio(seconds, float(anchor)),
                "",
            )
        )
    return result


def parse_trail(output: str, _: dict[str, str]) -> list[Row]:
    one = _number(r"appends/s, 1 writer:\s+([\d.]+)", output)
    eight = _number(r"appends/s, 8 writers:\s+([\d.]+)", output)
    database = re.search(r"^database: (\w+)", output, re.MULTILINE)
    return [
        Row(
            f"trail appends/s, 8 writers ({database.group(1) if database else '?'})",
            f"{eight:.0f}/s",
            "the same, 1 writer",
            f"{one:.0f}/s",
            _ratio(eight, one),
            "2,000/s durable with 8 writers",
        )
    ]


def parse_verify(output: str, _: dict[str, str]) -> list[Row]:
    events = re.search(r"([\d,]+) events; load average", output)
    one = _number(r"verify_trail, after\s*, 1 process\(es\):\s+([\d.]+) s", output)
    what = f"verify_trail, {events.group(1) if events else '?'} events"
    rows = [Row(what + ", 1 process", f"{one:.2f} s", "none (the goal is absolute)", "-", "-", "1,000,000 under 10 s")]
    incremental = re.search(r"verify_trail --incremental, ([\d,]+) new events .*?: ([\d.]+) s", output)
    full = re.search(r"the same trail verified in full: ([\d.]+) s", output)
    if incremental and full:
        seconds, whole = float(incremental.group(2)), float(full.group(1))
        rows.append(
            Row(
                f"verify_trail --incremental, {incremental.group(1)} new events",
                f"{seconds:.3f} s",
                "the same trail verified in full",
                f"{whole:.2f} s",
                _ratio(seconds, whole),
                "under 0.5 s",
            )
        )
    return rows


BENCHMARKS = [
    Benchmark(
        "group_metrics",
        "bench_group_metrics.py",
        {"quick": ["--rows", "1000000", "--groups", "8"], "full": ["--rows", "10000000", "--groups", "8"]},
        [Row(f"group-metric kernel vs {a}") for a in ("bincount", "fairlearn", "aif360")],
        parse_group_metrics,
    ),
    Benchmark(
        "gate",
        "bench_gate.py",
        {
            "quick": ["--clients", "50", "--requests", "300", "--repeat", "3", "--json"],
            "full": ["--clients", "50", "--requests", "1000", "--repeat", "3", "--json"],
        },
        [Row("gate decision vs GET /api/v1/me, p99 at 50 clients")],
        parse_gate,
    ),
    Benchmark(
        "audit",
        "bench_audit.py",
        {"quick": ["--rows", "200000", "--process", "1"], "full": ["--rows", "1000000", "--process", "3"]},
        [Row("predictions-only audit vs pandas + scipy"), Row("run_audit, whole process, vs pandas + scipy")],
        parse_audit,
        anchors=["pandas_scipy"],
    ),
    Benchmark(
        "data",
        "bench_data.py",
        {"quick": ["--rows", "200000", "--upload-only"], "full": ["--rows", "1000000", "--upload-only"]},
        [Row("dataset registration vs sha256"), Row("dataset registration vs pandas + scipy")],
        parse_data,
        anchors=["pandas_scipy"],
    ),
    Benchmark(
        "explain",
        "bench_explain.py",
        {"quick": ["--only", "gb", "--gb-rows", "200"], "full": ["--only", "gb"]},
        [Row("SHAP on a 60-input gradient-boosting model vs shap's explainer")],
        parse_explain,
    ),
    Benchmark(
        "whole_audit",
        "bench_explain.py",
        {"quick": ["--whole"], "full": ["--whole"]},
        [Row("demo high-risk audit, every check")],
        parse_whole,
    ),
    Benchmark(
        "trail",
        "bench_trail.py",
        {"quick": ["--events", "20000", "--appends", "300"], "full": ["--events", "200000"]},
        [Row("trail appends/s, 8 writers vs 1")],
        parse_trail,
    ),
    Benchmark(
        "verify",
        "bench_verify.py",
        {
            "quick": ["--events", "50000", "--new", "2000", "--workers", "1", "--keep", VERIFY_KEEP],
            "full": ["--keep", VERIFY_KEEP],
        },
        [Row("verify_trail"), Row("verify_trail --incremental vs full")],
        parse_verify,
    ),
]


# --- anchors the driver measures itself, in the same run ------------------------------------------------------


def pandas_scipy_anchor(rows: int) -> float:
    """Seconds for pandas and scipy alone to read a predictions CSV of ``rows`` rows (label, prediction, score, two
    protected columns), compute each group's selection rate and accuracy, and a chi-square test per column: what a
    hand-written notebook does for the audit's core numbers."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, rows),
            "prediction": rng.integers(0, 2, rows),
            "score": rng.random(rows).round(4),
            "sex": rng.choice(["f", "m"], rows),
            "race": rng.choice(["a", "b", "c", "d"], rows),
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "anchor.csv"
        frame.to_csv(path, index=False)
        began = time.perf_counter()
        data = pd.read_csv(path)
        for column in ("sex", "race"):
            grouped = data.groupby(column)
            grouped["prediction"].mean()
            (data["prediction"] == data["label"]).groupby(data[column]).mean()
            stats.chi2_contingency(pd.crosstab(data[column], data["prediction"]))
        return time.perf_counter() - began


ANCHORS: dict[str, Callable[[int], float]] = {"pandas_scipy": pandas_scipy_anchor}
ANCHOR_ROWS = {"quick": 200_000, "full": 1_000_000}


# --- running and the table -----------------------------------------------------------------------------------------


def run(benchmark: Benchmark, size: str, anchors: dict[str, str], *, postgres: bool = False) -> tuple[list[Row], float]:
    """``benchmark``'s rows at ``size`` (DATABASE_URL passed on only when ``postgres``; else it runs on SQLite)."""
    command = [sys.executable, str(HERE / benchmark.script), *benchmark.sizes[size]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if not postgres:
        env.pop("DATABASE_URL", None)
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=benchmark.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return [r.missing(f"timed out after {benchmark.timeout} s") for r in benchmark.rows], benchmark.timeout
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return [r.missing(f"exit {done.returncode}: {last}") for r in benchmark.rows], elapsed
    try:
        return benchmark.parse(done.stdout, anchors), elapsed
    except (ValueError, KeyError, IndexError, ZeroDivisionError) as error:
        return [r.missing(f"output not recognised ({error})") for r in benchmark.rows], elapsed


def commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    found = subprocess.run([git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return found.stdout.strip() + (" (with uncommitted changes)" if dirty else "") if found.returncode == 0 else "?"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def table(rows: list[Row], *, header: list[str]) -> str:
    lines = [
        *header,
        "",
        "| what | figure | anchor (same run) | anchor figure | ratio | goal | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.what} | {r.figure} | {r.anchor} | {r.anchor_figure} | {r.ratio} | {r.goal} | {r.note} |" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=("quick", "full"), default="quick")
    parser.add_argument(
        "--only", default="", help="benchmarks to run, comma-separated: " + ", ".join(b.name for b in BENCHMARKS)
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands and the table's rows; run nothing")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument(
        "--postgres",
        default="gate,trail",
        help="benchmarks given DATABASE_URL when it is set (the rest run on SQLite; bench_trail.py and bench_data.py "
        "share one scratch database name, so two of them at once on one server clobber each other)",
    )
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started_load = load()
    rows: list[Row] = []
    anchors: dict[str, str] = {}
    timings = []
    if args.dry_run:
        for benchmark in chosen:
            print(
                "would run:",
                " ".join([Path(sys.executable).name, f"benchmarks/{benchmark.script}", *benchmark.sizes[args.size]]),
            )
            rows += [r.missing("dry run") for r in benchmark.rows]
    else:
        for name in sorted({a for b in chosen for a in b.anchors}):
            anchors[name] = f"{ANCHORS[name](ANCHOR_ROWS[args.size]):.3f}"
            print(f"anchor {name} at {ANCHOR_ROWS[args.size]:,} rows: {anchors[name]} s", flush=True)
        for benchmark in chosen:
            print(
                f"running {benchmark.name} ({benchmark.script} {' '.join(benchmark.sizes[args.size])})"
                f", load average {load()} ...",
                flush=True,
            )
            postgres = bool(os.environ.get("DATABASE_URL")) and benchmark.name in args.postgres.split(",")
            found, seconds = run(benchmark, args.size, anchors, postgres=postgres)
            for row in found:
                row.note = "; ".join(filter(None, [row.note, "PostgreSQL" if postgres else "SQLite"]))
            timings.append(f"{benchmark.name} {seconds:.0f} s")
            rows += found
    header = [
        f"commit {commit()}; size {args.size}; {os.cpu_count()} CPUs; PostgreSQL for "
        f"{args.postgres if os.environ.get('DATABASE_URL') else 'none (DATABASE_URL unset)'}, SQLite for the rest",
        f"load average (1, 5, 15 min) at the start: {started_load}; at the end: {load()}",
    ]
    if timings:
        header.append("wall time: " + ", ".join(timings))
    print()
    print(table(rows, header=header))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
