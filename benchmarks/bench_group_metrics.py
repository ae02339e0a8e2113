"""Benchmark of the group-metric kernel against fairlearn's MetricFrame and aif360's ClassificationMetric.

    python benchmarks/bench_group_metrics.py [--rows 1000000 10000000] [--groups 2 8] [--skip-slow] [--methods ...]

Prints figures only (no assertions on time: they depend on the machine); it does assert that the three give the
same numbers. For each size, synthetic seeded data (integer group codes, 0/1 labels and predictions as int64
columns, unequal group sizes and group-dependent error rates) is written once to .npy files; then each method runs
in a fresh subprocess that loads the arrays and imports its libraries before measuring:

* time: wall clock of the computation only. fairlearn and aif360 run once (cold); the kernel runs five times in
  its process and the median is reported, with its first (cold) run beside it: the machine's two cores are shared,
  and one run of a 0.1 s computation is mostly noise;
* memory: growth of the process's resident set at its peak during the computation: the child resets the kernel's
  high-water mark (``/proc/self/clear_refs`` with ``5``) after loading and importing, then reports ``VmHWM`` minus
  the ``VmRSS`` it started from (``/proc/self/status``). It includes every temporary. Where ``clear_refs`` is not
  writable it falls back to ``getrusage(RUSAGE_SELF).ru_maxrss``, which can hide a peak below the load's.

What each method computes, per group: selection rate, true/false positive rate, false/true negative rate and
precision (six numbers):

* kernel: ``encode_groups`` + ``confusion_by_group`` + the six rate functions; kernel-str the same with the
  groups given as Python strings (converted before the baseline), as real protected attributes usually arrive;
* fairlearn: ``MetricFrame`` with fairlearn's five rate functions and scikit-learn's ``precision_score``;
* aif360: building the ``BinaryLabelDataset`` (and its copy holding the predictions), then per group a
  ``ClassificationMetric`` with that group as the privileged group, and its six methods.

``--skip-slow`` leaves out MetricFrame at 10,000,000 rows (minutes per run).

The anchor (issue 20: "within 3x of the floor") is a bare chunked bincount over ``group * 4 + 2 * y_true + y_pred``
in 64 Ki-row steps: the least any exact counter must do, on integer codes already made. The kernel's child times it
alternately with the kernel (floor, kernel, floor, kernel...), so both see the same load; the table gives the
floor's median and the median of the per-pair ratios, the figure that is robust on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Two shared cores: one BLAS/OpenMP thread per process (set before numpy is imported, inherited by the children).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402  (after the thread variables above, which numpy reads on import)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere, no install needed

RATES = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "precision",
)
SLOW_ROWS = 10_000_000
KERNEL_RUNS = 5


def make_data(directory: Path, *, rows: int, groups: int, seed: int = 20240611) -> None:
    """Seeded synthetic evaluation: unequal groups, group-dependent base rates and error rates."""
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.full(groups, 2.0))
    group = rng.choice(groups, size=rows, p=shares).astype(np.int64)
    base_rate = rng.uniform(0.2, 0.6, groups)[group]
    y_true = (rng.random(rows) < base_rate).astype(np.int64)
    miss = rng.uniform(0.1, 0.4, groups)[group]  # P(predict 0 | y = 1)
    false_alarm = rng.uniform(0.05, 0.3, groups)[group]  # P(predict 1 | y = 0)
    draw = rng.random(rows)
    y_pred = np.where(y_true == 1, draw >= miss, draw < false_alarm).astype(np.int64)
    for name, array in (("group", group), ("y_true", y_true), ("y_pred", y_pred)):
        np.save(directory / f"{name}.npy", array)


# ---------------------------------------------------------------------------------------------------------------
# The three methods (each runs in its own child process)
# ---------------------------------------------------------------------------------------------------------------


KERNEL_STEPS: dict[str, float] = {}  # seconds of each step of the kernel's last run


def run_kernel(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[float]]:
    from audits import metrics as km

    start = time.perf_counter()
    groups = km.encode_groups({"group": group})
    encoded = time.perf_counter()
    counts = km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)
    counted = time.perf_counter()
    rates = {name: getattr(km, name)(counts).by_group.tolist() for name in RATES}
    KERNEL_STEPS.update(
        encode_groups=encoded - start, confusion_by_group=counted - encoded, rates=time.perf_counter() - counted
    )
    return rates


FLOOR_STEP = 1 << 16


def run_floor(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The anchor: cell counts by a bare chunked bincount (no checks, no encoding, codes given)."""
    table = np.zeros(4 * (int(group.max()) + 1), dtype=np.int64)
    for start in range(0, group.shape[0], FLOOR_STEP):
        part = slice(start, start + FLOOR_STEP)
        table += np.bincount(group[part] * 4 + y_true[part] * 2 + y_pred[part], minlength=table.shape[0])
    return table


def run_kernel_on_strings(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[float]]:
    return run_kernel(group, y_true, y_pred)


def prepare_kernel() -> None:
    import pandas  # noqa: F401
    import scipy.special  # noqa: F401

    from audits import metrics  # noqa: F401  (imported before the baseline, like the other methods' libraries)


def run_fairlearn(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[float]]:
    from fairlearn import metrics as flm
    from sklearn.metrics import precision_score

    functions = {
        "selection_rate": flm.selection_rate,
        "true_positive_rate": flm.true_positive_rate,
        "false_positive_rate": flm.false_positive_rate,
        "false_negative_rate": flm.false_negative_rate,
        "true_negative_rate": flm.true_negative_rate,
        "precision": precision_score,
    }
    frame = flm.MetricFrame(metrics=functions, y_true=y_true, y_pred=y_pred, sensitive_features=group)
    return {name: frame.by_group[name].to_numpy(dtype=float).tolist() for name in RATES}


def prepare_fairlearn() -> None:
    import fairlearn.metrics  # noqa: F401
    import sklearn.metrics  # noqa: F401


def run_aif360(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[float]]:
    import pandas as pd
    from aif360.datasets import BinaryLabelDataset
    from aif360.metrics import ClassificationMetric

    frame = pd.DataFrame({"group": group.astype(float), "label": y_true.astype(float)})
    truth = BinaryLabelDataset(
        df=frame, label_names=["label"], protected_attribute_names=["group"], favorable_label=1.0, unfavorable_label=0.0
    )
    predicted = truth.copy()
    predicted.labels = y_pred.astype(float).reshape(-1, 1)
    result: dict[str, list[float]] = {name: [] for name in RATES}
    for code in np.unique(group).tolist():
        metric = ClassificationMetric(truth, predicted, privileged_groups=[{"group": float(code)}])
        result["selection_rate"].append(metric.selection_rate(privileged=True))
        result["true_positive_rate"].append(metric.true_positive_rate(privileged=True))
        result["false_positive_rate"].append(metric.false_positive_rate(privileged=True))
        result["false_negative_rate"].append(metric.false_negative_rate(privileged=True))
        result["true_negative_rate"].append(metric.true_negative_rate(privileged=True))
        result["precision"].append(metric.positive_predictive_value(privileged=True))
    return {name: [float(value) for value in values] for name, values in result.items()}


def prepare_aif360() -> None:
    import logging

    logging.disable(logging.WARNING)  # aif360 logs a warning per missing optional extra (tensorflow, ...)
    import aif360.datasets
    import aif360.metrics  # noqa: F401
    import pandas  # noqa: F401


METHODS = {
    "kernel": (prepare_kernel, run_kernel),
    # The same, with the groups as Python strings ("group-3"), as real protected attributes arrive: hashing them is
    # most of the cost. (fairlearn and aif360 get the integer codes; aif360 accepts only numbers.)
    "kernel-str": (prepare_kernel, run_kernel_on_strings),
    "fairlearn": (prepare_fairlearn, run_fairlearn),
    "aif360": (prepare_aif360, run_aif360),
}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _start_peak_measurement() -> tuple[str, int]:
    """Reset the peak-RSS mark if the kernel lets us; return how the peak will be read and the baseline (KiB)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM", _status_kib("VmRSS")
    except OSError:
        return "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def _peak_kib(how: str) -> int:
    return _status_kib("VmHWM") if how == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(method: str, directory: Path) -> None:
    """Load the data, import the method's libraries, then measure only the computation; print JSON."""
    prepare, run = METHODS[method]
    arrays = [np.load(directory / f"{name}.npy") for name in ("group", "y_true", "y_pred")]
    if method == "kernel-str":
        arrays[0] = np.array([f"group-{code}" for code in range(int(arrays[0].max()) + 1)], dtype=object)[arrays[0]]
    prepare()
    how, baseline_kib = _start_peak_measurement()
    runs, floor_runs, pair_ratios = [], [], []
    for _ in range(KERNEL_RUNS if method.startswith("kernel") else 1):
        start = time.perf_counter()
        result = run(*arrays)
        runs.append(time.perf_counter() - start)
    peak_mib = (_peak_kib(how) - baseline_kib) / 1024
    if method == "kernel":  # the anchor, alternating with the kernel (warm) so that both run under the same load
        for _ in range(KERNEL_RUNS):
            start = time.perf_counter()
            table = run_floor(*arrays)
            floor_runs.append(time.perf_counter() - start)
            start = time.perf_counter()
            run(*arrays)
            pair_ratios.append((time.perf_counter() - start) / floor_runs[-1])
        assert table.tolist() == km_counts(arrays), "the kernel's cell counts differ from the bare bincount's"
    print(
        json.dumps(
            {
                "seconds": statistics.median(runs),
                "cold_seconds": runs[0],
                "runs": len(runs),
                "peak_mib": peak_mib,
                "memory_by": how,
                "rates": result,
                "steps": KERNEL_STEPS,
                "floor_seconds": statistics.median(floor_runs) if floor_runs else None,
                "floor_ratio": statistics.median(pair_ratios) if pair_ratios else None,
            }
        )
    )


def km_counts(arrays: list[np.ndarray]) -> list[int]:
    """The kernel's cells in the floor's order (per group: tn, fp, fn, tp), to check the two count the same."""
    from audits import metrics as km

    counts = km.confusion_by_group(y_true=arrays[1], y_pred=arrays[2], groups=km.encode_groups({"g": arrays[0]}))
    return np.column_stack([counts.tn, counts.fp, counts.fn, counts.tp]).ravel().tolist()


def measure(method: str, directory: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", method, "--data", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{method} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def max_difference(ours: dict[str, list[float]], theirs: dict[str, list[float]]) -> float:
    return max(float(np.max(np.abs(np.asarray(ours[name]) - np.asarray(theirs[name])), initial=0.0)) for name in RATES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--groups", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--skip-slow", action="store_true", help="leave out MetricFrame at 10,000,000 rows")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(METHODS),
        default=list(METHODS),
        help="kernel (with the floor) always runs",
    )
    parser.add_argument("--child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, one BLAS thread")
    print(f"time: computation only; kernel median of {KERNEL_RUNS} runs in one process (cold = its first run),")
    print("      fairlearn and aif360 one cold run each, every method in a fresh process")
    print("peak: resident-set growth at the peak of the computation over the post-load, post-import baseline")
    header = f"{'rows':>11} {'groups':>6}  {'method':<10} {'time s':>8} {'cold s':>8} {'peak MiB':>9}"
    header += f" {'time vs kernel':>14} {'mem vs kernel':>13} {'max |diff|':>10}"
    print(header)
    steps = []
    for rows in args.rows:
        for groups in args.groups:
            with tempfile.TemporaryDirectory(prefix="bench-group-metrics-") as name:
                directory = Path(name)
                make_data(directory, rows=rows, groups=groups)
                kernel = measure("kernel", directory)
                results = {"kernel": kernel}
                for method in ("kernel-str", "fairlearn", "aif360"):
                    if method not in args.methods or (method == "fairlearn" and args.skip_slow and rows >= SLOW_ROWS):
                        continue
                    results[method] = measure(method, directory)
            steps.append((rows, groups, "kernel", kernel["steps"], kernel["memory_by"]))
            if "kernel-str" in results:
                steps.append((rows, groups, "kernel-str", results["kernel-str"]["steps"], kernel["memory_by"]))
            for method, result in results.items():
                difference = max_difference(kernel["rates"], result["rates"])
                assert difference <= 1e-9, f"{method} disagrees with the kernel by {difference} at {rows} rows"
                print(
                    f"{rows:>11,} {groups:>6}  {method:<10} {result['seconds']:>8.3f} {result['cold_seconds']:>8.3f}"
                    f" {result['peak_mib']:>9.1f} {result['seconds'] / kernel['seconds']:>13.0f}x"
                    f" {result['peak_mib'] / max(kernel['peak_mib'], 0.1):>12.1f}x {difference:>10.1e}",
                    flush=True,
                )
            print(
                f"{rows:>11,} {groups:>6}  {'floor':<10} {kernel['floor_seconds']:>8.3f}"
                f"   (bare chunked bincount; kernel / floor, median of {KERNEL_RUNS} alternating pairs:"
                f" {kernel['floor_ratio']:.2f}x, goal <= 3x)",
                flush=True,
            )
    print("kernel steps (last run):")
    for rows, groups, method, kernel_steps, memory_by in steps:
        parts = ", ".join(f"{step} {seconds:.3f} s" for step, seconds in kernel_steps.items())
        print(f"  {rows:>11,} rows, {groups} groups, {method:<10}: {parts} (memory read from {memory_by})")


if __name__ == "__main__":
    main()
