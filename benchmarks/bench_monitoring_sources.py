"""Monitoring a production batch where it lives (DuckDB counting a Parquet partition) vs the upload path reading
the same file in chunks, in one run; each side in a process of its own (time and peak RSS over that process's
baseline after imports). Same data and configuration as ``bench_drift.py`` (20 features, a score with a threshold,
a protected attribute); the reference is profiled once.

Both must give the same statistics: the script stops with an error if any result differs, the numeric means (float
sums taken in another order) compared to 1e-12 relative and everything else exactly.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_monitoring_sources.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_drift  # the data, configuration and measuring helpers are bench_drift's


def run_source(folder: Path) -> dict:
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    import audits.checks.disparate_impact  # noqa: F401
    from audits.monitoring.batch import BatchSpec, FairnessRules
    from audits.monitoring.pushdown import DuckDBPartition, compute_partition

    spec = BatchSpec.from_json(bench_drift._spec())
    base = bench_drift._baseline_mb()
    start = time.perf_counter()
    stored = json.loads((folder / "profile.json").read_text())
    reader = DuckDBPartition([str(folder / "batch.parquet")])
    try:
        results = compute_partition(reader, spec=spec, profile=stored, rules=FairnessRules())
    finally:
        reader.close()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": bench_drift._peak_mb() - base, "results": results}


def _child(which: str, folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--folder", str(folder)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    if out.returncode:
        raise SystemExit(f"the {which} run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compare(upload: dict, source: dict) -> None:
    for name, expected in upload["features"].items():
        found = source["features"][name]
        for key, value in expected.items():
            if key in ("mean", "mean_shift_in_reference_sd") and value is not None:
                if not math.isclose(found[key], value, rel_tol=1e-12, abs_tol=1e-12):
                    raise SystemExit(f"{name}.{key}: {found[key]} != {value}")
            elif found[key] != value:
                raise SystemExit(f"{name}.{key} differs: {found[key]!r} != {value!r}")
    for key in ("rows", "prediction", "score", "selection_rate", "fairness"):
        if key == "score":
            upload[key] = {k: v for k, v in upload[key].items() if k not in ("mean", "mean_shift_in_reference_sd")}
            source[key] = {k: v for k, v in source[key].items() if k not in ("mean", "mean_shift_in_reference_sd")}
        if upload.get(key) != source.get(key):
            raise SystemExit(f"{key} differs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--child")
    parser.add_argument("--folder")
    options = parser.parse_args()
    if options.child:
        import django

        django.setup()
        run = run_source if options.child == "source" else bench_drift.run_assay
        print(json.dumps(run(Path(options.folder))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_drift.make_data(folder, options.rows, options.reference_rows)
        bench_drift.profile_once(folder)
        upload = _child("assay", folder)
        source = _child("source", folder)
    _compare(upload["results"], source["results"])
    print(f"rows {options.rows:,}, load average {os.getloadavg()[0]:.2f}")
    print(f"upload path (chunks read here): {upload['seconds']:.2f} s, {upload['peak_mb']:.0f} MB")
    print(f"source path (DuckDB counts):     {source['seconds']:.2f} s, {source['peak_mb']:.0f} MB")
    print(f"time ratio source/upload {source['seconds'] / upload['seconds']:.2f}; statistics equal (means to 1e-12)")


if __name__ == "__main__":
    main()
