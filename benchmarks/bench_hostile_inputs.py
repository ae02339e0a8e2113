"""Peak memory of refusing the hostile files of issue 17: python benchmarks/bench_hostile_inputs.py [--ceiling-mib N].

Prints figures only. Each file is read by the code an upload runs (``inspect_artifact``, ``inspect_file``, the consent
header check) in a child process whose address space may grow by at most ``--ceiling-mib`` (default 4096) past its
imports; the child's peak resident memory is printed beside that of the same child doing nothing after the same
imports, and the ratio of the two. Run it at an older commit (with tests/hostile.py copied in) to see the
unbounded figures: there the bombs hit the ceiling (MemoryError, or a C++ abort) or are accepted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install needed

from tests.hostile import GiB, MiB, onnx_constant_bomb, run_under_ceiling, skops_bomb, wide_csv

ARTIFACT_IMPORTS = "import numpy, onnx, onnxruntime, sklearn, skops.io\nfrom registry import artifacts"
DATA_IMPORTS = "import pyarrow, pyarrow.csv, pyarrow.compute, pyarrow.parquet\nfrom governance.data import ingest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ceiling-mib", type=int, default=4096)
    ceiling = parser.parse_args().ceiling_mib * MiB
    folder = Path(tempfile.mkdtemp(prefix="assay-hostile-"))
    files = {
        "bomb.skops": skops_bomb(2 * GiB),
        "bomb.onnx": onnx_constant_bomb(1 << 28),
        "wide100k.csv": wide_csv(100_000),
        "wide1m.csv": wide_csv(1_000_000),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    cases = [
        (
            "bomb.skops",
            ARTIFACT_IMPORTS,
            "artifacts.inspect_artifact({p!r}, filename='bomb.skops', max_bytes=1 << 30)",
            False,
        ),
        (
            "bomb.onnx",
            ARTIFACT_IMPORTS,
            "artifacts.inspect_artifact({p!r}, filename='bomb.onnx', max_bytes=1 << 30)",
            False,
        ),
        ("wide100k.csv", DATA_IMPORTS, "ingest.inspect_file(__import__('pathlib').Path({p!r}), fmt='csv')", False),
        ("wide1m.csv", DATA_IMPORTS, "ingest.inspect_file(__import__('pathlib').Path({p!r}), fmt='csv')", False),
        (
            "wide1m.csv (consent header)",
            "from governance.data import consent_import",
            "consent_import._read_header(__import__('pathlib').Path({p!r}))",
            True,
        ),
    ]
    print(f"{'file':30} {'size':>10} {'outcome':>14} {'peak MiB':>9} {'idle MiB':>9} {'ratio':>6}")
    for label, imports, call, django in cases:
        path = folder / label.split()[0]
        idle = run_under_ceiling("result = {}", imports=imports, ceiling=ceiling, django=django)
        child = run_under_ceiling(
            call.format(p=str(path)) + "\nresult = {'outcome': 'accepted'}",
            imports=imports,
            ceiling=ceiling,
            django=django,
            cpu_seconds=120,
        )
        outcome = child.result.get("outcome", "?")
        peak, base = child.peak_rss_bytes / MiB, idle.peak_rss_bytes / MiB
        ratio = f"{peak / base:.2f}" if peak and base else "-"
        print(f"{label:30} {path.stat().st_size:>10,} {outcome:>14} {peak:>9.0f} {base:>9.0f} {ratio:>6}")


if __name__ == "__main__":
    main()
