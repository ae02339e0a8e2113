"""Regenerate the evidence-import test files by running each tool itself, offline, on its own mock or test model.

Each tool lives in its own virtual environment (or node_modules), apart from Assay's: they are heavy (garak and
lm-eval bring torch and transformers) and their pins conflict. PROVENANCE.md lists the versions used and how each
environment was made; point this script at them with the variables below (the defaults are where they were made).

    python tests/data/evidence/produce.py                 # every tool
    python tests/data/evidence/produce.py garak inspect   # some

    INSPECT_VENV, GARAK_VENV, LMEVAL_VENV, EVIDENTLY_VENV, GISKARD_VENV   python virtual environments
    PROMPTFOO_DIR                                                          a directory with node_modules/.bin/promptfoo

Outputs are written here, under <tool>/, with fixed names; large JSON Lines are gzipped (gzip -n, no timestamp):
the tests unpack them and upload the tool's own bytes.
"""

from __future__ import annotations

import glob
import gzip
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


def _venv(tool: str, variable: str) -> Path:
    return Path(os.environ.get(variable, f"/work/toolvenv-h6-{tool}"))


def _run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, **OFFLINE, **(env or {})}, cwd=cwd)


def _gzip(source: Path, target: Path) -> None:
    target.parent.mkdir(exist_ok=True)
    with source.open("rb") as raw, target.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        shutil.copyfileobj(raw, gz)


def inspect(work: Path) -> None:
    python = _venv("inspect", "INSPECT_VENV") / "bin" / "python"
    _run([str(python), str(HERE / "inspect" / "arithmetic_task.py"), str(work)])
    for task in ("arithmetic_small", "arithmetic_large"):
        for fmt in ("eval", "json"):
            if (task, fmt) == ("arithmetic_large", "json"):
                continue  # 7 MB of JSON; the .eval holds the same log
            (found,) = glob.glob(str(work / fmt / f"*_{task.replace('_', '-')}_*.{fmt}"))
            shutil.copyfile(found, HERE / "inspect" / f"{task}.{fmt}")


def garak(work: Path) -> None:
    binary = _venv("garak", "GARAK_VENV") / "bin" / "garak"
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
        _gzip(report, HERE / "garak" / f"{prefix}.report.jsonl.gz")


def lm_eval(work: Path) -> None:
    binary = _venv("lmeval", "LMEVAL_VENV") / "bin" / "lm_eval"
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
        cwd=REPO,  # the task's data_files path is relative to the repository
    )
    (found,) = glob.glob(str(work / "lm-eval" / "*" / "results_*.json"))
    shutil.copyfile(found, HERE / "lm-eval" / "results.json")
    # The per-sample log keeps lm-eval's own name (samples_<task>_<date>.jsonl): the task's name is only there.
    for old in (HERE / "lm-eval").glob("samples_*.jsonl"):
        old.unlink()
    (samples,) = glob.glob(str(work / "lm-eval" / "*" / "samples_assay_yesno_*.jsonl"))
    shutil.copyfile(samples, HERE / "lm-eval" / Path(samples).name)


def promptfoo(work: Path) -> None:
    binary = (
        Path(os.environ.get("PROMPTFOO_DIR", "/work/toolvenv-h6-promptfoo")) / "node_modules" / ".bin" / "promptfoo"
    )
    env = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CONFIG_DIR": str(work)}
    env["PROMPTFOO_FAILED_TEST_EXIT_CODE"] = "0"  # two tests fail on purpose; promptfoo exits 100 for that
    config = HERE / "promptfoo" / "promptfooconfig.yaml"
    output = HERE / "promptfoo" / "output.json"
    _run(
        [str(binary), "eval", "-c", str(config), "-o", str(output), "--no-cache", "--no-table", "--no-progress-bar"],
        env=env,
    )


def evidently(work: Path) -> None:
    python = _venv("evidently", "EVIDENTLY_VENV") / "bin" / "python"
    _run([str(python), str(HERE / "evidently" / "make_snapshot.py"), str(HERE / "evidently" / "snapshot.json")])


def giskard(work: Path) -> None:
    python = _venv("giskard", "GISKARD_VENV") / "bin" / "python"
    _run([str(python), str(HERE / "giskard" / "make_scan.py"), str(HERE / "giskard")])


def junit(work: Path) -> None:
    # JUnit XML with a skipped case, which Giskard's to_junit never writes: pytest's own (Assay's test runner)
    cases = HERE / "junit" / "junit_cases.py"
    report = work / "pytest-skipped.junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(cases)]
    subprocess.run([*command, f"--junitxml={report}", "-o", "junit_suite_name=junit_cases"], check=False, cwd=work)
    shutil.copyfile(report, HERE / "junit" / "pytest-skipped.junit.xml")


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
