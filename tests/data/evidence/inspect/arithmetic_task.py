"""Real Inspect eval logs, produced offline with Inspect's mock model (run by ../produce.py in Inspect's own venv).

mockllm/model is given its answers (``custom_outputs``): the right answer for the first CORRECT samples of a task
and a wrong one for the rest, so the accuracy in the log is known in advance. Each output carries its token usage,
because without it mockllm counts tokens with tiktoken's o200k_base encoding, which it would download.

    python arithmetic_task.py OUT_DIR [TASK ...]   # every task, or those named
"""

import sys

from inspect_ai import Task, eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import match
from inspect_ai.solver import generate

TASKS = {"arithmetic_small": (20, 15), "arithmetic_large": (600, 510)}  # name: (samples, answered correctly)


def _task(name: str, total: int) -> Task:
    samples = [Sample(id=f"q{i:04d}", input=f"What is {i} + {i}?", target=str(2 * i)) for i in range(total)]
    return Task(dataset=MemoryDataset(samples, name=name), solver=generate(), scorer=match(), name=name)


def _model(total: int, correct: int):
    outputs = []
    for i in range(total):
        output = ModelOutput.from_content(model="mockllm/model", content=str(2 * i) if i < correct else str(2 * i + 1))
        output.usage = ModelUsage(input_tokens=12, output_tokens=2, total_tokens=14)
        outputs.append(output)
    return get_model("mockllm/model", custom_outputs=outputs)


if __name__ == "__main__":
    out, chosen = sys.argv[1], sys.argv[2:] or list(TASKS)
    for name in chosen:
        total, correct = TASKS[name]
        for log_format in ("eval", "json") if name == "arithmetic_small" else ("eval",):  # 600 samples: 7 MB of JSON
            eval(
                _task(name, total),
                model=_model(total, correct),
                log_dir=f"{out}/{log_format}",
                log_format=log_format,
                display="none",
                max_connections=1,
                max_samples=1,
            )
