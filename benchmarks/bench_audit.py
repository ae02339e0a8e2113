"""A full predictions-only audit (performance, group fairness, disparate impact) of a large CSV, end to end.

    python benchmarks/bench_audit.py                   # 1,000,000 rows on SQLite (target: under 10 s)
    python benchmarks/bench_audit.py --rows 200000
    python benchmarks/bench_audit.py --process 5       # and `manage.py run_audit` as a whole process, 5 times

Prints the time of each stage measured in one run: registering the dataset version (hash, profile, index: the
upload, done once) and the audit itself (read, build the evaluation, run the policy's checks, store the results).
With ``--process N``, also the predictions-only ``manage.py run_audit`` of the registered file, python start to
exit, N times (issue 20's row, goal under 3 s): each run's wall time and CPU time (user + system, of the process
and its children), their medians, and the load average before and after, since 2 cores are shared. With
``--bytecode`` as well, each of those runs alternates with one that keeps Python's compiled bytecode (in a temporary
folder): the Makefile sets PYTHONDONTWRITEBYTECODE=1, so by default every run compiles the project's sources again,
which an installed deployment (bytecode compiled once) does not.
It asserts nothing about time (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trail import configure

POLICY = """
name: bench-predictions
title: Predictions-only audit for the benchmark
description: Performance, group fairness and disparate impact with every threshold a real policy would set.
confidence_level: 0.95
min_group_size: 30
intersections: true
checks:
  performance:
    required: true
    accuracy_min: {value: 0.6, comparison: min, basis: {text: Benchmark., citation: Benchmark.}}
    roc_auc_min: {value: 0.6, comparison: min, basis: {text: Benchmark., citation: Benchmark.}}
  group_fairness:
    required: true
    demographic_parity_difference_max: {value: 0.2, comparison: max, basis: {text: Benchmark., citation: Benchmark.}}
    equalized_odds_difference_max: {value: 0.2, comparison: max, basis: {text: Benchmark., citation: Benchmark.}}
  disparate_impact:
    required: true
    impact_ratio_min: {value: 0.8, comparison: min, basis: {text: Benchmark., citation: Benchmark.}}
"""


def write_predictions(path: Path, rows: int, *, seed: int = 11) -> None:
    """label, score, prediction (score >= 0.5), sex (2 groups) and race (5 groups), seeded."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male"]), size=rows)
    race = rng.choice(
        np.array(["asian", "black", "hispanic", "white", "other"]), size=rows, p=[0.1, 0.15, 0.2, 0.5, 0.05]
    )
    label = (rng.random(rows) < 0.4).astype(int)
    score = np.clip(0.35 * label + rng.normal(0.35, 0.2, rows) + 0.03 * (sex == "male"), 0, 1)
    prediction = (score >= 0.5).astype(int)
    with path.open("w") as out:
        out.write("sex,race,label,score,prediction\n")
        for chunk in range(0, rows, 100_000):
            part = slice(chunk, chunk + 100_000)
            out.writelines(
                f"{s},{r},{y},{p:.6f},{d}\n"
                for s, r, y, p, d in zip(sex[part], race[part], label[part], score[part], prediction[part], strict=True)
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--process", type=int, default=0, metavar="N", help="time run_audit as a process N times")
    parser.add_argument(
        "--bytecode", action="store_true", help="with --process: alternate with runs that keep compiled bytecode"
    )
    args = parser.parse_args()
    configure(os.environ.get("DATABASE_URL"))

    from django.db import connection

    from audits import actions as audits
    from audits.models import AuditRun
    from governance.access.actions import do_create_user
    from governance.data import actions as data
    from governance.trail.log import Actor
    from registry import actions as registry

    owner = do_create_user(username="owner", role="owner", teams=["bench"], actor=Actor.system())
    officer = do_create_user(username="officer", role="officer", teams=[], actor=Actor.system())
    team, actor = owner.teams.get(), Actor.system()
    path = Path(tempfile.mkdtemp(prefix="assay-bench-audit-")) / "predictions.csv"
    write_predictions(path, args.rows)
    print(f"database: {connection.vendor}; {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB of CSV")

    began = time.perf_counter()
    dataset = data.do_register_dataset(user=owner, actor=actor, name="predictions", team=team)
    dataset_version = data.do_register_dataset_version(
        dataset=dataset, user=owner, actor=actor, file_path=path, file_name="predictions.csv", label_column="label"
    )
    upload = time.perf_counter() - began
    answers = {
        "prohibited_practice": "none",
        "annex_iii_area": "none",
        "profiles_natural_persons": False,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    }
    model = registry.do_register_model(
        user=owner, actor=actor, name="bench-model", team=team, purpose="bench", risk_answers=answers
    )
    version = registry.do_register_version(model=model, user=owner, actor=actor)
    policy_version = audits.do_save_policy(user=officer, actor=actor, text=POLICY)

    roles = {"label": "label", "favourable": "1", "protected": ["sex", "race"]}
    timings = {}
    for kind, extra in (
        ("prediction column", {"prediction": "prediction"}),
        ("score + threshold", {"score": "score", "threshold": 0.5}),
    ):
        began = time.perf_counter()
        run, _ = audits.do_start_audit(
            user=owner,
            actor=actor,
            model_version=version,
            dataset_version=dataset_version,
            policy_version=policy_version,
            column_roles={**roles, **extra},
        )
        run = AuditRun.objects.get(pk=run.pk)
        if run.status == "queued":  # with a broker the job runs elsewhere: run it here to time it
            run = audits.execute_audit(run.pk)
        timings[kind] = time.perf_counter() - began
        checks = ", ".join(f"{c.check_name} {c.outcome}" for c in run.checks.all())
        print(
            f"  audit ({kind}): {timings[kind]:.2f} s end to end, job {run.duration_seconds:.2f} s; "
            f"{run.status} {run.verdict}: {checks}"
        )
    print(f"upload (hash, profile, store; once per dataset version): {upload:.2f} s")
    print(f"audit / upload: {min(timings.values()) / upload:.2f}x")
    if args.process:
        whole_process(path, runs=args.process, bytecode=args.bytecode)


def whole_process(path: Path, *, runs: int, bytecode: bool = False) -> None:
    """``manage.py run_audit`` of the registered file (found by its sha256, so nothing is registered again), python
    start to exit, ``runs`` times: wall and CPU seconds of each run, and their medians. ``bytecode``: each run
    alternates with one whose compiled bytecode is kept (after one run that compiles it, not counted)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve().parents[1] / "manage.py"),
        "run_audit",
        "--as",
        "owner",
        "--data",
        str(path),
        "--dataset",
        "predictions",
        "--model",
        "bench-model",
        "--label",
        "label",
        "--prediction",
        "prediction",
        "--protected",
        "sex,race",
        "--policy",
        "bench-predictions",
        "--force",
    ]
    variants = {"": dict(os.environ)}
    if bytecode:
        kept = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        variants["bytecode kept: "] = {**kept, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="assay-bench-pyc-")}
        subprocess.run(command, capture_output=True, env=variants["bytecode kept: "], check=False)  # compiles it
    print(f"manage.py run_audit, whole process, {runs} runs (load average {_load()} before):")
    walls: dict[str, list[float]] = {label: [] for label in variants}
    cpus: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(runs):
        for label, env in variants.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            walls[label].append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[label].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            verdict = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()[-200:]
            wall, cpu = walls[label][-1], cpus[label][-1]
            print(f"  {label}wall {wall:.2f} s, cpu {cpu:.2f} s, exit {done.returncode}: {verdict}")
    load = _load()  # the first median line keeps the format benchmarks/run_all.py reads
    for label in variants:
        print(
            f"  {label}median wall {statistics.median(walls[label]):.2f} s, "
            f"median cpu {statistics.median(cpus[label]):.2f} s (load average {load} after)"
        )


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
