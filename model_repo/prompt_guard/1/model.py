"""prompt_guard: flags prompt-injection / jailbreak attempts (Triton Python backend).

TEXT (BYTES, UTF-8) -> LABEL (BYTES: "injection" or "benign") and SCORE (FP32, the
probability of "injection"). The prompt is embedded with the real all-MiniLM-L6-v2
encoder (minilm.py, the same file as text_embedding's) and scored by a logistic
regression head (guard_head.json) trained by tools/guard/train.py on a
small hand-written set of examples. It is a small real classifier that shows the
serving path; it is not a production-grade guardrail (see model_repo/README.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the Python backend stub

from minilm import STAND_IN, MiniLM, locate_weights


def _param(config: dict, key: str, default: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", default)


def _tenant(request: pb_utils.InferenceRequest) -> str:
    try:
        params = json.loads(request.parameters() or "{}")
    except ValueError:
        params = {}
    return str(params.get("tenant", "unknown"))


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args["model_name"]
        device = "cpu"
        if args.get("model_instance_kind") == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        version_dir = Path(args["model_repository"]) / args["model_version"]
        explicit = _param(config, "weights_dir", "")
        if explicit and explicit != STAND_IN and not Path(explicit).is_absolute():
            explicit = str(version_dir / explicit)
        # Published next to this file by the model store (weights.json); locally the
        # installed package's copy. Logged, so a pod's log says which one it read.
        weights, source = locate_weights(explicit or None, version_dir)
        self.encoder = MiniLM(
            weights,
            max_length=int(_param(config, "max_sequence_length", "256")),
            device=device,
        )
        head = json.loads((Path(__file__).parent / "guard_head.json").read_text())
        self.weights = np.asarray(head["weights"], dtype=np.float32)
        self.bias = np.float32(head["bias"])
        self.threshold = float(_param(config, "threshold", str(head["threshold"])))
        self.labels = head["labels"]  # [negative, positive]
        self.log_requests = _param(config, "request_log", "on") == "on"
        self.logger = pb_utils.Logger
        self.logger.log_info(
            json.dumps(
                {"event": "weights", "model": self.model_name, "source": source,
                 "path": str(weights)},
                sort_keys=True,
            )
        )

    def execute(self, requests: list) -> list:
        texts: list[str] = []
        counts: list[int] = []
        for request in requests:
            arr = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            decoded = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in arr]
            texts.extend(decoded)
            counts.append(len(decoded))
        started = time.perf_counter()
        embeddings = self.encoder.encode(texts)
        scores = 1.0 / (1.0 + np.exp(-(embeddings @ self.weights + self.bias)))
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        responses = []
        offset = 0
        for request, n in zip(requests, counts, strict=True):
            s = scores[offset : offset + n].astype(np.float32).reshape(n, 1)
            labels = np.array(
                [[self.labels[1] if v >= self.threshold else self.labels[0]] for v in s[:, 0]],
                dtype=np.object_,
            )
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor("LABEL", labels), pb_utils.Tensor("SCORE", s)]
                )
            )
            if self.log_requests:
                self._log(request, texts[offset : offset + n], offset, len(texts), elapsed_ms, labels)
            offset += n
        return responses

    def _log(
        self,
        request: object,
        texts: list[str],
        offset: int,
        batch: int,
        elapsed_ms: float,
        labels: np.ndarray,
    ) -> None:
        record = {
            "event": "inference",
            "model": self.model_name,
            "tenant": _tenant(request),
            "prompt_chars": sum(len(t) for t in texts),
            "prompt_tokens": sum(self.encoder.last_lengths[offset : offset + len(texts)]),
            "batch": batch,
            "compute_ms": round(elapsed_ms, 3),
            "labels": [str(v) for v in labels[:, 0]],
        }
        self.logger.log_info(json.dumps(record, sort_keys=True))
