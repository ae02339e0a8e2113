"""`make bench`'s driver (benchmarks/run_all.py): its dry run lists every row of the table; each parser reads the
lines its script prints (in the scripts' own formats) into figure, anchor and ratio; and a script that fails or
prints something else gives rows marked "not run" with the reason, never a number. Nothing here times anything."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "benchmarks" / "run_all.py"


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", DRIVER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_prints_every_row_of_the_table_with_the_commit_and_load_average() -> None:
    done = subprocess.run(
        [sys.executable, str(DRIVER), "--dry-run"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    run_all = _driver()
    for benchmark in run_all.BENCHMARKS:
        assert f"benchmarks/{benchmark.script}" in done.stdout
        for row in benchmark.rows:
            assert f"| {row.what} | not run: dry run |" in done.stdout
    assert "commit " in done.stdout
    assert "load average (1, 5, 15 min) at the start:" in done.stdout
    names = {b.name for b in run_all.BENCHMARKS}
    assert {"gate", "group_metrics", "audit", "data", "explain", "whole_audit", "trail", "verify"} <= names


def test_an_unknown_benchmark_is_refused_by_name() -> None:
    done = subprocess.run(
        [sys.executable, str(DRIVER), "--dry-run", "--only", "gate,nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert "unknown benchmark(s): nope" in done.stderr


def test_each_parser_reads_its_scripts_lines() -> None:
    run_all = _driver()
    gate_rows = [
        {"round": 0, "request": "gate", "clients": 50, "p99_ms": 300.0, "trail_lock": {"lock_held_share": 0.5}},
        {"round": 0, "request": "me", "clients": 50, "p99_ms": 200.0, "trail_lock": None},
        {"round": 1, "request": "gate", "clients": 50, "p99_ms": 400.0, "trail_lock": None},
        {"round": 1, "request": "me", "clients": 50, "p99_ms": 100.0, "trail_lock": None},
        {"round": 2, "request": "gate", "clients": 50, "p99_ms": 360.0, "trail_lock": None},
        {"round": 2, "request": "me", "clients": 50, "p99_ms": 180.0, "trail_lock": None},
    ]
    line = json.dumps({"benchmark": "gate", "database": "postgresql", "client": "ab", "rows": gate_rows})
    [gate] = run_all.parse_gate(f"client: ab\n{line}\n", {})
    # Ratios per round 1.5, 4.0, 2.0: the median is 2.0 (not the ratio of the medians, 360 / 180 = 2.0 by chance).
    assert (gate.figure, gate.anchor_figure, gate.ratio) == ("360 ms", "180 ms", "2.00x")
    assert "ratios 1.50, 2.00, 4.00" in gate.note
    assert "trail lock held 50%" in gate.note

    metrics = (
        "  1,000,000      8  kernel        0.020    0.030      10.0             1x          1.0x    0.0e+00\n"
        "  1,000,000      8  fairlearn    20.000   20.000     300.0          1000x         30.0x    1.1e-16\n"
        "  1,000,000      8  aif360        2.000    2.000     200.0           100x         20.0x    0.0e+00\n"
        "  1,000,000      8  floor         0.010   (bare chunked bincount; kernel / floor ...: 2.00x, goal <= 3x)\n"
    )
    floor, fairlearn, aif360 = run_all.parse_group_metrics(metrics, {})
    assert (floor.anchor, floor.ratio) == ("bare chunked bincount", "2.00x")
    assert (fairlearn.anchor_figure, fairlearn.ratio) == ("20.000 s", "1/1,000x")
    assert (aif360.anchor_figure, aif360.ratio) == ("2.000 s", "1/100x")

    explain = (
        "gradient boosting (60 features, skops, 200 rows): check 0.400 s (tree, 200 of 200 rows, log-odds; pass); "
        "shap TreeExplainer 0.200 s; ratio 2.0x\n"
    )
    [shap] = run_all.parse_explain(explain, {})
    assert (shap.figure, shap.anchor, shap.ratio) == ("0.400 s", "shap TreeExplainer", "2.00x")

    audit = "database: sqlite; 200,000 rows, 9 MB of CSV\n  audit (prediction column): 1.50 s end to end, job 1 s\n"
    [audited] = run_all.parse_audit(audit, {"pandas_scipy": "0.500"})
    assert (audited.what, audited.ratio) == ("predictions-only audit, 200,000-row CSV (in process)", "3.00x")
    audit += "  median wall 2.00 s, median cpu 1.50 s (load average 1.0 after)\n"
    _, process = run_all.parse_audit(audit, {"pandas_scipy": "0.500"})
    assert (process.what, process.figure, process.ratio, process.note) == (
        "manage.py run_audit, 200,000-row CSV, whole process",
        "2.00 s",
        "4.00x",
        "cpu 1.50 s",
    )

    data = (
        "database: sqlite; dataset rows: 200,000\n"
        f"  {'sha256 of the file, streamed (the floor)':<58} {0.1:8.2f} s\n"
        f"  {'whole registration (hash, profile, store, subject index, event)':<58} {2.0:8.2f} s\n"
    )
    by_hash, by_pandas = run_all.parse_data(data, {"pandas_scipy": "1.000"})
    assert (by_hash.ratio, by_pandas.ratio) == ("20.00x", "2.00x")

    trail = "database: postgresql\nappends/s, 1 writer:       200\nappends/s, 8 writers:      400   (...)\n"
    [appends] = run_all.parse_trail(trail, {})
    assert (appends.what, appends.figure, appends.ratio) == (
        "trail appends/s, 8 writers (postgresql)",
        "400/s",
        "2.00x",
    )


def test_a_script_that_fails_or_prints_something_else_is_not_run_with_the_reason(tmp_path: Path) -> None:
    run_all = _driver()
    failing, chatty = tmp_path / "failing.py", tmp_path / "chatty.py"
    failing.write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n")
    chatty.write_text("print('something the parser does not know')\n")
    rows = [run_all.Row("the gate", goal="<= 1.5x")]
    for script, reason in ((failing, "not run: exit 3: boom"), (chatty, "not run: output not recognised")):
        benchmark = run_all.Benchmark("x", str(script), {"quick": []}, rows, run_all.parse_gate)
        [row], _ = run_all.run(benchmark, "quick", {})
        assert row.figure.startswith(reason), row.figure
        assert (row.what, row.ratio, row.anchor_figure, row.goal) == ("the gate", "", "", "<= 1.5x")
