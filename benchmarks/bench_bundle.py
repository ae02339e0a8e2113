"""Evidence bundle performance: a model with 10 audit runs and 100,000 trail events of its own, on SQLite.

    python benchmarks/bench_bundle.py                 # 10 audit runs, 100,000 events about the model
    python benchmarks/bench_bundle.py --events 20000  # smaller

The trail is grown with the rows ``record_event`` would write (bench_trail.bulk_load's path, here with events about
the model, so every one of them is in the bundle's scope and gets an inclusion proof). Times: the export with its
reports built first (cold: 10 run reports and 1 version report rendered and signed), the export again with the
reports reused (warm), and the offline ``verify.py`` on the bundle in a separate Python. The cold export is timed
twice in the same process, both building all 11 reports anew: along the previous report code paths
(``bench_report.previous_code_paths``: charts drawn by ``savefig`` for every report, ASCII85 streams, paragraph
table cells) and as the code is now (from an empty chart cache). Prints a table; asserts nothing about time (the
machine is shared: compare within one run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_report import clear_chart_cache, previous_code_paths  # benchmarks/ is on sys.path when this runs
from bench_trail import bulk_load, configure


@contextlib.contextmanager
def reports_built_anew() -> Iterator[None]:
    """Every report the export needs is built and signed now, even where a current one is stored (a cold export)."""
    from audits.reports import service

    for_run, for_version = service.report_for_run, service.report_for_version
    service.report_for_run, service.report_for_version = service.build_run_report, service.build_version_report
    try:
        yield
    finally:
        service.report_for_run, service.report_for_version = for_run, for_version


def grow_trail_about(model: object, count: int) -> float:
    """Append ``count`` ``model.updated`` events about ``model`` in bulk (the rows record_event writes)."""
    from django.utils import timezone

    from governance.trail.log import tree_size

    name, pk = model.name, str(model.pk)  # type: ignore[attr-defined]

    def model_updated(seq: int) -> tuple[str, str, str, dict[str, object]]:
        return "model.updated", "registry.registeredmodel", pk, {"name": name, "changed": ["purpose"]}

    return bulk_load(
        tree_size() + count,
        describe=model_updated,
        start=timezone.now(),
        step=dt.timedelta(microseconds=1),
        show_progress=False,
    )


def arrange(runs: int) -> tuple[object, object, object]:
    """An officer, a regulator and a model version of team credit-risk with ``runs`` completed audits."""
    from audits import actions as audits
    from audits.models import Policy, RunStatus
    from governance.access.actions import do_create_user
    from governance.access.models import Team
    from governance.data import actions as data
    from governance.trail.log import Actor
    from registry import actions as registry

    system = Actor.system()
    officer = do_create_user(username="olivia", role="officer", teams=[], password=None, actor=system)
    owner = do_create_user(username="omar", role="owner", teams=["credit-risk"], password=None, actor=system)
    regulator = do_create_user(username="regina", role="regulator", teams=[], password=None, actor=system)
    model = registry.do_register_model(
        user=owner,
        actor=system,
        name="credit-scoring",
        team=Team.objects.get(slug="credit-risk"),
        purpose="Score consumer loan applications.",
        risk_answers={
            "prohibited_practice": "none",
            "annex_iii_area": "none",
            "profiles_natural_persons": False,
            "human_reviews_each_decision": False,
            "interacts_with_people_or_generates_content": False,
        },
    )
    version = registry.do_register_version(model=model, user=owner, actor=system, metrics={"auc": 0.8})
    folder = Path(tempfile.mkdtemp())
    rows = ["sex,age_band,label,prediction"]
    for i in range(2000):
        group = "F" if i % 2 else "M"
        decision = 1 if (i % 10) < (4 if group == "F" else 5) else 0
        rows.append(f"{group},{'<40' if i % 3 else '>=40'},{decision if i % 7 else 1 - decision},{decision}")
    path = folder / "evaluation.csv"
    path.write_text("\n".join(rows) + "\n")
    dataset = data.do_register_dataset(
        user=owner, actor=system, name="loan-evaluation", team=Team.objects.get(slug="credit-risk")
    )
    dataset_version = data.do_register_dataset_version(
        dataset=dataset, user=owner, actor=system, file_path=path, file_name="evaluation.csv"
    )
    audits.ensure_builtin_policies()
    policy = Policy.objects.get(name="four-fifths").latest_version()
    for _ in range(runs):
        run, _ = audits.do_start_audit(
            user=owner,
            actor=system,
            model_version=version,
            dataset_version=dataset_version,
            policy_version=policy,
            column_roles={"label": "label", "prediction": "prediction", "protected": ["sex", "age_band"]},
            force=True,
        )
        run.refresh_from_db()
        assert run.status == RunStatus.DONE, run.error
    return officer, regulator, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    configure(None)
    from governance.exports.actions import do_create_export, open_bundle
    from governance.trail.log import Actor, tree_size

    officer, regulator, model = arrange(args.runs)
    print(f"arranged: {args.runs} audit runs; growing the trail by {args.events:,} events about the model ...")
    grow_seconds = grow_trail_about(model, args.events)
    print(f"trail: {tree_size():,} events ({grow_seconds:.0f} s to load)")

    from governance.exports import collect

    phases: list[dict[str, float]] = []
    build = collect.build_bundle

    def timed_build(*a: object, **k: object) -> collect.Built:
        built = build(*a, **k)  # type: ignore[arg-type]
        phases.append(built.timings)
        return built

    collect.build_bundle = timed_build  # type: ignore[assignment]
    import governance.exports.actions as export_actions

    export_actions.build_bundle = timed_build  # type: ignore[assignment]
    rows = []
    exports = []
    reports = args.runs + 1  # one per run, one for the version
    variants: list[tuple[str, list[Any]]] = [
        (f"cold, before ({reports} reports built, previous code)", [reports_built_anew(), previous_code_paths()]),
        (f"cold, after ({reports} reports built, empty chart cache)", [reports_built_anew()]),
        ("warm (reports reused)", []),
    ]
    for label, contexts in variants:
        with contextlib.ExitStack() as stack:
            for context in contexts:
                stack.enter_context(context)
            if label.startswith("cold, after"):
                clear_chart_cache()
            began = time.perf_counter()
            export = do_create_export(user=officer, actor=Actor.for_user(officer), model=model, recipient=regulator)
            rows.append((f"export, {label}", time.perf_counter() - began))
        export.refresh_from_db()  # the row as its build left it
        rows.extend((f"    {phase}", seconds) for phase, seconds in phases[-1].items())
        exports.append(export)
    bundle = Path(tempfile.mkdtemp()) / "bundle.zip"
    with open_bundle(exports[-1]) as source:
        bundle.write_bytes(source.read())
    verifier = bundle.parent / "verify.py"
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        verifier.write_bytes(archive.read("verify.py"))
    held = bundle.parent / "held.note"
    held.write_text(exports[-2].checkpoint.note)  # the previous export to the same recipient
    from governance.trail.keys import published_verifier_keys

    trusted = bundle.parent / "trusted-keys.txt"  # what the organisation publishes, obtained apart from the bundle
    trusted.write_text("".join(f"{key}\n" for key in published_verifier_keys()))
    began = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(verifier),
            str(bundle),
            "--trusted-keys",
            str(trusted),
            "--previous-checkpoint",
            str(held),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    rows.append(("verify.py on the bundle (separate process)", time.perf_counter() - began))
    print()
    print(f"{'what':58} {'seconds':>8}")
    for what, seconds in rows:
        print(f"{what:58} {seconds:8.2f}")
    print()
    print(
        f"bundle: {exports[-1].events:,} trail events with inclusion proofs, {exports[-1].size / 1e6:.1f} MB, "
        f"checkpoint size {exports[-1].checkpoint.tree_size:,}; verify.py exit {result.returncode}"
    )
    print(result.stdout.strip()[:300] or result.stderr.strip()[:600])
    before, after = rows[0][1], next(seconds for what, seconds in rows if what.startswith("export, cold, after"))
    print(f"cold export after / before: {after / before:.2f} ({before:.1f} s -> {after:.1f} s; target under 30 s)")


if __name__ == "__main__":
    main()
