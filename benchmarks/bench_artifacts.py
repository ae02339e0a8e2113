"""Benchmarks for registry/artifacts.py: python benchmarks/bench_artifacts.py [--trees N].

Prints figures only (no assertions on time: they depend on the machine). Measures, in one run:

* ``inspect_artifact`` on a random forest saved with skops, against a bare ``skops.io.load`` of the
  same file (the ratio is the cost of the allow-list audit, the fitted-state checks and hashing);
* ``inspect_artifact`` on the same forest converted to ONNX, against a bare onnxruntime session;
* refusing a large gzip-compressed pickle, against hashing the same file (refusal reads only the
  start of the file, so it should cost a small fraction of a full read).
"""

from __future__ import annotations

import argparse
import gzip
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install needed

import numpy as np
import onnxruntime
import skops.io
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from registry.artifacts import ArtifactError, inspect_artifact
from registry.artifacts.sniff import _sha256_file  # hashes as an upload is hashed

MAX_BYTES = 2 * 1024**3


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """Median wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def refuse(path: Path) -> None:
    try:
        inspect_artifact(path, filename="model.bin", max_bytes=MAX_BYTES)
    except ArtifactError:
        return
    raise AssertionError("the pickle was accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    X, y = load_breast_cancer(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=args.trees, random_state=0).fit(X, y)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        skops_path = directory / "forest.skops"
        skops.io.dump(forest, skops_path)
        trusted = skops.io.get_untrusted_types(file=skops_path)
        bare = best_of(args.repeats, lambda: skops.io.load(skops_path, trusted=trusted))
        full = best_of(args.repeats, lambda: inspect_artifact(skops_path, filename="f.skops", max_bytes=MAX_BYTES))
        size = os.path.getsize(skops_path)
        print(f"skops forest ({args.trees} trees, {size / 1e6:.1f} MB)")
        print(f"  skops.io.load        {bare * 1e3:8.1f} ms")
        print(f"  inspect_artifact     {full * 1e3:8.1f} ms   ratio {full / bare:.2f}x")

        onnx_path = directory / "forest.onnx"
        onnx_path.write_bytes(to_onnx(forest, X[:1].astype(np.float32)).SerializeToString())
        session = best_of(
            args.repeats,
            lambda: onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]),
        )
        full = best_of(args.repeats, lambda: inspect_artifact(onnx_path, filename="f.onnx", max_bytes=MAX_BYTES))
        print(f"ONNX forest ({os.path.getsize(onnx_path) / 1e6:.1f} MB)")
        print(f"  InferenceSession     {session * 1e3:8.1f} ms")
        print(f"  inspect_artifact     {full * 1e3:8.1f} ms   ratio {full / session:.2f}x")

        pickle_path = directory / "model.bin"
        # A model plus its training data, as people often save them: tens of megabytes.
        payload = pickle.dumps({"model": forest, "X": np.random.default_rng(0).random(5_000_000)}, protocol=5)
        pickle_path.write_bytes(gzip.compress(payload, compresslevel=1))
        hashing = best_of(args.repeats, lambda: _sha256_file(str(pickle_path)))
        refusal = best_of(args.repeats, lambda: refuse(pickle_path))
        print(f"gzip-compressed pickle ({os.path.getsize(pickle_path) / 1e6:.1f} MB)")
        print(f"  sha256 of the file   {hashing * 1e3:8.1f} ms")
        print(f"  refusal              {refusal * 1e3:8.1f} ms   ratio {refusal / hashing:.3f}x")


if __name__ == "__main__":
    main()
