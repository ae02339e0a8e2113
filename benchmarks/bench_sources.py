"""An audit of a Parquet evaluation set where it lies (DuckDB counts the cells) beside today's in-memory path and
pandas, as the rows grow.

    python benchmarks/bench_sources.py                         # 1M and 10M rows
    python benchmarks/bench_sources.py --rows 1000000 10000000 100000000 --in-memory-max 10000000
    python benchmarks/bench_sources.py --rows 1000000 10000000 --spark --in-memory-max 0   # DuckDB and PySpark

The benchmark writes its own evaluation set (seeded: a binary label and decision, sex, a race column with some
empty values, an age category), in Parquet files of at most 10M rows, row groups of 1M, under ``--folder`` (default
a temporary folder; removed unless ``--keep``). For each size, each path runs in a child process of its own, which
reports its time from a baseline taken after its imports, and its peak resident memory (``ru_maxrss``):

- ``duckdb``: what an audit of a source does: the immutability evidence computed again (every file hashed), the
  cells counted by DuckDB (``audits.statistics``, 1 thread, memory_limit 512MB) and the ``four-fifths`` policy
  evaluated on them through the engine (no database);
- ``in-memory``: what an audit of an uploaded file does: the Parquet read whole (``read_table``),
  ``build_evaluation`` and the same policy;
- ``pandas``: ``pandas.read_parquet`` and a ``groupby`` of the same counts (what an analyst would write);
- ``spark`` (with ``--spark``): what an audit of a ``spark://`` source does, in PySpark local mode (``local[1]``,
  one core like DuckDB's one thread; driver memory 1 GB): the same files as an external Spark table (``CREATE TABLE
  ... USING parquet LOCATION``, nothing copied; an embedded Derby metastore under the folder), its content digest
  computed by Spark (the "hashing" column), the cells counted by ``SparkEngine`` and the same policy. The JVM's
  start-up is timed apart (``start-up s``, not in ``seconds``), and the peak memory is the Python process's plus the
  JVM's (``VmHWM``).

Each child's counts are compared with the DuckDB child's (the table says whether they are equal). A path above
``--in-memory-max`` rows is not run, and the table says so (with 23 GB shared by several people it would be the
machine's memory, not the method, that was measured). It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROLES = {"label": "label", "prediction": "decision", "protected": ["sex", "race", "age_cat"]}
FILE_ROWS = 10_000_000
GROUP_ROWS = 1_000_000


def write_set(folder: Path, rows: int, seed: int = 21) -> Path:
    """``rows`` seeded rows as Parquet files of at most FILE_ROWS rows under ``folder / str(rows)``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folder / str(rows)
    if target.exists():
        return target
    target.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    races = np.array(["Black", "White", "Hispanic", "Asian", ""], dtype=object)
    sexes = np.array(["F", "M"], dtype=object)
    ages = np.array(["<25", "25-45", ">45"], dtype=object)
    written = 0
    while written < rows:
        in_file = min(FILE_ROWS, rows - written)
        path = target / f"part-{written // FILE_ROWS:05d}.parquet"
        with pq.ParquetWriter(path, _schema(pa)) as writer:
            done = 0
            while done < in_file:
                n = min(GROUP_ROWS, in_file - done)
                sex = rng.integers(0, 2, n)
                race = rng.choice(5, n, p=[0.3, 0.45, 0.15, 0.08, 0.02])
                label = (rng.random(n) < 0.55 + 0.05 * sex).astype(np.int64)
                decision = np.where(rng.random(n) < 0.8, label, 1 - label).astype(np.int64)
                race_text = pa.array(races[race].tolist(), pa.string())
                race_text = pa.compute.if_else(pa.compute.equal(race_text, ""), pa.scalar(None, pa.string()), race_text)
                batch = pa.table(
                    {
                        "label": label,
                        "decision": decision,
                        "sex": pa.array(sexes[sex].tolist(), pa.string()),
                        "race": race_text,
                        "age_cat": pa.array(ages[rng.integers(0, 3, n)].tolist(), pa.string()),
                        "score": rng.random(n),
                    }
                )
                writer.write_table(batch, row_group_size=GROUP_ROWS)
                done += n
        written += in_file
    return target


def _schema(pa: Any) -> Any:
    return pa.schema(
        [
            ("label", pa.int64()),
            ("decision", pa.int64()),
            ("sex", pa.string()),
            ("race", pa.string()),
            ("age_cat", pa.string()),
            ("score", pa.float64()),
        ]
    )


def _counts(groupings: list[Any]) -> dict[str, Any]:
    return {
        g.name: {"names": list(g.names), "tp": g.counts.tp.tolist(), "fn": g.counts.fn.tolist(),
                 "fp": g.counts.fp.tolist(), "tn": g.counts.tn.tolist(), "unknown": g.unknown}
        for g in groupings
    }  # fmt: skip


def _policy() -> dict[str, Any]:
    from audits.policies import builtin_policies, load_policy

    return load_policy(builtin_policies()["four-fifths"]).document


def _child(path_name: str, folder: str, out: Any) -> None:
    """One measured path, in its own process: time after imports, peak memory, the verdict and the counts."""
    import numpy  # noqa: F401
    import pyarrow.parquet

    from audits.checks.groups import groupings
    from audits.engine import evaluate
    from audits.evaluation import ColumnRoles, build_evaluation

    roles = ColumnRoles.from_json(ROLES)
    document = _policy()
    if path_name == "duckdb":
        import duckdb  # noqa: F401

        from audits.statistics.engines import DuckDBEngine
        from audits.statistics.evaluation import counted_evaluation
        from governance.data.sources import evidence_of, parse_source
    elif path_name == "pandas":
        import pandas as pd
    elif path_name == "spark":
        from audits.statistics.engines import COUNT, _plain_types
        from audits.statistics.evaluation import counted_evaluation
        from audits.statistics.spark_engine import SparkEngine
        from governance.data.sources import spark

        booted = time.perf_counter()
        home = Path(folder).parent / "spark"
        entry = (
            f"bench=local[1]?warehouse={home / 'warehouse'}&metastore_db={home / 'metastore_db'}&shuffle_partitions=1"
        )
        session = spark.session(spark.parse_spark_connections([entry])["bench"])
        table = f"bench.rows_{Path(folder).name}"
        session.sql("CREATE DATABASE IF NOT EXISTS bench")
        session.sql(f"CREATE TABLE IF NOT EXISTS {table} USING parquet LOCATION '{folder}'")
        started = time.perf_counter() - booted
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    verdict, counts, extra = "", {}, {}
    if path_name == "spark":
        source = spark.parse_spark_source(f"spark://bench/{table}", entries=[entry])
        spark.spark_evidence(source)  # the content digest, computed by Spark
        hashed = time.perf_counter() - start
        evaluation = counted_evaluation(SparkEngine(source, count=COUNT, finish=_plain_types), roles)
        verdict = evaluate(evaluation, document).verdict
        counts = _counts(groupings(evaluation, intersections=False))
        jvm = session.sparkContext._gateway.proc.pid
        status = Path(f"/proc/{jvm}/status").read_text()
        extra = {"start_seconds": started, "jvm_peak_kb": int(status.split("VmHWM:")[1].split()[0])}
    elif path_name == "duckdb":
        source = parse_source(f"parquet://{folder}", roots=[folder], connections={})
        evidence_of(source)  # what every audit of a source does first
        hashed = time.perf_counter() - start
        evaluation = counted_evaluation(DuckDBEngine(source), roles)
        verdict = evaluate(evaluation, document).verdict
        counts = _counts(groupings(evaluation, intersections=False))
    elif path_name == "in-memory":
        import pyarrow as pa
        import pyarrow.parquet as pq

        hashed = 0.0
        table = pa.concat_tables(pq.read_table(p) for p in sorted(Path(folder).glob("*.parquet")))
        evaluation = build_evaluation(table, roles)
        del table
        verdict = evaluate(evaluation, document).verdict
        counts = _counts(groupings(evaluation, intersections=False))
    else:
        hashed = 0.0
        frame = pd.read_parquet(folder, columns=["label", "decision", "sex", "race", "age_cat"])
        counts = {}
        for column in ("sex", "race", "age_cat"):
            cells = frame.groupby([column, "label", "decision"], dropna=True).size()
            counts[column] = {str(k): int(v) for k, v in cells.items()}
        verdict = "(counts only)"
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put({"seconds": elapsed, "hash_seconds": hashed, "peak_kb": peak + extra.get("jvm_peak_kb", 0),
             "baseline_kb": baseline, "verdict": verdict, "counts": counts, **extra})  # fmt: skip


def measure(path_name: str, folder: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(path_name, str(folder), queue))
    process.start()
    try:
        found = queue.get()
    except Exception as exc:  # the child died (out of memory, say): the queue never fills
        found = {"error": str(exc)}
    process.join()
    if process.exitcode:
        found = {"error": f"exit code {process.exitcode}"}
    return found


def _pandas_as_kernel(counts: dict[str, Any]) -> dict[str, Any]:
    """The DuckDB child's counts keyed as the pandas child keys them, to compare the two."""
    keyed: dict[str, Any] = {}
    for name, grouping in counts.items():
        cells = {}
        for i, group in enumerate(grouping["names"]):
            value = group.split("=", 1)[1]
            for cell, (label, decision) in (("tp", (1, 1)), ("fn", (1, 0)), ("fp", (0, 1)), ("tn", (0, 0))):
                if grouping[cell][i]:
                    cells[str((value, label, decision))] = grouping[cell][i]
        keyed[name] = cells
    return keyed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--in-memory-max", type=int, default=10_000_000, help="largest set for in-memory and pandas")
    parser.add_argument("--folder", type=Path, help="where the sets are written (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated sets")
    parser.add_argument("--spark", action="store_true", help="also audit each set through PySpark local mode")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="assay-bench-sources-"))
    print(f"sets under {folder}")
    lines = [
        "| rows | path | seconds | s per 1M rows | hashing s | peak MB | above baseline MB | verdict | counts "
        "| start-up s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    try:
        for rows in args.rows:
            start = time.perf_counter()
            target = write_set(folder, rows)
            size = sum(p.stat().st_size for p in target.glob("*.parquet"))
            print(f"{rows:,} rows: written in {time.perf_counter() - start:.1f} s, {size / 1e6:,.0f} MB of Parquet")
            reference: dict[str, Any] = {}
            paths = ("duckdb", "in-memory", "pandas", *(("spark",) if args.spark else ()))
            for path_name in paths:
                if path_name in ("in-memory", "pandas") and rows > args.in_memory_max:
                    lines.append(f"| {rows:,} | {path_name} | not run | | | | | | above --in-memory-max |")
                    continue
                found = measure(path_name, target)
                if "error" in found:
                    lines.append(f"| {rows:,} | {path_name} | failed | | | | | | {found['error']} |")
                    continue
                if path_name == "duckdb":
                    reference = found["counts"]
                    same = "reference"
                elif path_name == "pandas":
                    same = "equal" if found["counts"] == _pandas_as_kernel(reference) else "DIFFERENT"
                else:
                    same = "equal" if found["counts"] == reference else "DIFFERENT"
                per = found["seconds"] / rows * 1e6
                peak, above = found["peak_kb"] / 1024, (found["peak_kb"] - found["baseline_kb"]) / 1024
                lines.append(
                    f"| {rows:,} | {path_name} | {found['seconds']:.2f} | {per:.3f} | {found['hash_seconds']:.2f} | "
                    f"{peak:,.0f} | {above:,.0f} | {found['verdict']} | {same} | {found.get('start_seconds', 0):.1f} |"
                )
                print(lines[-1], flush=True)
    finally:
        if not args.keep and args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print("\n".join(lines))
    print(json.dumps({"rows": args.rows}))


if __name__ == "__main__":
    main()
