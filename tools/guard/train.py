"""Train prompt_guard's classifier head: logistic regression on MiniLM embeddings.

    python -m tools.guard.train [--check]

Embeds ``examples.yaml``'s training prompts with the real all-MiniLM-L6-v2 encoder
(the model's own ``minilm.py``), fits an L2-regularised logistic regression by full-
batch gradient descent from zeros (deterministic: same data, same weights), and
writes ``model_repo/prompt_guard/1/guard_head.json``. ``--check`` refits and exits
1 if the committed head differs (a test runs it), so the head always matches
the examples it claims to come from.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import yaml

from blueprint.paths import MODEL_REPO

EXAMPLES = Path(__file__).with_name("examples.yaml")
HEAD = MODEL_REPO / "prompt_guard" / "1" / "guard_head.json"
LABELS = ["benign", "injection"]
STEPS = 3000
LEARNING_RATE = 2.0
L2 = 1e-3
DECIMALS = 5


def load_minilm(model: str = "prompt_guard") -> ModuleType:
    """Import a model's own copy of minilm.py (the code the server runs)."""
    path = MODEL_REPO / model / "1" / "minilm.py"
    spec = importlib.util.spec_from_file_location(f"minilm_{model}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def examples() -> dict[str, dict[str, list[str]]]:
    doc: dict[str, dict[str, list[str]]] = yaml.safe_load(EXAMPLES.read_text())
    return doc


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    x64 = x.astype(np.float64)
    w = np.zeros(x64.shape[1])
    b = 0.0
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x64 @ w + b)))
        grad = p - y
        w -= LEARNING_RATE * (x64.T @ grad / len(y) + L2 * w)
        b -= LEARNING_RATE * float(grad.mean())
    return w, b


def train() -> dict[str, Any]:
    minilm = load_minilm()
    encoder = minilm.MiniLM(minilm.weights_dir())
    data = examples()["train"]
    texts = data["benign"] + data["injection"]
    y = np.array([0.0] * len(data["benign"]) + [1.0] * len(data["injection"]))
    x = encoder.encode(texts)
    w, b = fit(x, y)
    w32 = np.round(w, DECIMALS)
    scores = 1.0 / (1.0 + np.exp(-(x @ w32 + round(b, DECIMALS))))
    accuracy = float(((scores >= 0.5) == (y == 1.0)).mean())
    return {
        "description": "logistic regression on all-MiniLM-L6-v2 embeddings; a small real "
        "classifier trained on tools/guard/examples.yaml, not a "
        "production guardrail",
        "labels": LABELS,
        "threshold": 0.5,
        "bias": round(b, DECIMALS),
        "weights": [float(v) for v in w32],
        "training": {
            "examples_sha256": hashlib.sha256(EXAMPLES.read_bytes()).hexdigest(),
            "examples": len(texts),
            "steps": STEPS,
            "learning_rate": LEARNING_RATE,
            "l2": L2,
            "train_accuracy": round(accuracy, 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed head differs")
    args = parser.parse_args(argv)
    head = train()
    if args.check:
        committed = json.loads(HEAD.read_text())
        same = committed["training"]["examples_sha256"] == head["training"]["examples_sha256"]
        close = np.allclose(committed["weights"], head["weights"], atol=1e-3)
        if not (same and close):
            print(f"{HEAD}: stale; run python -m tools.guard.train", file=sys.stderr)
            return 1
        print(f"{HEAD}: matches examples.yaml")
        return 0
    HEAD.write_text(json.dumps(head, indent=1) + "\n")
    print(f"wrote {HEAD}: train accuracy {head['training']['train_accuracy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
