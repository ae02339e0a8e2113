"""Data governance at scale: dataset upload (hash, profile, subject index), withdrawal impact, consent coverage.

    python benchmarks/bench_data.py                      # SQLite in a temporary file, a 1,000,000-row dataset
    python benchmarks/bench_data.py --rows 200000
    python benchmarks/bench_data.py --upload-only          # the registration figures only (issue 20's row)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/bench_data.py

Claims measured, side by side in one run (the machine is shared and noisy; compare ratios, not seconds):

- upload: streaming sha256 alone (the floor) against parsing and profiling, and the whole registration
  (hash + profile + content-addressed store + subject index + trail event);
- a withdrawal's impact is an index lookup: the time to record a withdrawal (and open its findings) for a subject
  in a large dataset against the same in a 1,000-row dataset: the ratio should stay near 1;
- coverage of a large dataset against a purpose, after a bulk import of consents for half its subjects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trail import configure

SCRATCH_DB = "assay_bench_data"  # PostgreSQL: created and dropped here (bench_trail.py uses assay_bench)


def write_dataset(path: Path, rows: int, *, prefix: str = "S", seed: int = 7) -> None:
    """A credit-like table: subject id, numeric and categorical features, a binary label."""
    rng = random.Random(seed)
    purposes = ("car", "furniture", "education", "business", "repairs")
    with path.open("w") as out:
        out.write("subject_id,age,income,amount,duration,purpose,housing,label\n")
        for i in range(rows):
            out.write(
                f"{prefix}{i:08d},{rng.randint(18, 80)},{rng.lognormvariate(10, 0.6):.2f},"
                f"{rng.randint(250, 20000)},{rng.choice((6, 12, 24, 36, 48))},{rng.choice(purposes)},"
                f"{rng.choice(('own', 'rent', 'free'))},{int(rng.random() < 0.3)}\n"
            )


def timed(label: str, action):
    began = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - began
    print(f"  {label:<58} {elapsed:8.2f} s")
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--upload-only", action="store_true", help="stop after the upload figures")
    args = parser.parse_args()
    admin_url = configure(os.environ.get("DATABASE_URL"), SCRATCH_DB)

    from django.db import connection

    from governance.access.actions import do_create_user
    from governance.data import actions
    from governance.data.consent import coverage
    from governance.data.consent_import import do_import_consent_csv
    from governance.data.ingest import hash_file, inspect_file
    from governance.trail.log import Actor
    from registry import actions as registry

    print(f"database: {connection.vendor}; dataset rows: {args.rows:,}")
    owner = do_create_user(username="owner", role="owner", teams=["bench"], actor=Actor.system())
    officer = do_create_user(username="officer", role="officer", teams=[], actor=Actor.system())
    team = owner.teams.get()
    actor = Actor.system()
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-data-"))
    big, small = folder / "big.csv", folder / "small.csv"
    write_dataset(big, args.rows)
    write_dataset(small, 1_000, prefix="T")
    size = big.stat().st_size
    print(f"file: {size / 1e6:.1f} MB")

    print("upload")
    _, t_hash = timed("sha256 of the file, streamed (the floor)", lambda: hash_file(big))
    _, t_inspect = timed(
        "parse + schema + profile + subject ids (inspect_file)",
        lambda: inspect_file(big, fmt="csv", subject_id_column="subject_id", label_column="label"),
    )
    datasets = {}
    for name in ("big", "small"):
        datasets[name] = actions.do_register_dataset(user=owner, actor=actor, name=f"bench-{name}", team=team)
    version, t_register = timed(
        "whole registration (hash, profile, store, subject index, event)",
        lambda: actions.do_register_dataset_version(
            dataset=datasets["big"],
            user=owner,
            actor=actor,
            file_path=big,
            file_name="big.csv",
            subject_id_column="subject_id",
            label_column="label",
        ),
    )
    small_version = actions.do_register_dataset_version(
        dataset=datasets["small"], user=owner, actor=actor, file_path=small, subject_id_column="subject_id"
    )
    print(
        f"  ratios: profile/hash {t_inspect / t_hash:.1f}x, registration/hash {t_register / t_hash:.1f}x; "
        f"{args.rows / t_register:,.0f} rows/s registered"
    )

    if args.upload_only:
        drop_scratch(admin_url)
        return

    # One model version downstream of each dataset, through a training link.
    answers = {
        "prohibited_practice": "none",
        "annex_iii_area": "none",
        "profiles_natural_persons": False,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    }
    for name, dataset_version in (("big", version), ("small", small_version)):
        model = registry.do_register_model(
            user=owner, actor=actor, name=f"model-{name}", team=team, purpose="bench", risk_answers=answers
        )
        registry.do_register_version(
            model=model,
            user=owner,
            actor=actor,
            training_datasets=[{"dataset": dataset_version.dataset.name, "version": dataset_version.number}],
        )

    print("consent")
    purpose = actions.do_create_purpose(
        user=officer, actor=actor, code="model_training", description="bench", legal_basis="consent"
    )
    consents = folder / "consents.csv"
    with consents.open("w") as out:
        out.write("external_id,purpose,kind,occurred_at\n")
        for i in range(0, args.rows, 2):
            out.write(f"S{i:08d},model_training,given,2026-01-01T00:00:00Z\n")
        for i in range(1_000):
            out.write(f"T{i:08d},model_training,given,2026-01-01T00:00:00Z\n")
    _, t_import = timed(
        f"bulk import of {args.rows // 2:,} consents",
        lambda: do_import_consent_csv(user=officer, actor=actor, path=consents, file_name="consents.csv"),
    )
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    counts, t_coverage = timed(
        "coverage of the big dataset (counts at an instant)", lambda: coverage(version, purpose, at)
    )
    print(f"  -> {counts['consenting']:,} consenting, {counts['never_asked']:,} never asked")

    def withdraw(external_id: str) -> None:
        actions.do_record_consent(
            user=officer, actor=actor, purpose=purpose, kind="withdrawn", occurred_at=at, external_id=external_id
        )

    print("withdrawal impact (index lookup + lineage + a finding), alternating datasets, 10 each")
    in_big, in_small = [], []
    for i in range(10):
        in_big.append(timed(f"subject in the {args.rows:,}-row dataset", lambda i=i: withdraw(f"S{2 * i:08d}"))[1])
        in_small.append(timed("subject in the 1,000-row dataset", lambda i=i: withdraw(f"T{i:08d}"))[1])
    big_median, small_median = sorted(in_big)[5], sorted(in_small)[5]
    print(
        f"  median {big_median * 1000:.1f} ms vs {small_median * 1000:.1f} ms: ratio {big_median / small_median:.2f}x "
        f"for a dataset {args.rows // 1000:,}x larger"
    )
    print(f"  import: {args.rows // 2 / t_import:,.0f} consents/s; coverage: {args.rows / t_coverage:,.0f} subjects/s")

    drop_scratch(admin_url)


def drop_scratch(admin_url: str | None) -> None:
    """Drop the PostgreSQL scratch database (nothing on SQLite: its file is in a temporary folder)."""
    if admin_url:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")


if __name__ == "__main__":
    main()
