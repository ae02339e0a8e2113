"""docs/gate.md's pipeline examples and the served gate client, run as a pipeline runs them, against a live server.

The examples are taken from docs/gate.md as written and run by the shells the two CIs use (GitHub's default ``bash -e``,
GitLab's ``sh``), with the environment they reference. A decision other than ``pass`` (412) must fail the job and
print the answer; a ``pass`` (200) must not. The world is the demo's: German credit with age groups, a model whose
ONNX artifact fails the four-fifths rule by age (version 1) and one that approves everyone (version 2).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pv
import pytest
import yaml
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.trail.log import Actor
from registry import actions as registry
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

GATE_DOC = Path(__file__).resolve().parents[2] / "docs" / "gate.md"  # moved there from README.md
SHELLS = ("bash", "sh")
# What the examples may read from their environment: GitHub's step env, GitLab's CI/CD variables.
VARIABLES = {"ASSAY_URL", "ASSAY_TOKEN"}


@functools.cache
def artifacts() -> tuple[bytes, bytes]:
    """ONNX bytes of the demo model (fails four-fifths: applicants aged 25 or under) and of a model approving all."""
    content = german_credit_csv(with_groups=True)
    table = pv.read_csv(io.BytesIO(content))
    features = np.column_stack([table.column(name).to_numpy().astype(np.float32) for name in DEMO_FEATURES])
    everyone = LogisticRegression(max_iter=2000).fit(features, table.column("credit_risk").to_numpy())
    everyone.coef_[:] = 0.0
    everyone.intercept_[:] = -10.0  # classes are [1, 2]: a negative decision function is class 1, a good risk
    fair = to_onnx(everyone, features[:1], options={id(everyone): {"zipmap": False}}).SerializeToString()
    return train_demo_model(content), fair


def gate_section() -> str:
    text = GATE_DOC.read_text(encoding="utf-8")
    start = text.index("# The approval gate")
    end = text.find("\n## ", start + 1)  # the page is the section: up to a subsection, if one is ever added
    return text[start : end if end != -1 else len(text)]


def pipeline_examples() -> dict[str, str]:
    """The shell commands of the GitHub Actions step and of the GitLab CI job, as those CIs would run them."""
    found: dict[str, str] = {}
    for block in re.findall(r"```yaml\n(.*?)```", gate_section(), flags=re.S):
        document = yaml.safe_load(block)
        if isinstance(document, list):  # a GitHub Actions step
            [step] = document
            assert "shell" not in step, "the test runs the step with the default shell (bash -e) and sh -e"
            assert set(step.get("env", {})) <= VARIABLES
            found["github"] = step["run"]
        else:  # a GitLab CI job: its script lines run in one shell, in order
            [job] = document.values()
            found["gitlab"] = "\n".join(job["script"]) + "\n"
    assert set(found) == {"github", "gitlab"}, found
    for script in found.values():
        assert set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", script)) <= VARIABLES, script
    return found


def client_line() -> str:
    """The gate page's one line that downloads the served client and runs it."""
    prose = re.sub(r"```.*?```", "", gate_section(), flags=re.S)
    [line] = [span for span in re.findall(r"`([^`]+)`", prose) if "gates/client.py" in span]
    return " ".join(line.split())


def run(script: str, shell: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (cwd / "step.sh").write_text(script, encoding="utf-8")
    return subprocess.run(
        [shell, "-e", "step.sh"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def world(live_server: Any, unprotected_trail: None, cast: Cast, media_root: Path, settings: Any) -> dict[str, Any]:
    """On a live server: a high-risk credit-scoring model judged by four-fifths, German credit as dataset
    german-credit v1, version 1 the demo model (fails), version 2 a model that approves everyone (passes)."""
    settings.AUDIT_REQUIRED_POLICIES = {"high": "four-fifths"}
    unfair, fair = artifacts()
    make_file_version(
        cast, make_dataset(cast, "german-credit"), german_credit_csv(with_groups=True), name="german-credit.csv"
    )
    model = register_model(cast, "high")
    versions = []
    with tempfile.TemporaryDirectory() as folder:
        for content in (unfair, fair):
            path = Path(folder) / "model.onnx"
            path.write_bytes(content)
            owner = Actor.for_user(cast.owner.user)
            versions.append(
                registry.do_register_version(
                    model=model, user=cast.owner.user, actor=owner, artifact_path=path, artifact_name="model.onnx"
                )
            )
    assert [v.number for v in versions] == [1, 2]
    return {"url": live_server.url, "token": cast.ci.token, "unfair": unfair, "fair": fair, "v2": versions[1]}


def approve(cast: Cast, version: Any) -> None:
    registry.do_submit(version=version, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    for member in (cast.reviewer, cast.officer):  # high risk: two distinct approvers
        registry.do_approve(version=version, user=member.user, actor=Actor.for_user(member.user))


def environment(world: dict[str, Any], home: Path) -> dict[str, str]:
    """What a runner gives the job: a PATH (with ``python``, as the client line calls it), HOME and the variables."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    if not python.exists():
        python.symlink_to(sys.executable)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "ASSAY_URL": world["url"],
        "ASSAY_TOKEN": world["token"],
    }


@pytest.mark.parametrize("shell", SHELLS)
def test_the_readme_pipeline_examples_fail_the_job_on_412_and_pass_on_200(
    world: dict[str, Any], cast: Cast, tmp_path: Path, shell: str
) -> None:
    examples = pipeline_examples()
    env = environment(world, tmp_path)
    job = tmp_path / "job"
    job.mkdir()

    def step(name: str, artifact: bytes | None = None) -> subprocess.CompletedProcess[str]:
        (job / "gate.json").unlink(missing_ok=True)
        if artifact is not None:
            (job / "model.onnx").write_bytes(artifact)  # what the job built; the step sends its sha256
        return run(examples[name], shell, job, env)

    # 412 fail: the gate audits the built artifact (version 1) with the example's column roles; four-fifths fails.
    result = step("github", world["unfair"])
    assert result.returncode != 0, result.stdout
    assert '"decision":"fail"' in result.stdout, result.stdout + result.stderr
    assert "impact ratio" in result.stdout  # the reasons are printed

    # 412 insufficient evidence: version 2 has no audit, and the GitLab job sends no data to start one.
    result = step("gitlab")
    assert result.returncode != 0, result.stdout
    assert '"decision":"insufficient_evidence"' in result.stdout, result.stdout + result.stderr

    # 412 pending approval: version 2's audit (started by the GitHub step) passes, but nobody approved it yet.
    result = step("github", world["fair"])
    assert result.returncode != 0, result.stdout
    assert '"decision":"pending_approval"' in result.stdout, result.stdout + result.stderr

    # 200 pass, for both jobs, once two people approved version 2; the answer is printed with its token.
    approve(cast, world["v2"])
    for name, artifact in (("github", world["fair"]), ("gitlab", None)):
        result = step(name, artifact)
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"decision":"pass"' in result.stdout, result.stdout
        assert '"token":"' in result.stdout


def test_the_served_client_prints_the_decision_the_known_names_and_exits_with_its_code(
    world: dict[str, Any], cast: Cast, tmp_path: Path
) -> None:
    env = environment(world, tmp_path)
    readme_line = client_line()
    assert readme_line.startswith("curl "), readme_line
    assert "-o gate.py && python gate.py" in readme_line, readme_line

    def client(*args: str) -> subprocess.CompletedProcess[str]:
        line = " ".join(["python gate.py --url $ASSAY_URL", *args])
        return run(line + "\n", "sh", tmp_path, env)

    # The README's line as written: downloads the client and asks about model.onnx; version 1 fails (exit 1).
    (tmp_path / "model.onnx").write_bytes(world["unfair"])
    roles = {"label": "credit_risk", "favourable": "1", "protected": ["age_group", "sex"], "features": DEMO_FEATURES}
    (tmp_path / "roles.json").write_text(json.dumps(roles))
    with_data = readme_line + " --dataset german-credit --dataset-version 1 --column-roles @roles.json\n"
    result = run(with_data, "sh", tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAIL: credit-scoring v1 for production"), result.stdout
    assert "impact ratio" in result.stdout

    # Version 2 without data or an audit: insufficient evidence (2); audited but not approved: pending (3).
    assert client("--model credit-scoring --version 2 --environment production").returncode == 2
    (tmp_path / "model.onnx").write_bytes(world["fair"])
    assert run(with_data, "sh", tmp_path, env).returncode == 3

    # Approved: pass (0), and the decision token is written where the README's line says.
    approve(cast, world["v2"])
    result = run(readme_line + "\n", "sh", tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASS: credit-scoring v2 for production"), result.stdout
    assert (tmp_path / "gate-token.txt").read_text().strip()

    # A miss prints the server's message and the names (or numbers) it says exist for this token.
    result = client("--model ghost --version 1 --environment production")
    assert result.returncode == 3
    assert "No model named 'ghost'" in result.stderr, result.stderr
    assert "known: credit-scoring" in result.stderr, result.stderr
    result = client("--model credit-scoring --version 9 --environment production")
    assert result.returncode == 3
    assert "known: 1, 2" in result.stderr, result.stderr

    # Column roles that are not JSON are refused before anything is sent.
    result = client("--model credit-scoring --version 2 --environment production", "--column-roles '{label'")
    assert result.returncode == 3
    assert "--column-roles is not valid JSON" in result.stderr, result.stderr
    # Roles in a file that is not there: the file is named, nothing is sent.
    result = client("--model credit-scoring --version 2 --environment production", "--column-roles @no-such-roles.json")
    assert result.returncode == 3
    assert "No such file or directory: 'no-such-roles.json'" in result.stderr, result.stderr
