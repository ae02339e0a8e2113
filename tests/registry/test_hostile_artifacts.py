"""Hostile model artifacts are refused before they cost memory (issue 17, "Resource exhaustion by one upload").

A 2 MB skops file whose schema.json inflates to 2 GiB, and a 131-byte ONNX graph that asks onnxruntime for a
1 GiB constant, are each loaded in a child process whose address space may grow by at most 256 MiB: the
unbounded code needs GiBs there (it failed with MemoryError, or onnxruntime quietly built the constant and the
model was accepted). Through the API the same files answer 413 naming the limit and its setting, with nothing
written and no temporary file left behind. Every limit is a setting; the tests of each one give it a small value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from onnx import TensorProto, helper

from registry.artifacts import ArtifactError, ArtifactLimits, inspect_artifact, load_predictor
from registry.models import ModelVersion, RegisteredModel
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.hostile import GiB, MiB, memory_ceiling, onnx_constant_bomb, run_under_ceiling, skops_bomb, zip_bytes
from tests.storage_files import stored_names

CEILING = 256 * MiB  # far below the 1-4.5 GiB the unbounded code used on these files
IMPORTS = "import numpy, onnx, onnxruntime, sklearn, skops.io\nfrom registry import artifacts"
MAX_BYTES = 200 * MiB


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "bomb.skops": skops_bomb(2 * GiB),
        # The headers say 1 KiB; the member inflates to 2 GiB.
        "liar.skops": zip_bytes([("schema.json", 2 * GiB, 1024)]),
        "bomb.onnx": onnx_constant_bomb(1 << 28),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


def load_in_child(call: str) -> dict[str, Any]:
    """Run ``call`` (an expression using ``artifacts``) under the memory ceiling; its outcome and the error's code."""
    child = run_under_ceiling(f"{call}\nresult = {{'outcome': 'accepted'}}", imports=IMPORTS, ceiling=CEILING)
    assert child.result.get("outcome") != "no result", child.stderr
    return child.result


def test_a_skops_file_that_unpacks_to_2_gib_is_refused_within_the_ceiling(hostile_files: dict[str, Path]) -> None:
    path = hostile_files["bomb.skops"]
    assert path.stat().st_size < 3 * MiB

    outcome = load_in_child(f"artifacts.inspect_artifact({str(path)!r}, filename='bomb.skops', max_bytes={MAX_BYTES})")

    assert (outcome["outcome"], outcome["code"]) == ("ArtifactError", "too_large"), outcome
    assert "2,147,483,648 bytes" in outcome["message"]
    assert "ARTIFACT_MAX_MEMBER_BYTES" in outcome["message"]


def test_loading_a_stored_skops_bomb_to_score_is_refused_within_the_ceiling(hostile_files: dict[str, Path]) -> None:
    # A file altered in storage after its upload reaches load_predictor without inspect_artifact's checks.
    outcome = load_in_child(f"artifacts.load_predictor({str(hostile_files['bomb.skops'])!r}, framework='skops')")

    assert (outcome["outcome"], outcome["code"]) == ("ArtifactError", "too_large"), outcome


def test_a_member_whose_header_lies_about_its_size_is_read_no_further_than_declared(
    hostile_files: dict[str, Path],
) -> None:
    for call in (
        f"artifacts.inspect_artifact({str(hostile_files['liar.skops'])!r}, filename='m.skops', max_bytes={MAX_BYTES})",
        f"artifacts.load_predictor({str(hostile_files['liar.skops'])!r}, framework='skops')",
    ):
        outcome = load_in_child(call)

        # Read up to the 1 KiB declared, then refused: its CRC cannot match what the header says.
        assert (outcome["outcome"], outcome["code"]) == ("ArtifactError", "corrupt"), outcome


def test_an_onnx_graph_that_builds_a_1_gib_constant_is_refused_before_a_session_exists(
    hostile_files: dict[str, Path],
) -> None:
    path = hostile_files["bomb.onnx"]
    assert path.stat().st_size < 200

    outcome = load_in_child(f"artifacts.inspect_artifact({str(path)!r}, filename='bomb.onnx', max_bytes={MAX_BYTES})")

    # Unbounded, onnxruntime folded the constant (1 GiB); under this ceiling it skipped folding and said nothing.
    assert (outcome["outcome"], outcome["code"]) == ("ArtifactError", "too_large"), outcome
    assert "1,073,741,824 bytes" in outcome["message"]
    assert "ONNX_MAX_TENSOR_BYTES" in outcome["message"]
    scored = load_in_child(f"artifacts.load_predictor({str(path)!r}, framework='onnx')")
    assert (scored["outcome"], scored["code"]) == ("ArtifactError", "too_large"), scored


# --- each limit, given a small value ---------------------------------------------------------------------------


def refuse(path: Path, limits: ArtifactLimits) -> ArtifactError:
    with pytest.raises(ArtifactError) as caught:
        inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES, limits=limits)
    return caught.value


@pytest.mark.parametrize(
    ("members", "limits", "setting"),
    [
        (
            [("schema.json", b"{}"), ("a.npy", 2 * MiB)],
            ArtifactLimits(max_member_bytes=MiB),
            "ARTIFACT_MAX_MEMBER_BYTES",
        ),
        (
            [("schema.json", b"{}"), ("a.npy", MiB), ("b.npy", MiB), ("c.npy", MiB)],
            ArtifactLimits(max_unpacked_bytes=2 * MiB),
            "ARTIFACT_MAX_UNPACKED_BYTES",
        ),
        (
            [("schema.json", b"{}")] + [(f"{i}.npy", b"") for i in range(20)],
            ArtifactLimits(max_members=10),
            "ARTIFACT_MAX_MEMBERS",
        ),
        ([("schema.json", b"{" + b" " * 4096 + b"}")], ArtifactLimits(max_schema_bytes=4096), "SKOPS_MAX_SCHEMA_BYTES"),
    ],
    ids=["member", "total", "count", "schema"],
)
def test_each_archive_limit_refuses_naming_its_setting(
    tmp_path: Path, members: list[tuple[str, Any]], limits: ArtifactLimits, setting: str
) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(zip_bytes([(name, content, None) for name, content in members]))

    error = refuse(path, limits)

    assert error.code == "too_large", error
    assert setting in error.message
    assert error.details["limit"] == setting


def onnx_file(tmp_path: Path, nodes: list[Any], initializers: list[Any], output: tuple[int, list[int]]) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", output[0], output[1])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def ints(name: str, values: list[int]) -> Any:
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


GIB_FLOATS = 1 << 28


@pytest.mark.parametrize(
    ("nodes", "initializers", "output"),
    [
        # Expand a one-value constant to 2**28 floats.
        (
            [helper.make_node("Expand", ["one", "shape"], ["y"])],
            [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]), ints("shape", [GIB_FLOATS])],
            (TensorProto.FLOAT, [GIB_FLOATS]),
        ),
        # Tile a one-value constant 2**28 times.
        (
            [helper.make_node("Tile", ["one", "repeats"], ["y"])],
            [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]), ints("repeats", [GIB_FLOATS])],
            (TensorProto.FLOAT, [GIB_FLOATS]),
        ),
        # Range from 0 to 2**28.
        (
            [helper.make_node("Range", ["start", "limit", "delta"], ["y"])],
            [
                helper.make_tensor("start", TensorProto.FLOAT, [], [0.0]),
                helper.make_tensor("limit", TensorProto.FLOAT, [], [float(GIB_FLOATS)]),
                helper.make_tensor("delta", TensorProto.FLOAT, [], [1.0]),
            ],
            (TensorProto.FLOAT, [GIB_FLOATS]),
        ),
        # The outer product of two 16,384-value constants (each 64 KiB): 1 GiB, sized by shape inference.
        (
            [helper.make_node("MatMul", ["column", "row"], ["y"])],
            [
                helper.make_tensor("column", TensorProto.FLOAT, [16384, 1], [1.0] * 16384),
                helper.make_tensor("row", TensorProto.FLOAT, [1, 16384], [1.0] * 16384),
            ],
            (TensorProto.FLOAT, [16384, 16384]),
        ),
        # A shape computed from constants (Shape, Mul) before ConstantOfShape: data propagation sizes it.
        (
            [
                helper.make_node("Shape", ["big_dims"], ["s"]),
                helper.make_node("Mul", ["s", "factor"], ["shape"]),
                helper.make_node("ConstantOfShape", ["shape"], ["y"]),
            ],
            [
                helper.make_tensor("big_dims", TensorProto.FLOAT, [16, 1], [0.0] * 16),
                ints("factor", [4096, GIB_FLOATS // 16 // 4096 * 16]),
            ],
            (TensorProto.FLOAT, [None, None]),
        ),
    ],
    ids=["expand", "tile", "range", "matmul-of-constants", "computed-shape"],
)
def test_onnx_graphs_that_build_big_tensors_from_constants_are_refused(
    tmp_path: Path, nodes: list[Any], initializers: list[Any], output: tuple[int, list[int]]
) -> None:
    error = refuse(onnx_file(tmp_path, nodes, initializers, output), ArtifactLimits())

    assert error.code == "too_large", error
    assert "ONNX_MAX_TENSOR_BYTES" in error.message
    assert error.details["measured"] >= GIB_FLOATS


def test_many_constants_each_under_the_tensor_limit_are_refused_in_all(tmp_path: Path) -> None:
    # Six ConstantOfShape of 200 MiB each: none above ONNX_MAX_TENSOR_BYTES, 1.2 GiB together.
    count = 200 * MiB // 4
    nodes = [helper.make_node("ConstantOfShape", ["shape"], [f"c{i}"]) for i in range(6)]
    nodes.append(helper.make_node("Sum", [f"c{i}" for i in range(6)], ["y"]))
    path = onnx_file(tmp_path, nodes, [ints("shape", [count])], (TensorProto.FLOAT, [count]))

    error = refuse(path, ArtifactLimits())

    assert error.code == "too_large"
    assert "ARTIFACT_MAX_UNPACKED_BYTES" in error.message
    assert error.details["measured"] >= 6 * 200 * MiB


def test_an_initializer_above_the_tensor_limit_is_refused(tmp_path: Path) -> None:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], [0.5] * 4096)  # 16 KiB
    path = onnx_file(tmp_path, [helper.make_node("Add", ["x", "w"], ["y"])], [weights], (TensorProto.FLOAT, [64, 64]))

    error = refuse(path, ArtifactLimits(onnx_max_tensor_bytes=8 * 1024))

    assert error.code == "too_large"
    assert "16,384 bytes" in error.message
    assert "ONNX_MAX_TENSOR_BYTES" in error.message
    # The same graph under the default limit loads.
    inspect_artifact(path, filename="model.onnx", max_bytes=MAX_BYTES, limits=ArtifactLimits())


def test_a_graph_with_more_nodes_than_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    names = ["x", *(f"t{i}" for i in range(49)), "y"]
    nodes = [helper.make_node("Identity", [names[i]], [names[i + 1]]) for i in range(50)]
    path = onnx_file(tmp_path, nodes, [], (TensorProto.FLOAT, [1]))

    error = refuse(path, ArtifactLimits(onnx_max_nodes=20))

    assert error.code == "too_large"
    assert "ONNX_MAX_NODES" in error.message
    assert load_predictor(path, framework="onnx", limits=ArtifactLimits(onnx_max_nodes=50)).framework == "onnx"


def test_the_configured_limits_are_the_settings(settings: Any) -> None:
    assert ArtifactLimits.configured() == ArtifactLimits()  # the defaults of both agree
    settings.ONNX_MAX_NODES = 7
    settings.ARTIFACT_MAX_MEMBERS = 9

    assert ArtifactLimits.configured() == ArtifactLimits(onnx_max_nodes=7, max_members=9)


# --- through the API -------------------------------------------------------------------------------------------


@pytest.fixture
def upload_dirs(settings: Any, tmp_path: Path) -> dict[str, Path]:
    """Stored artifacts and upload temporary files each go to a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    return {"media": tmp_path / "media", "uploads": tmp_path / "uploads"}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(
    "case",
    [("bomb.skops", "ARTIFACT_MAX_MEMBER_BYTES"), ("bomb.onnx", "ONNX_MAX_TENSOR_BYTES")],
    ids=["skops", "onnx"],
)
def test_a_hostile_artifact_upload_answers_413_naming_the_setting_and_changes_nothing(
    cast: Cast,
    high_risk_model: RegisteredModel,
    hostile_files: dict[str, Path],
    upload_dirs: dict[str, Path],
    case: tuple[str, str],
) -> None:
    filename, setting = case
    data = hostile_files[filename].read_bytes()
    before, seq = db_state(), last_seq()

    with memory_ceiling(512 * MiB):
        response = cast.owner.client().post(
            f"/api/v1/models/{high_risk_model.name}/versions/",
            {"artifact": SimpleUploadedFile(filename, data), "metadata": json.dumps({"metrics": {"auc": 0.5}})},
            format="multipart",
        )

    error = assert_error(response, 413, "too_large")
    assert setting in error["message"], error
    assert db_state() == before
    assert [e.action for e in events_since(seq) if e.action != "access.denied"] == []
    assert not ModelVersion.objects.exists()
    assert stored_names() == []
    assert files_in(upload_dirs["uploads"]) == []


def test_an_artifact_within_raised_limits_is_accepted(
    cast: Cast, high_risk_model: RegisteredModel, upload_dirs: dict[str, Path], tmp_path: Path
) -> None:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], [0.5] * 4096)
    path = onnx_file(tmp_path, [helper.make_node("Add", ["x", "w"], ["y"])], [weights], (TensorProto.FLOAT, [64, 64]))

    def post() -> Any:
        upload = SimpleUploadedFile("model.onnx", path.read_bytes())
        return cast.owner.client().post(
            f"/api/v1/models/{high_risk_model.name}/versions/", {"artifact": upload}, format="multipart"
        )

    with override_settings(ONNX_MAX_TENSOR_BYTES=8 * 1024):
        assert_error(post(), 413, "too_large")
    with override_settings(ONNX_MAX_TENSOR_BYTES=16 * 1024):
        assert post().status_code == 201
