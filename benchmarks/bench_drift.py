"""Drift of a 1,000,000-row batch with 20 features against a profiled reference, vs a straightforward scipy/pandas
implementation, in one run; each side measured in a process of its own (time and peak RSS over that process's
baseline after imports).

Assay's path (``audits.monitoring.batch.compute``): the reference was profiled once (bin edges, counts, ECDF);
the batch is read in chunks of 131,072 rows and only additive counts are kept, so the reference file is never read
and the batch is never wholly in memory (the decision and group columns for live fairness excepted).

The straightforward path: pandas reads the whole batch and the whole reference, then per feature ``numpy``
quantiles and histograms for PSI, ``scipy.stats.ks_2samp(method="asymp")``, ``jensenshannon``, and per categorical
feature ``pandas.crosstab`` + ``scipy.stats.chi2_contingency``. Both must give the same numbers: the script stops
with an error if any PSI, KS statistic or p-value, chi-square or JS distance differs beyond 1e-9 (relative).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_drift.py [--rows 1000000] [--reference-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NUMERIC = [f"x{i:02d}" for i in range(16)]
CATEGORICAL = [f"c{i}" for i in range(4)]


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _baseline_mb() -> float:
    """Current RSS, after resetting the process's peak (VmHWM) to it, so the peak measured next is the work's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: fall back to getrusage's lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    try:
        return _status_mb("VmHWM")
    except (OSError, RuntimeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(folder: Path, rows: int, reference_rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(n: int, shift: float, seed: int) -> pa.Table:
        rng = np.random.default_rng(seed)
        columns = {}
        for i, name in enumerate(NUMERIC):
            moved = shift if i == 0 else 0.0  # one feature drifts
            columns[name] = np.round(rng.normal(100 + 10 * moved, 10, n), 1)  # one decimal: realistic ties
        for i, name in enumerate(CATEGORICAL):
            weights = np.array([0.5, 0.3, 0.15, 0.05])
            if i == 0 and shift:
                weights = np.array([0.3, 0.3, 0.25, 0.15])
            columns[name] = np.array(["a", "b", "c", "d"])[rng.choice(4, size=n, p=weights)]
        columns["score"] = rng.random(n)
        columns["group"] = np.where(rng.random(n) < 0.4, "f", "m")
        return pa.table(columns)

    pq.write_table(table(reference_rows, 0.0, 1), folder / "reference.parquet")
    pq.write_table(table(rows, 1.0, 2), folder / "batch.parquet", row_group_size=131_072)


def _spec() -> dict:
    return {
        "features": [{"name": n, "kind": "numeric"} for n in NUMERIC]
        + [{"name": n, "kind": "categorical"} for n in CATEGORICAL],
        "prediction": "",
        "score": "score",
        "threshold": 0.5,
        "favourable": "1",
        "label": "",
        "protected": ["group"],
    }


def profile_once(folder: Path) -> float:
    """Profile the reference (done once per configuration in Assay; stored as JSON). Runs in the parent."""
    import pyarrow.parquet as pq

    from audits.monitoring.batch import BatchSpec, profile_reference

    start = time.perf_counter()
    profile = profile_reference(pq.read_table(folder / "reference.parquet"), BatchSpec.from_json(_spec()))
    (folder / "profile.json").write_text(json.dumps(profile))
    return time.perf_counter() - start


def run_assay(folder: Path) -> dict:
    # What a worker has imported already (the straightforward side imports before its timer too).
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    import audits.checks.disparate_impact  # noqa: F401
    from audits.monitoring.batch import BatchSpec, FairnessRules, compute

    spec = BatchSpec.from_json(_spec())
    base = _baseline_mb()
    start = time.perf_counter()
    stored = json.loads((folder / "profile.json").read_text())  # only the stored profile: the reference is not read
    results = compute(folder / "batch.parquet", fmt="parquet", spec=spec, profile=stored, rules=FairnessRules())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb() - base, "results": results}


def run_straightforward(folder: Path) -> dict:
    import numpy as np
    import pandas as pd
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    base = _baseline_mb()
    start = time.perf_counter()
    batch = pd.read_parquet(folder / "batch.parquet")
    reference = pd.read_parquet(folder / "reference.parquet")
    results: dict = {}
    for name in NUMERIC:
        ref, new = reference[name].to_numpy(), batch[name].to_numpy()
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
        bins = [-np.inf, *edges, np.inf]
        # Right-closed bins (a value equal to an edge falls in the lower bin).
        ref_counts = pd.Series(pd.cut(ref, bins, right=True)).value_counts(sort=False).to_numpy()
        new_counts = pd.Series(pd.cut(new, bins, right=True)).value_counts(sort=False).to_numpy()
        p = (ref_counts + 0.5) / (ref_counts.sum() + 0.5 * len(ref_counts))
        q = (new_counts + 0.5) / (new_counts.sum() + 0.5 * len(new_counts))
        ks = stats.ks_2samp(ref, new, method="asymp")
        results[name] = {
            "psi": float(np.sum((q - p) * np.log(q / p))),
            "ks": float(ks.statistic),
            "ks_p_value": float(ks.pvalue),
            "js_distance": float(jensenshannon(ref_counts, new_counts, base=2)),
        }
    for name in CATEGORICAL:
        both = pd.concat([reference[name], batch[name]], ignore_index=True)
        side = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(batch), dtype=int)]
        table = pd.crosstab(side, both).to_numpy()
        test = stats.chi2_contingency(table)
        p = (table[0] + 0.5) / (table[0].sum() + 0.5 * table.shape[1])
        q = (table[1] + 0.5) / (table[1].sum() + 0.5 * table.shape[1])
        results[name] = {
            "psi": float(np.sum((q - p) * np.log(q / p))),
            "chi2": float(test.statistic),
            "chi2_p_value": float(test.pvalue),
            "js_distance": float(jensenshannon(table[0], table[1], base=2)),
        }
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb() - base, "results": results}


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


def _compare(assay: dict, plain: dict) -> float:
    worst = 0.0
    for name, expected in plain.items():
        got = assay["features"][name]
        for key, value in expected.items():
            if key == "ks":
                if got[key] != value:
                    raise SystemExit(f"{name} {key}: {got[key]} != {value}")
                continue
            difference = abs(got[key] - value) / max(abs(value), 1e-300)
            worst = max(worst, difference)
            if difference > 1e-9:
                raise SystemExit(f"{name} {key}: {got[key]} vs {value} (relative difference {difference:.2e})")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--child", choices=["assay", "plain"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        result = run_assay(args.folder) if args.child == "assay" else run_straightforward(args.folder)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(folder, args.rows, args.reference_rows)
        size = (folder / "batch.parquet").stat().st_size
        profiled = profile_once(folder)
        assay = _child("assay", folder)
        plain = _child("plain", folder)
    worst = _compare(assay["results"], plain["results"])
    print(
        f"batch: {args.rows:,} rows x {len(NUMERIC) + len(CATEGORICAL)} features (+ score, group), Parquet "
        f"{size / 1e6:.0f} MB; reference {args.reference_rows:,} rows, profiled once in "
        f"{profiled:.2f} s"
    )
    print(f"{'':32} {'seconds':>9} {'peak RSS over baseline':>24}")
    print(f"{'Assay (profile, chunked)':32} {assay['seconds']:9.2f} {assay['peak_mb']:21.0f} MB")
    print(f"{'pandas + scipy (whole files)':32} {plain['seconds']:9.2f} {plain['peak_mb']:21.0f} MB")
    print(
        f"ratio: {plain['seconds'] / assay['seconds']:.1f}x faster, "
        f"{plain['peak_mb'] / max(assay['peak_mb'], 1):.1f}x less memory"
    )
    print(f"numbers equal: KS statistics identical, PSI/JS/chi-square/p-values within {worst:.1e} (relative)")
    alerts = [name for name, f in assay["results"]["features"].items() if f["psi"] > 0.2]
    print(f"features with PSI > 0.2: {', '.join(alerts)}; live fairness: {assay['results']['fairness']['outcome']}")


if __name__ == "__main__":
    main()
