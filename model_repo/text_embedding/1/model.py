"""text_embedding: sentence embeddings from all-MiniLM-L6-v2 (Triton Python backend).

TEXT (BYTES, UTF-8) -> EMBEDDING (FP32 [384], unit length). Triton's dynamic batcher
hands ``execute`` several requests at once; they are encoded in one forward pass,
which is where batching earns its throughput. Each request is logged as one JSON
line (model, tenant, prompt length in characters and tokens, batch it ran in).
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
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        responses = []
        offset = 0
        for request, n in zip(requests, counts, strict=True):
            out = pb_utils.Tensor("EMBEDDING", embeddings[offset : offset + n].astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            if self.log_requests:
                self._log(request, texts[offset : offset + n], offset, len(texts), elapsed_ms)
            offset += n
        return responses

    def _log(
        self, request: object, texts: list[str], offset: int, batch: int, elapsed_ms: float
    ) -> None:
        record = {
            "event": "inference",
            "model": self.model_name,
            "tenant": _tenant(request),
            "prompt_chars": sum(len(t) for t in texts),
            "prompt_tokens": sum(self.encoder.last_lengths[offset : offset + len(texts)]),
            "batch": batch,
            "compute_ms": round(elapsed_ms, 3),
        }
        self.logger.log_info(json.dumps(record, sort_keys=True))
