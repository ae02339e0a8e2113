"""Tests for registry/artifacts.py: pickles (of every protocol, compressed, zipped, misnamed) and other files that
are not a model are refused without being run, and the message tells the uploader what to do. Plain pytest; no
database.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

from registry.artifacts import ArtifactError, bounds, sniff
from tests.registry.artifact_helpers import refuse, write

REPO = Path(__file__).resolve().parents[2]


class Booby:
    """Unpickling this creates ``marker``: the proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def forbid_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the artifact modules that open files (``sniff``, ``bounds``) open one."""

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was opened")

    for module in (sniff, bounds):
        monkeypatch.setattr(module, "open", no_reading, raising=False)


def assert_explains_pickle(error: ArtifactError) -> None:
    message = str(error)
    assert error.code == "pickle_refused"
    assert "runs whatever code" in message  # why
    assert "skl2onnx.to_onnx(model, X[:1]" in message  # how, with either tool
    assert "skops.io.dump(model, 'model.skops')" in message


# ---------------------------------------------------------------------------------------------
# Pickles and other refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(6))
def test_pickles_of_every_protocol_are_refused(tmp_path: Path, scaled_logreg: Pipeline, protocol: int) -> None:
    path = write(tmp_path, "model.bin", pickle.dumps(scaled_logreg, protocol=protocol))

    error = refuse(path)

    assert_explains_pickle(error)
    assert error.message.startswith("model.bin is a pickle (protocol")


@pytest.mark.parametrize(
    ("compress", "container"),
    [
        (zlib.compress, "zlib"),
        (gzip.compress, "gzip"),
        (bz2.compress, "bz2"),
        (lambda data: lzma.compress(data, format=lzma.FORMAT_XZ), "xz"),
        (lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE), "lzma"),
    ],
    ids=["zlib", "gzip", "bz2", "xz", "lzma"],
)
def test_compressed_pickles_as_joblib_writes_them_are_refused(
    tmp_path: Path, scaled_logreg: Pipeline, compress: Any, container: str
) -> None:
    path = write(tmp_path, "model.z", compress(pickle.dumps(scaled_logreg, protocol=4)))

    error = refuse(path)

    assert_explains_pickle(error)
    assert f"a {container}-compressed pickle, as joblib writes" in str(error)


def test_joblib_files_are_refused(tmp_path: Path, scaled_logreg: Pipeline) -> None:
    joblib = pytest.importorskip("joblib")
    for compress in (0, 3, ("lzma", 3)):
        path = tmp_path / f"model-{compress}"
        joblib.dump(scaled_logreg, path, compress=compress)
        assert_explains_pickle(refuse(path, filename="model"))


def test_pickle_named_onnx_is_refused_as_a_pickle(tmp_path: Path, scaled_logreg: Pipeline) -> None:
    error = refuse(write(tmp_path, "model.onnx", pickle.dumps(scaled_logreg)))

    assert_explains_pickle(error)
    assert error.message.startswith("model.onnx is not an ONNX model: it is a pickle (protocol")


@pytest.mark.parametrize("filename", ["model.pkl", "model.pickle", "MODEL.JOBLIB", "model.joblib.gz"])
def test_pickle_names_are_refused_without_reading_the_file(
    tmp_path: Path, onnx_bytes: bytes, monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    path = write(tmp_path, "upload", onnx_bytes)
    forbid_opening(monkeypatch)

    assert_explains_pickle(refuse(path, filename=filename))


@pytest.mark.parametrize("member", ["archive/data.pkl", "archive/data"])
def test_zip_carrying_a_pickle_is_refused(tmp_path: Path, scaled_logreg: Pipeline, member: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # the layout of a PyTorch .pt file
        archive.writestr("archive/version", "3\n")
        archive.writestr(member, pickle.dumps(scaled_logreg, protocol=2))
    error = refuse(write(tmp_path, "model.pt", buffer.getvalue()))

    assert_explains_pickle(error)
    assert f"a ZIP archive containing a pickle ({member})" in str(error)


def test_zip_that_is_not_skops_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
    error = refuse(write(tmp_path, "model.keras", buffer.getvalue()))

    assert error.code == "unknown_format"
    assert "not a skops file (it has no schema.json)" in str(error)
    assert "Assay accepts ONNX models (.onnx) and skops files (.skops)" in str(error)


@pytest.mark.parametrize("protocol", range(6))
def test_refusing_a_pickle_never_runs_it(tmp_path: Path, protocol: int) -> None:
    # The payload is live: loading it does create its marker...
    live = tmp_path / "live-marker"
    pickle.loads(pickle.dumps(Booby(live), protocol=protocol))  # noqa: S301 - our own payload, to prove it works
    assert live.exists()

    # ...and refusing it, under any name, creates nothing.
    marker = tmp_path / "marker"
    payload = pickle.dumps(Booby(marker), protocol=protocol)
    for name in ("model.onnx", "model.skops", "model.bin", "model.pkl"):
        error = refuse(write(tmp_path, name, payload))
        assert error.code == "pickle_refused", name
        compressed = refuse(write(tmp_path, name + ".gz", gzip.compress(payload)), filename="upload.gz")
        assert compressed.code == "pickle_refused", name
    assert not marker.exists()


def test_empty_file_is_refused(tmp_path: Path) -> None:
    error = refuse(write(tmp_path, "model.onnx", b""))

    assert error.code == "empty"
    assert "Export the model again" in str(error)


def test_oversized_file_is_refused_without_being_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.onnx"
    with path.open("wb") as f:
        f.truncate(2 * 1024**3)  # sparse: takes no disk space

    forbid_opening(monkeypatch)
    error = refuse(path, max_bytes=1024)

    assert error.code == "too_large"
    assert error.details == {"size": 2 * 1024**3, "max_bytes": 1024}
    assert "above Assay's limit of 1,024 bytes" in str(error)


def test_text_file_is_an_unknown_format(tmp_path: Path) -> None:
    error = refuse(write(tmp_path, "weights.csv", b"age,income,approved\n34,52000,1\n0.5,1\n"))

    assert error.code == "unknown_format"
    assert error.message.startswith("weights.csv is a text file. Assay accepts ONNX models (.onnx) and skops files")
    assert "skops.io.dump" in error.message


def test_text_file_named_onnx_is_not_onnx(tmp_path: Path) -> None:
    error = refuse(write(tmp_path, "model.onnx", b"graph { node: 'MatMul' }\n"))

    assert error.code == "not_onnx"
    assert error.message.startswith("model.onnx is not an ONNX model: it is a text file.")


def test_compressed_file_that_is_not_a_pickle_asks_for_the_model_itself(tmp_path: Path, onnx_bytes: bytes) -> None:
    error = refuse(write(tmp_path, "model.onnx.gz", gzip.compress(onnx_bytes)))

    assert error.code == "unknown_format"
    assert "gzip-compressed file" in str(error)
    assert "Upload the uncompressed .onnx or .skops file itself" in str(error)


def test_importing_the_module_imports_no_heavy_library() -> None:
    heavy = ("onnx", "onnxruntime", "skops", "sklearn")  # not numpy: the web process loads it at start-up anyway
    code = f"import sys, registry.artifacts; print(sorted(m for m in {heavy!r} if m in sys.modules))"

    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
