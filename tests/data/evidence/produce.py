"""Regenerate the evidence-import test files by running each tool itself, offline, on its own mock or test model.

Each tool lives in its own virtual environment (or node_modules), apart from Assay's: they are heavy (garak and
lm-eval bring torch and transformers) and their pins conflict. `make evidence-tools` builds them under .tools/<tool>
from the pins in envs/ (PROVENANCE.md); the variables below point this script at environments elsewhere.

    python tests/data/evidence/produce.py                 # every tool
    python tests/data/evidence/produce.py garak inspect   # some

    INSPECT_VENV, GARAK_VENV, LMEVAL_VENV, EVIDENTLY_VENV, GISKARD_VENV   python virtual environments
    PROMPTFOO_DIR                                                          a directory with node_modules/.bin/promptfoo

Outputs are written here, under <tool>/, with fixed names; large JSON Lines are gzipped (gzip -n, no timestamp):
the tests unpack them and upload the tool's own bytes. The tests also run these recipes themselves
(tests/evidence/test_produced_by_tools.py), writing under a folder of theirs (``out``) instead of here.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GSK_DISABLE_ANALYTICS": "True",
}
# Where `make evidence-tools` (build-tools.sh) builds each tool's environment: .tools, or EVIDENCE_TOOLS
TOOLS = REPO / os.environ.get("EVIDENCE_TOOLS", ".tools")
VARIABLES = {
    "inspect": "INSPECT_VENV",
    "garak": "GARAK_VENV",
    "lm-eval": "LMEVAL_VENV",
    "promptfoo": "PROMPTFOO_DIR",
    "evidently": "EVIDENTLY_VENV",
    "giskard": "GISKARD_VENV",
}


def tool_dir(tool: str) -> Path:
    """The tool's environment: the folder its variable names, else the one build-tools.sh builds."""
    return Path(os.environ.get(VARIABLES[tool]) or TOOLS / tool)


def pins_sha256(tool: str) -> str:
    """The sha256 of the tool's pins in envs/, as build-tools.sh records it in the environment it built."""
    pins = [HERE / "envs" / "promptfoo" / name for name in ("package.json", "package-lock.json")]
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in (pins if tool == "promptfoo" else [HERE / "envs" / f"{tool}.txt"]))
    ).hexdigest()


def why_not_installed(tool: str) -> str | None:
    """None when the tool's environment is ready; else why not (what `make evidence-tools` noted when it failed)."""
    if os.environ.get(VARIABLES[tool]):
        return None if tool_dir(tool).is_dir() else f"{VARIABLES[tool]}={tool_dir(tool)} does not exist"
    stamp, failed = TOOLS / tool / ".installed", TOOLS / tool / ".failed"
    if stamp.exists():
        if stamp.read_text().strip() == pins_sha256(tool):
            return None
        return f"{TOOLS / tool} was built from other pins than envs/ holds now: run `make evidence-tools`"
    if failed.exists():
        return f"`make evidence-tools` could not build {TOOLS / tool}: {failed.read_text().strip()[-500:]}"
    return f"{TOOLS / tool} is not built: run `make evidence-tools` (or `make test`)"


def _run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, **OFFLINE, **(env or {})}, cwd=cwd)


def _folder(out: Path, tool: str) -> Path:
    (out / tool).mkdir(parents=True, exist_ok=True)
    return out / tool


def _gzip(source: Path, target: Path) -> None:
    target.parent.mkdir(exist_ok=True)
    with source.open("rb") as raw, target.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        shutil.copyfileobj(raw, gz)


def inspect(work: Path, out: Path = HERE, tasks: tuple[str, ...] = ("arithmetic_small", "arithmetic_large")) -> None:
    python = tool_dir("inspect") / "bin" / "python"
    script = HERE / "inspect" / "arithmetic_task.py"
    _run([str(python), str(script), str(work), *tasks], env={"HOME": str(work)}, cwd=work)
    for task in tasks:
        for fmt in ("eval", "json") if task == "arithmetic_small" else ("eval",):  # 600 samples: 7 MB of JSON
            (found,) = glob.glob(str(work / fmt / f"*_{task.replace('_', '-')}_*.{fmt}"))
            shutil.copyfile(found, _folder(out, "inspect") / f"{task}.{fmt}")


def garak(work: Path, out: Path = HERE) -> None:
    binary = tool_dir("garak") / "bin" / "garak"
    env = {f"XDG_{kind}_HOME": str(work / kind.lower()) for kind in ("DATA", "CONFIG", "CACHE")} | {"HOME": str(work)}
    runs = {
        "repeat-hijackhatehumans": ["--model_type", "test.Repeat", "--probes", "promptinject.HijackHateHumans"],
        "blank-promptinject": ["--model_type", "test.Blank", "--probes", "promptinject"],
        # two probes with two detectors each (dan.DAN and mitigation.MitigationBypass), five outputs per prompt
        "repeat-dan": ["--model_type", "test.Repeat", "--probes", "dan.Dan_11_0,dan.Dan_10_0", "--generations", "5"],
    }
    for prefix, args in runs.items():
        generations = [] if "--generations" in args else ["--generations", "1"]
        _run([str(binary), *args, *generations, "--seed", "1", "--report_prefix", prefix], env=env)
        report = work / "data" / "garak" / "garak_runs" / f"{prefix}.report.jsonl"
        _gzip(report, _folder(out, "garak") / f"{prefix}.report.jsonl.gz")


def lm_eval(work: Path, out: Path = HERE) -> None:
    binary = tool_dir("lm-eval") / "bin" / "lm_eval"
    tasks = HERE / "lm-eval" / "tasks"
    _run(
        [
            str(binary),
            "--model",
            "dummy",
            "--tasks",
            "assay_yesno",
            "--include_path",
            str(tasks),
            "--output_path",
            str(work / "lm-eval"),
            "--seed",
            "1234",
            "--log_samples",
        ],
        env={"HF_HOME": str(work / "huggingface")},  # datasets' cache of the local task: the run's own
        cwd=REPO,  # the task's data_files path is relative to the repository
    )
    (found,) = glob.glob(str(work / "lm-eval" / "*" / "results_*.json"))
    target = _folder(out, "lm-eval")
    shutil.copyfile(found, target / "results.json")
    # The per-sample log keeps lm-eval's own name (samples_<task>_<date>.jsonl): the task's name is only there.
    for old in target.glob("samples_*.jsonl"):
        old.unlink()
    (samples,) = glob.glob(str(work / "lm-eval" / "*" / "samples_assay_yesno_*.jsonl"))
    shutil.copyfile(samples, target / Path(samples).name)


def promptfoo(work: Path, out: Path = HERE) -> None:
    binary = tool_dir("promptfoo") / "node_modules" / ".bin" / "promptfoo"
    env = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CONFIG_DIR": str(work)}
    env["PROMPTFOO_FAILED_TEST_EXIT_CODE"] = "0"  # two tests fail on purpose; promptfoo exits 100 for that
    config = HERE / "promptfoo" / "promptfooconfig.yaml"
    output = _folder(out, "promptfoo") / "output.json"
    _run(
        [str(binary), "eval", "-c", str(config), "-o", str(output), "--no-cache", "--no-table", "--no-progress-bar"],
        env=env,
    )


def evidently(work: Path, out: Path = HERE) -> None:
    python = tool_dir("evidently") / "bin" / "python"
    target = _folder(out, "evidently") / "snapshot.json"
    _run([str(python), str(HERE / "evidently" / "make_snapshot.py"), str(target)], cwd=work)


def giskard(work: Path, out: Path = HERE) -> None:
    python = tool_dir("giskard") / "bin" / "python"
    _run([str(python), str(HERE / "giskard" / "make_scan.py"), str(_folder(out, "giskard"))], cwd=work)


def junit(work: Path, out: Path = HERE) -> None:
    # JUnit XML with a skipped case, which Giskard's to_junit never writes: pytest's own (Assay's test runner)
    cases = HERE / "junit" / "junit_cases.py"
    report = work / "pytest-skipped.junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(cases)]
    subprocess.run([*command, f"--junitxml={report}", "-o", "junit_suite_name=junit_cases"], check=False, cwd=work)
    shutil.copyfile(report, _folder(out, "junit") / "pytest-skipped.junit.xml")


PRODUCERS = {
    "inspect": inspect,
    "garak": garak,
    "lm-eval": lm_eval,
    "promptfoo": promptfoo,
    "evidently": evidently,
    "giskard": giskard,
    "junit": junit,
}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(PRODUCERS)
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"assay-evidence-{name}-") as work:
            PRODUCERS[name](Path(work))
