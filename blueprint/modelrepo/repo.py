"""Reading model configs from ``model_repo/`` with Triton's own schema.

A config is parsed with ``tritonclient``'s generated ``model_config_pb2.ModelConfig``
(the schema the server itself uses) in protobuf text format. Facts that belong to a
model and that other parts of the blueprint need are declared once in the model's
``config.pbtxt`` as ``parameters``:

- ``latency_budget_ms``: the p99 request latency (queue + compute) the model must
  meet. The validator bounds the batcher's queue delay with it, ``make rehearse``
  gives its SLO verdict against it, and the monitoring alerts read it.
- ``min_gpu_memory_gb``: GPU memory one instance needs (GPU models only); checked
  against the GPU or MIG slice of every pool the model is deployed on.
- ``python_modules`` (Python backend): the modules the model imports beyond the
  standard library; the image a stack serves the config with must provide them
  (``blueprint.modelrepo.images``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from blueprint.paths import MODEL_REPO

LATENCY_BUDGET = "latency_budget_ms"
MIN_GPU_MEMORY = "min_gpu_memory_gb"


class ConfigParseError(Exception):
    """A config.pbtxt that Triton's schema refuses; carries the line and column."""

    def __init__(self, path: Path, line: int, column: int, message: str) -> None:
        self.path, self.line, self.column, self.message = path, line, column, message
        super().__init__(f"{path}:{line}:{column}: {message}")


def parse_config(path: Path) -> mc.ModelConfig:
    """Parse one config.pbtxt with Triton's ModelConfig schema."""
    config = mc.ModelConfig()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigParseError(
            path, line, 0, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        line = exc.GetLine() or 0
        column = exc.GetColumn() or 0
        message = re.sub(r"^\d+:\d+ : ", "", str(exc))
        raise ConfigParseError(path, line, column, message) from None
    return config


def parameter(config: mc.ModelConfig, key: str) -> str | None:
    if key in config.parameters:
        return str(config.parameters[key].string_value)
    return None


def latency_budget_ms(config: mc.ModelConfig) -> float | None:
    """The model's declared p99 latency budget in milliseconds, if valid."""
    raw = parameter(config, LATENCY_BUDGET)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def model_names(repo: Path = MODEL_REPO) -> list[str]:
    """Folders under the repository that hold a config.pbtxt, sorted."""
    return sorted(p.parent.name for p in repo.glob("*/config.pbtxt"))


def variants(name: str, repo: Path = MODEL_REPO) -> list[str]:
    """The config variants of a model: ``configs/<variant>.pbtxt`` stems, sorted."""
    return sorted(p.stem for p in (repo / name / "configs").glob("*.pbtxt"))


def is_batchable(config: mc.ModelConfig) -> bool:
    """Can Triton's dynamic batcher batch this model?"""
    decoupled = config.model_transaction_policy.decoupled
    return config.max_batch_size > 0 and not decoupled and config.backend != "vllm"


GPU_ONLY_BACKENDS: Final = frozenset({"vllm", "tensorrtllm", "tensorrt"})
"""Triton backends that run only on a GPU: the LLM engines and TensorRT plans."""


def gpu_reason(config: mc.ModelConfig) -> str | None:
    """Why a model config needs a GPU (its backend or a KIND_GPU instance group), or None.

    The one answer to "does this model need a GPU": the serverless rules (CPU-only
    endpoints), the model checker and the local stack all read it.
    """
    backend = config.backend or config.platform
    if backend in GPU_ONLY_BACKENDS or config.platform == "tensorrt_plan":
        return f"its backend is {backend}"
    if any(g.kind == mc.ModelInstanceGroup.KIND_GPU for g in config.instance_group):
        return "its instance_group asks for KIND_GPU"
    return None


def cpu_models(repo: Path = MODEL_REPO) -> list[str]:
    """Models whose default config runs without a GPU."""
    return [name for name in model_names(repo) if not facts(name, repo).needs_gpu]


@dataclass(frozen=True)
class ModelFacts:
    """What the benchmark, the rehearsal and the alerts need to know about a model."""

    name: str
    backend: str
    max_batch_size: int
    batchable: bool
    latency_budget_ms: float | None
    max_queue_delay_us: int | None
    instances: int
    gpu_reason: str | None = None
    """Why the model needs a GPU (:func:`gpu_reason`); None when it runs on CPU."""

    @property
    def needs_gpu(self) -> bool:
        return self.gpu_reason is not None


def facts(name: str, repo: Path = MODEL_REPO, variant: str | None = None) -> ModelFacts:
    path = repo / name / ("config.pbtxt" if variant is None else f"configs/{variant}.pbtxt")
    config = parse_config(path)
    delay = (
        int(config.dynamic_batching.max_queue_delay_microseconds)
        if config.HasField("dynamic_batching")
        else None
    )
    return ModelFacts(
        name=name,
        backend=config.backend or config.platform,
        max_batch_size=int(config.max_batch_size),
        batchable=is_batchable(config),
        latency_budget_ms=latency_budget_ms(config),
        max_queue_delay_us=delay,
        instances=sum(max(g.count, 1) for g in config.instance_group) or 1,
        gpu_reason=gpu_reason(config),
    )


def latency_budgets(repo: Path = MODEL_REPO) -> dict[str, float | None]:
    """Model name -> declared p99 latency budget (ms): the table monitoring reads."""
    return {name: facts(name, repo).latency_budget_ms for name in model_names(repo)}
