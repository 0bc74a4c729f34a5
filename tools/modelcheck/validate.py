"""The model repository validator (``make check-models``).

Every ``config.pbtxt`` and ``configs/<variant>.pbtxt`` is parsed with Triton's own
ModelConfig schema, then checked against rules a reviewer of a model PR would want:
the model's own settings (batching, queue delay within the latency budget, instance
groups, version folders, the weights each version's ``weights.json`` pins, the
``python_modules`` a Python model declares) and, for each model deployment in the
committed stacks,
whether the config fits the pool it is sent to (GPU ids, MIG slice memory,
tensor parallelism). Each finding names the file, the line, the field, the bad
value and the fix; the command exits 2 when there is any.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from blueprint import diagnostics
from blueprint.capacity import MIG_RESOURCE_PREFIX
from blueprint.diagnostics import NO_VALUE
from blueprint.modelrepo.images import PYTHON_MODULES, declared_modules
from blueprint.modelrepo.llm import MANIFEST as LLM_MANIFEST
from blueprint.modelrepo.llm import LlmManifestError, read_manifest
from blueprint.modelrepo.repo import (
    LATENCY_BUDGET,
    MIN_GPU_MEMORY,
    ConfigParseError,
    gpu_reason,
    is_batchable,
    latency_budget_ms,
    parameter,
    parse_config,
)
from blueprint.modelrepo.weights import WeightsError, external_files, locate
from blueprint.paths import MODEL_REPO, REPO_ROOT

# The batcher may hold the first request of a batch for max_queue_delay: at low
# load every request pays it, so it may take at most this share of the budget.
QUEUE_DELAY_SHARE = 0.25

# Backends whose version folder must hold a given file, and backends known here.
BACKEND_FILES = {"python": "model.py", "vllm": "model.json", "onnxruntime": "model.onnx"}
KNOWN_BACKENDS = {"python", "vllm", "onnxruntime", "pytorch", "tensorrt", "tensorrtllm"}

# Files copied into several models (each model folder must be self-contained):
# every copy must be identical to the first one found.
SHARED_MODULES = ("minilm.py", "weights.json")

# Modules the Python backend stub itself provides to model code.
_STUB_MODULES = frozenset({"triton_python_backend_utils", "c_python_backend_utils"})

KIND_NAMES = {v: k for k, v in mc.ModelInstanceGroup.Kind.items()}


@dataclass(frozen=True)
class Finding:
    """One problem: where, which field, what is wrong, the bad value and the fix."""

    path: Path
    line: int
    field: str
    message: str
    value: Any
    fix: str

    def render(self, root: Path = REPO_ROOT) -> str:
        try:
            shown = self.path.resolve().relative_to(root.resolve())
        except ValueError:
            shown = self.path
        return diagnostics.render(
            str(shown), self.line, self.field, self.message, value=self.value, fix=self.fix
        )


@dataclass(frozen=True)
class Target:
    """Where a model deployment runs, resolved from a stack file and the catalog."""

    source: Path
    line: int
    key: str
    """The deployment's key in the stack file, e.g. ``llm-inference:models.chat-llm``."""
    models: tuple[str, ...]
    variant: str | None
    gpu: str | None
    """Catalog GPU model of the pool, ``None`` for CPU or unknown pools."""
    devices: int
    """GPU devices the pod is given (full GPUs or MIG slices)."""
    device_memory_gb: float | None
    """Memory of one device: the MIG slice's or the whole GPU's."""
    gpus_per_node: int
    mig_profile: str | None = None
    mig_limit: str | None = field(default=None)
    """The MIG profile named by an ``nvidia.com/mig-<profile>`` limit, if any."""


class _Lines:
    """Find the line of a field in a pbtxt (protobuf's Python parser keeps none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, key: str, occurrence: int = 0, after: int = 0) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*[:{{\[]|[{{\s]{re.escape(key)}\s*[:{{]")
        seen = 0
        for number, text in enumerate(self.lines, start=1):
            if number <= after:
                continue
            code = text.split("#", 1)[0]
            if pattern.search(code):
                if seen == occurrence:
                    return number
                seen += 1
        return after

    def parameter(self, key: str) -> int:
        for number, text in enumerate(self.lines, start=1):
            if f'"{key}"' in text.split("#", 1)[0]:
                return number
        return 0


class _Checker:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.findings: list[Finding] = []
        self.configs: dict[Path, mc.ModelConfig] = {}

    def add(  # noqa: PLR0917 (the six parts of a finding, in reading order)
        self, path: Path, line: int, fld: str, msg: str, value: Any, fix: str
    ) -> None:
        self.findings.append(Finding(path, line, fld, msg, value, fix))

    # -- one config file ----------------------------------------------------

    def config(self, folder: Path, path: Path) -> mc.ModelConfig | None:
        try:
            config = parse_config(path)
        except ConfigParseError as exc:
            self.add(
                path,
                exc.line,
                "config",
                f"Triton's ModelConfig schema refuses it: {exc.message}",
                _line_text(path, exc.line),
                "correct the text at that line (protobuf text format; field names are in "
                "Triton's model_config.proto)",
            )
            return None
        self.configs[path] = config
        lines = _Lines(path.read_text(encoding="utf-8", errors="replace"))
        if config.name != folder.name:
            self.add(
                path,
                lines.find("name"),
                "name",
                f"must equal the model's folder name {folder.name!r}",
                config.name,
                f'set name: "{folder.name}" (Triton refuses a mismatch)',
            )
        self._backend(folder, path, config, lines)
        self._budget(path, config, lines)
        self._batching(path, config, lines)
        self._instances(path, config, lines)
        self._io(path, config, lines)
        self._versions_named(folder, path, config, lines)
        return config

    def _backend(self, folder: Path, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        backend = cfg.backend or cfg.platform
        if not backend:
            self.add(
                path,
                1,
                "backend",
                "no backend or platform: with strict model config Triton cannot load it",
                "",
                'set backend: "python" (or the model\'s backend)',
            )
            return
        if cfg.platform == "ensemble":
            return
        if backend not in KNOWN_BACKENDS:
            self.add(
                path,
                lines.find("backend"),
                "backend",
                "is not a backend this blueprint's images carry",
                backend,
                f"use one of {', '.join(sorted(KNOWN_BACKENDS))}",
            )
            return
        needed = BACKEND_FILES.get(backend)
        if needed is None:
            return
        for version in _version_dirs(folder):
            if not (version / needed).is_file():
                self.add(
                    version,
                    0,
                    "version",
                    f"the {backend} backend needs {needed} in every version folder",
                    sorted(p.name for p in version.iterdir()),
                    f"add {version.name}/{needed} or remove the folder",
                )

    def _budget(self, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        raw = parameter(cfg, LATENCY_BUDGET)
        line = lines.parameter(LATENCY_BUDGET)
        fix = (
            f'declare the p99 budget once: parameters {{ key: "{LATENCY_BUDGET}" '
            'value: { string_value: "250" } }'
        )
        if raw is None:
            self.add(path, 1, f"parameters.{LATENCY_BUDGET}", "is missing", None, fix)
            return
        try:
            ok = math.isfinite(float(raw)) and float(raw) > 0
        except ValueError:
            ok = False
        if not ok:
            self.add(
                path,
                line,
                f"parameters.{LATENCY_BUDGET}",
                "must be a positive, finite number of milliseconds",
                raw,
                fix,
            )

    def _batching(self, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        has_db = cfg.HasField("dynamic_batching")
        db_line = lines.find("dynamic_batching")
        if cfg.backend == "vllm":
            self._vllm(path, cfg, lines, has_db=has_db, db_line=db_line)
        else:
            self._batcher(path, cfg, lines, has_db=has_db, db_line=db_line)

    def _vllm(
        self, path: Path, cfg: mc.ModelConfig, lines: _Lines, *, has_db: bool, db_line: int
    ) -> None:
        if has_db:
            self.add(
                path,
                db_line,
                "dynamic_batching",
                "has no effect on a vLLM model: vLLM batches continuously inside the "
                "engine and Triton's batcher would only add queue delay",
                "dynamic_batching { ... }",
                "remove dynamic_batching; tune max_num_seqs in the version's model.json",
            )
        if cfg.max_batch_size != 0:
            self.add(
                path,
                lines.find("max_batch_size"),
                "max_batch_size",
                "must be 0 for the vLLM backend (it takes one prompt per request)",
                cfg.max_batch_size,
                "set max_batch_size: 0",
            )
        if not cfg.model_transaction_policy.decoupled:
            self.add(
                path,
                lines.find("model_transaction_policy") or 1,
                "model_transaction_policy.decoupled",
                "must be true for the vLLM backend (it streams tokens)",
                False,
                "add model_transaction_policy { decoupled: true }",
            )

    def _batcher(
        self, path: Path, cfg: mc.ModelConfig, lines: _Lines, *, has_db: bool, db_line: int
    ) -> None:
        if cfg.max_batch_size < 0:
            self.add(
                path,
                lines.find("max_batch_size"),
                "max_batch_size",
                "must be >= 0",
                cfg.max_batch_size,
                "set a positive batch size, or 0 for a model without a batch dimension",
            )
            return
        if has_db and cfg.max_batch_size == 0:
            self.add(
                path,
                db_line,
                "dynamic_batching",
                "needs max_batch_size > 0 (a model without a batch dimension cannot batch)",
                cfg.max_batch_size,
                "set max_batch_size to the largest batch the model accepts, or remove "
                "dynamic_batching",
            )
        if is_batchable(cfg) and not has_db:
            self.add(
                path,
                lines.find("max_batch_size"),
                "dynamic_batching",
                "is missing on a batchable model: without it every request runs alone",
                f"max_batch_size: {cfg.max_batch_size}",
                "add dynamic_batching { max_queue_delay_microseconds: ... } and measure it "
                "with make bench-batching",
            )
        if not has_db:
            return
        db = cfg.dynamic_batching
        for i, size in enumerate(db.preferred_batch_size):
            if size <= 0 or (cfg.max_batch_size > 0 and size > cfg.max_batch_size):
                self.add(
                    path,
                    lines.find("preferred_batch_size", after=db_line) or db_line,
                    f"dynamic_batching.preferred_batch_size[{i}]",
                    f"must be between 1 and max_batch_size ({cfg.max_batch_size})",
                    size,
                    f"use sizes <= {cfg.max_batch_size} or raise max_batch_size",
                )
        if len(set(db.preferred_batch_size)) != len(db.preferred_batch_size):
            self.add(
                path,
                lines.find("preferred_batch_size", after=db_line) or db_line,
                "dynamic_batching.preferred_batch_size",
                "lists a size twice",
                list(db.preferred_batch_size),
                "list each size once",
            )
        budget_ms = latency_budget_ms(cfg)  # None unless positive and finite (reported above)
        delay = int(db.max_queue_delay_microseconds)
        if budget_ms is not None and budget_ms > 0:
            limit_us = int(budget_ms * 1000 * QUEUE_DELAY_SHARE)
            if delay > limit_us:
                self.add(
                    path,
                    lines.find("max_queue_delay_microseconds", after=db_line) or db_line,
                    "dynamic_batching.max_queue_delay_microseconds",
                    f"exceeds {int(QUEUE_DELAY_SHARE * 100)} % of the model's latency budget "
                    f"({budget_ms:g} ms = {int(budget_ms * 1000)} us): at low load every "
                    "request waits this long",
                    delay,
                    f"lower it to <= {limit_us} or raise {LATENCY_BUDGET}",
                )

    def _instances(self, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        for i, group in enumerate(cfg.instance_group):
            line = lines.find("kind", occurrence=i) or lines.find("instance_group")
            kind = KIND_NAMES.get(group.kind, str(group.kind))
            if group.count < 1 and cfg.HasField("dynamic_batching"):
                pass  # count 0 means Triton's default (1 per device); allowed
            if group.count < 0:
                self.add(
                    path,
                    line,
                    f"instance_group[{i}].count",
                    "must be >= 1",
                    group.count,
                    "set count: 1 or more",
                )
            if group.kind == mc.ModelInstanceGroup.KIND_CPU and group.gpus:
                self.add(
                    path,
                    line,
                    f"instance_group[{i}].gpus",
                    "lists GPUs for a KIND_CPU group",
                    list(group.gpus),
                    "remove gpus, or use kind: KIND_GPU",
                )
            if any(g < 0 for g in group.gpus) or len(set(group.gpus)) != len(group.gpus):
                self.add(
                    path,
                    line,
                    f"instance_group[{i}].gpus",
                    "GPU ids must be distinct and >= 0",
                    list(group.gpus),
                    "list each device id once, counting from 0",
                )
            if cfg.backend == "vllm" and group.kind not in (
                mc.ModelInstanceGroup.KIND_MODEL,
                mc.ModelInstanceGroup.KIND_AUTO,
            ):
                self.add(
                    path,
                    line,
                    f"instance_group[{i}].kind",
                    "the vLLM backend places itself on the GPUs it is given",
                    kind,
                    "use kind: KIND_MODEL",
                )

    def _io(self, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        for section, tensors in (("input", cfg.input), ("output", cfg.output)):
            seen: set[str] = set()
            for i, tensor in enumerate(tensors):
                if tensor.name in seen:
                    self.add(
                        path,
                        lines.find("name", occurrence=i + 1),
                        f"{section}[{i}].name",
                        f"names an {section} twice",
                        tensor.name,
                        f"give every {section} a distinct name",
                    )
                seen.add(tensor.name)
                here = lines.find("name", occurrence=i, after=lines.find(section))
                if not tensor.name:
                    self.add(
                        path,
                        lines.find(section),
                        f"{section}[{i}].name",
                        "is empty: Triton refuses a tensor without a name",
                        tensor.name,
                        f'name the {section}, e.g. name: "TEXT"',
                    )
                if tensor.data_type == mc.DataType.TYPE_INVALID:
                    self.add(
                        path,
                        lines.find("data_type", after=here) or here,
                        f"{section}[{i}].data_type",
                        "is TYPE_INVALID (or missing): Triton refuses it",
                        "TYPE_INVALID",
                        "give the tensor's type, e.g. TYPE_FP32 or TYPE_STRING",
                    )
                bad_dims = [d for d in tensor.dims if d == 0 or d < -1]
                if bad_dims:
                    self.add(
                        path,
                        lines.find("dims", after=here) or here,
                        f"{section}[{i}].dims",
                        "holds a size Triton refuses: each dimension is >= 1, or -1 for a "
                        "variable one",
                        list(tensor.dims),
                        "use a positive size or -1",
                    )
                if not tensor.dims and not tensor.HasField("reshape"):
                    self.add(
                        path,
                        lines.find(section),
                        f"{section}[{i}].dims",
                        "is empty",
                        [],
                        "give the shape without the batch dimension, e.g. dims: [ 1 ]",
                    )

    def _versions_named(self, folder: Path, path: Path, cfg: mc.ModelConfig, lines: _Lines) -> None:
        if cfg.version_policy.HasField("latest") and cfg.version_policy.latest.num_versions < 1:
            self.add(
                path,
                lines.find("version_policy"),
                "version_policy.latest.num_versions",
                "must be >= 1: Triton refuses a policy that serves no version",
                int(cfg.version_policy.latest.num_versions),
                "serve at least one version (num_versions: 1)",
            )
        if cfg.platform == "ensemble" and not cfg.ensemble_scheduling.step:
            self.add(
                path,
                lines.find("platform"),
                "ensemble_scheduling.step",
                "an ensemble without steps runs nothing; Triton refuses it",
                [],
                "list the ensemble's steps (ensemble_scheduling { step [ ... ] })",
            )
        if not cfg.version_policy.HasField("specific"):
            return
        have = {int(v.name) for v in _version_dirs(folder)}
        for version in cfg.version_policy.specific.versions:
            if version not in have:
                self.add(
                    path,
                    lines.find("version_policy"),
                    "version_policy.specific.versions",
                    f"names a version with no folder (folders: {sorted(have)})",
                    int(version),
                    f"add {folder.name}/{version}/ or name an existing version",
                )

    # -- one model folder ---------------------------------------------------

    def llm(self, folder: Path) -> None:
        """An LLM folder (llm.yaml, served by vLLM): its manifest, and nothing Triton's."""
        path = folder / LLM_MANIFEST
        try:
            read_manifest(path)
        except LlmManifestError as exc:
            for issue in exc.issues:
                self.add(
                    path,
                    issue.line or 0,
                    issue.key,
                    issue.message,
                    issue.value if issue.value is not NO_VALUE else None,
                    "see the manifest's fields in blueprint/modelrepo/llm.py",
                )
        extra = sorted(p.name for p in folder.iterdir() if p.name != LLM_MANIFEST)
        if extra:
            self.add(
                folder,
                0,
                "files",
                "an LLM folder holds llm.yaml only: weights come from the bucket (imported or "
                "converted), engine arguments from the manifest",
                extra,
                "remove them, or make the folder a Triton model (config.pbtxt) without llm.yaml",
            )

    def model(self, folder: Path) -> None:
        if (folder / LLM_MANIFEST).is_file():
            self.llm(folder)
            return
        main = folder / "config.pbtxt"
        if not main.is_file():
            self.add(
                folder,
                0,
                "config.pbtxt",
                "a model folder needs config.pbtxt (strict model config: no auto-complete), "
                "or llm.yaml for an LLM served by vLLM",
                sorted(p.name for p in folder.iterdir()),
                "add config.pbtxt, or move the folder out of model_repo/",
            )
            return
        self.config(folder, main)
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and entry.name not in ("configs",) and not entry.name.isdigit():
                self.add(
                    entry,
                    0,
                    "version",
                    "folders beside config.pbtxt must be numeric versions (or configs/)",
                    entry.name,
                    "rename it to a version number such as 1, or remove it",
                )
            elif entry.is_dir() and entry.name.isdigit() and entry.name.startswith("0"):
                self.add(
                    entry,
                    0,
                    "version",
                    "a version must be a positive integer without leading zeros",
                    entry.name,
                    f"rename it to {int(entry.name) or 1}",
                )
        if not _version_dirs(folder):
            self.add(
                folder,
                0,
                "version",
                "no numeric version folder: Triton would find nothing to load",
                sorted(p.name for p in folder.iterdir()),
                "add 1/ with the model's files",
            )
        configs = folder / "configs"
        if configs.is_dir():
            for variant in sorted(configs.iterdir()):
                if variant.suffix != ".pbtxt":
                    self.add(
                        variant,
                        0,
                        "configs",
                        "only <variant>.pbtxt files belong in configs/",
                        variant.name,
                        "rename it to <variant>.pbtxt or remove it",
                    )
                    continue
                self.config(folder, variant)
        self._weights(folder)
        self._python_modules(folder)

    def _weights(self, folder: Path) -> None:
        """Every file a version's weights.json lists is installed exactly as pinned."""
        for version in _version_dirs(folder):
            try:
                for ext in external_files(version):
                    locate(ext)
            except WeightsError as exc:
                self.add(exc.path, 0, exc.field, exc.message, exc.value, exc.fix)

    def _python_modules(self, folder: Path) -> None:
        """A Python model declares the modules its code imports at module level."""
        configs = {
            path: cfg
            for path, cfg in self.configs.items()
            if path.parent in (folder, folder / "configs") and cfg.backend == "python"
        }
        if not configs:
            return
        imported = self._module_imports(folder)
        for path, cfg in sorted(configs.items()):
            raw = parameter(cfg, PYTHON_MODULES)
            if raw is None:
                example = ",".join(sorted(imported)) or "numpy"
                self.add(
                    path,
                    1,
                    f"parameters.{PYTHON_MODULES}",
                    "is missing: the stacks' image check cannot tell what this Python model "
                    "needs from the image",
                    None,
                    f'declare them once: parameters {{ key: "{PYTHON_MODULES}" value: '
                    f'{{ string_value: "{example}" }} }}',
                )
                continue
            missing = sorted(set(imported) - set(declared_modules(raw)))
            if missing:
                where = "; ".join(f"{m} ({imported[m]})" for m in missing)
                self.add(
                    path,
                    _Lines(path.read_text(encoding="utf-8", errors="replace")).parameter(
                        PYTHON_MODULES
                    ),
                    f"parameters.{PYTHON_MODULES}",
                    f"does not list what the code imports at module level: {where}",
                    raw,
                    f"add {', '.join(missing)} (and serve the config from an image that has it)",
                )

    def _module_imports(self, folder: Path) -> dict[str, str]:
        """Non-stdlib modules imported at module level by the versions' code -> where."""
        found: dict[str, str] = {}
        for version in _version_dirs(folder):
            local = {p.stem for p in version.glob("*.py")}
            for source in sorted(version.glob("*.py")):
                try:
                    tree = ast.parse(source.read_bytes(), str(source))
                except (SyntaxError, ValueError) as exc:
                    self.add(
                        source,
                        getattr(exc, "lineno", None) or 0,
                        "python",
                        "does not parse",
                        getattr(exc, "msg", str(exc)),
                        "fix the syntax error",
                    )
                    continue
                for name, line in _top_level_imports(tree.body):
                    if name in sys.stdlib_module_names or name in local or name in _STUB_MODULES:
                        continue
                    found.setdefault(name, f"{version.name}/{source.name}:{line}")
        return found

    def shared_modules(self, folders: Iterable[Path]) -> None:
        for module in SHARED_MODULES:
            copies = sorted(p for f in folders for p in f.glob(f"[0-9]*/{module}"))
            if len(copies) < 2:
                continue
            first = copies[0]
            digest = _sha(first)
            for other in copies[1:]:
                if _sha(other) != digest:
                    self.add(
                        other,
                        0,
                        module,
                        f"differs from {first.relative_to(self.repo)}; the copies must match "
                        "so every model computes the same thing",
                        _first_difference(first, other),
                        f"copy {first.relative_to(self.repo)} over it (or change all copies)",
                    )

    # -- deployments --------------------------------------------------------

    def deployment(self, target: Target) -> None:
        uses_gpu = False
        complete = True
        for model in target.models:
            folder = self.repo / model
            if (folder / LLM_MANIFEST).is_file():
                # An LLM: its variant and its fit to the GPU or MIG slice are config rules
                # (blueprint/config/rules/llm.py), checked by every preview and pulumi up.
                complete = False
                continue
            if not (folder / "config.pbtxt").is_file():
                self.add(
                    target.source,
                    target.line,
                    f"{target.key}.repoModels",
                    "names a model that is not in model_repo/",
                    model,
                    f"use one of {', '.join(_model_folders(self.repo))}",
                )
                complete = False
                continue
            path = (
                folder / "config.pbtxt"
                if target.variant is None
                else folder / "configs" / f"{target.variant}.pbtxt"
            )
            if not path.is_file():
                variants = sorted(p.stem for p in (folder / "configs").glob("*.pbtxt"))
                self.add(
                    target.source,
                    target.line,
                    f"{target.key}.variant",
                    f"{model} has no configs/{target.variant}.pbtxt",
                    target.variant,
                    f"add model_repo/{model}/configs/{target.variant}.pbtxt or use one of "
                    f"{variants or 'no variant (the default config.pbtxt)'}",
                )
                complete = False
                continue
            cfg = self.configs.get(path)
            if cfg is None:
                return  # its parse error is already reported
            uses_gpu = uses_gpu or gpu_reason(cfg) is not None
            self._fits(target, model, path, cfg)
        if complete and target.devices > 0 and not uses_gpu:
            self.add(
                target.source,
                target.line,
                f"{target.key}.resources.limits",
                "asks for GPUs but every model config it serves runs on CPU (KIND_CPU): "
                "the GPUs would sit idle",
                target.variant,
                "serve a GPU variant (variant: gpu) or drop the GPU limit and move the "
                "deployment to a CPU pool",
            )

    def _fits(self, t: Target, model: str, path: Path, cfg: mc.ModelConfig) -> None:
        lines = _Lines(path.read_text(encoding="utf-8", errors="replace"))
        where = f"deployed by {t.key} ({_short(t.source)})"
        needs_gpu = gpu_reason(cfg) is not None
        if needs_gpu and t.devices == 0:
            self.add(
                path,
                lines.find("instance_group") or 1,
                "instance_group",
                f"needs a GPU but is {where}, which requests none",
                [KIND_NAMES.get(g.kind) for g in cfg.instance_group],
                "add an nvidia.com/gpu (or nvidia.com/mig-<profile>) limit to the deployment, "
                "or use a KIND_CPU config",
            )
            return
        for i, group in enumerate(cfg.instance_group):
            if group.kind != mc.ModelInstanceGroup.KIND_GPU:
                continue
            line = lines.find("gpus", occurrence=0) or lines.find("kind", occurrence=i)
            for gpu in group.gpus:
                if gpu >= t.devices:
                    self.add(
                        path,
                        line,
                        f"instance_group[{i}].gpus",
                        f"GPU id {gpu} does not exist: {where} gives the container "
                        f"{t.devices} GPU device(s), numbered from 0",
                        list(group.gpus),
                        f"use ids below {t.devices}, or raise the deployment's GPU limit",
                    )
        if t.devices > t.gpus_per_node and t.gpus_per_node > 0:
            self.add(
                t.source,
                t.line,
                f"{t.key}.resources.limits",
                f"asks for {t.devices} GPU devices but a node of the pool has "
                f"{t.gpus_per_node}: the pod can never be scheduled",
                t.devices,
                f"ask for at most {t.gpus_per_node}",
            )
        if t.mig_limit and t.gpu and t.mig_profile and t.mig_limit != t.mig_profile:
            self.add(
                t.source,
                t.line,
                f"{t.key}.resources.limits",
                f"asks for MIG slices nvidia.com/mig-{t.mig_limit} but the pool's GPUs are "
                f"split into {t.mig_profile}",
                f"{MIG_RESOURCE_PREFIX}{t.mig_limit}",
                f"ask for nvidia.com/mig-{t.mig_profile}",
            )
        raw = parameter(cfg, MIN_GPU_MEMORY)
        if needs_gpu and raw is not None and t.device_memory_gb is not None:
            try:
                need = float(raw)
            except ValueError:
                need = 0.0
            tensor_parallel = self._tensor_parallel(path.parent.parent, cfg)
            have = t.device_memory_gb * max(tensor_parallel, 1)
            if need > have:
                kind = f"MIG slice {t.mig_profile}" if t.mig_profile else f"GPU {t.gpu}"
                self.add(
                    path,
                    lines.parameter(MIN_GPU_MEMORY),
                    f"parameters.{MIN_GPU_MEMORY}",
                    f"needs {need:g} GB but {where} runs on a {kind} with "
                    f"{t.device_memory_gb:g} GB",
                    raw,
                    "use a smaller or quantised model for this variant, or a larger slice",
                )
        if cfg.backend == "vllm":
            tensor_parallel = self._tensor_parallel(path.parent.parent, cfg)
            if tensor_parallel > t.devices:
                self.add(
                    path,
                    lines.find("version_policy") or 1,
                    "model.json tensor_parallel_size",
                    f"the served version shards over {tensor_parallel} GPUs but {where} "
                    f"gives {t.devices}",
                    tensor_parallel,
                    f"lower tensor_parallel_size to <= {t.devices} or raise the GPU limit",
                )

    def _tensor_parallel(self, folder: Path, cfg: mc.ModelConfig) -> int:
        versions = (
            list(cfg.version_policy.specific.versions)
            if cfg.version_policy.HasField("specific")
            else [max((int(v.name) for v in _version_dirs(folder)), default=1)]
        )
        most = 1
        for version in versions:
            engine = folder / str(version) / "model.json"
            if engine.is_file():
                try:
                    doc = json.loads(engine.read_text(encoding="utf-8"))
                    most = max(most, int(doc.get("tensor_parallel_size", 1)))
                except (ValueError, TypeError, AttributeError):
                    continue  # a malformed model.json: the engine itself would refuse it
        return most


def _top_level_imports(body: list[ast.stmt]) -> Iterator[tuple[str, int]]:
    """(top-level package, line) of each import run when the module loads: the module
    body and the blocks of its if/try/with statements, not function or class bodies."""
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != "__future__":
                yield node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.If | ast.With):
            yield from _top_level_imports(node.body)
            yield from _top_level_imports(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level_imports(block)
            for handler in node.handlers:
                yield from _top_level_imports(handler.body)


def _version_dirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0),
        key=lambda p: int(p.name),
    )


def _model_folders(repo: Path) -> list[str]:
    return sorted(p.name for p in repo.iterdir() if p.is_dir() and not p.name.startswith("."))


def _first_difference(a: Path, b: Path) -> str:
    """The first line where ``b`` differs from ``a``: ``line N: <b's text> vs <a's text>``."""
    left = a.read_text(encoding="utf-8", errors="replace").splitlines()
    right = b.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, (x, y) in enumerate(zip(left, right, strict=False), start=1):
        if x != y:
            return f"line {number}: {y.strip()} vs {x.strip()}"
    return f"line {min(len(left), len(right)) + 1}: (one copy is longer)"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path.name


def _line_text(path: Path, line: int) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def validate(repo: Path = MODEL_REPO, targets: Iterable[Target] = ()) -> list[Finding]:
    """Every finding for the repository and the deployments that use it."""
    checker = _Checker(repo)
    folders = [p for p in sorted(repo.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    for folder in folders:
        checker.model(folder)
    checker.shared_modules(folders)
    for target in targets:
        checker.deployment(target)
    return checker.findings


def iter_lines(findings: Iterable[Finding], root: Path = REPO_ROOT) -> Iterator[str]:
    for f in sorted(findings, key=lambda f: (str(f.path), f.line, f.field)):
        yield f.render(root)
