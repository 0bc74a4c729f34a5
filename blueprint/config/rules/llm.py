"""Rules about LLM deployments: the vLLM image, the weights copy, and the hardware.

An LLM deployment (its model has an ``llm.yaml``) runs vLLM's OpenAI-compatible
server with the engine arguments of its variant. Those arguments are vLLM 0.32 flags,
so the image must be a 0.32 release; the weights are copied from the bucket at start
by the cloud's CLI image; a GPU variant needs a GPU (or MIG slice) with at least the
memory the variant declares, and a CPU variant no GPU at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.modelrepo.llm import (
    ENGINE_RELEASE,
    LlmManifestError,
    is_llm,
    load_llm,
)
from blueprint.placement import device_memory_gb, place
from blueprint.schema import Cloud, ModelDeployment, StackConfig

_VLLM_IMAGE = re.compile(r"(^|/)vllm-openai:v?(?P<version>\d+\.\d+(\.\d+)?)(-.*)?$")


def llm_of(dep: ModelDeployment) -> str | None:
    """The LLM a deployment serves, if it serves one (and its manifest reads)."""
    for model in dep.repo_models:
        if is_llm(model):
            try:
                load_llm(model)
            except LlmManifestError:
                return None  # the model checker reports a broken manifest with its line
            return model
    return None


@rule
def llm_deployments(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, dep in cfg.models.items():
        model = llm_of(dep)
        if model is None:
            if cfg.serving is not None and cfg.serving.triton_image is None and not dep.image:
                yield ConfigIssue(
                    ("serving", "tritonImage"),
                    f"required: deployment {name} serves Triton models; pin the Triton image",
                )
            continue
        yield from _image(cfg, name, dep)
        cluster = cfg.clusters.get(dep.cluster)
        if cluster is not None and cfg.serving is not None:
            key, image = (
                ("awsCliImage", cfg.serving.aws_cli_image)
                if cluster.cloud is Cloud.AWS
                else ("gcloudImage", cfg.serving.gcloud_image)
            )
            if image is None:
                yield ConfigIssue(
                    ("serving", key),
                    f"required: LLM deployment {name} copies its weights from the bucket at "
                    f"start with this {cluster.cloud.value} CLI image; pin it",
                )
        if dep.variant is not None and dep.variant not in load_llm(model).variants:
            continue  # served_models_exist names the variants there are
        if cluster is not None:
            yield from _hardware(cfg, name, dep, model)


def _hardware(
    cfg: StackConfig, name: str, dep: ModelDeployment, model: str
) -> Iterator[ConfigIssue]:
    """The variant's device against where the deployment lands (blueprint.placement)."""
    manifest = load_llm(model)
    variant = manifest.variant(dep.variant)
    base = ("models", name)
    where = place(cfg, name)
    if where.pool is None:
        return  # the placement rule says why
    if variant.device == "cpu" and where.devices:
        yield ConfigIssue(
            (*base, "resources", "limits"),
            f"variant {dep.variant or manifest.default_variant} of {model} runs on CPU "
            "cores; remove the GPU request",
            dict(dep.resources.limits),
        )
    if variant.device == "gpu":
        memory = device_memory_gb(where)
        need = variant.min_gpu_memory_gb or 0
        shards = variant.engine.tensor_parallel_size
        if where.devices and shards > where.devices_per_pod:
            yield ConfigIssue(
                (*base, "resources", "limits"),
                f"variant {dep.variant or manifest.default_variant} of {model} shards the "
                f"engine over {shards} GPUs (tensor_parallel_size), but each pod gets "
                f"{where.devices_per_pod}; request {shards} devices",
                dict(dep.resources.limits),
            )
        elif memory is None:
            yield ConfigIssue(
                (*base, "resources", "limits"),
                f"variant {dep.variant or manifest.default_variant} of {model} runs on a "
                f"GPU, but the deployment requests none (pool {where.pool.name}); request "
                "nvidia.com/gpu or a MIG slice",
                dict(dep.resources.limits),
            )
        elif memory * shards < need:
            yield ConfigIssue(
                (*base, "variant"),
                f"needs {need:g} GB of GPU memory (min_gpu_memory_gb), but each pod gets "
                f"{memory * shards:g} GB on pool {where.pool.name}; choose a larger slice "
                "or GPU",
                dep.variant or manifest.default_variant,
            )


def _image(cfg: StackConfig, name: str, dep: ModelDeployment) -> Iterator[ConfigIssue]:
    image = dep.image or (cfg.serving.vllm_image if cfg.serving else None)
    if image is None:
        yield ConfigIssue(
            ("serving", "vllmImage"),
            f"required: deployment {name} serves an LLM; pin vLLM's OpenAI server image "
            f"(vllm/vllm-openai:v{ENGINE_RELEASE}.x)",
        )
        return
    match = _VLLM_IMAGE.search(image.split("@", 1)[0])
    where = ("models", name, "image") if dep.image else ("serving", "vllmImage")
    if match is None:
        yield ConfigIssue(
            where,
            f"an LLM deployment runs vLLM's OpenAI-compatible server: use a vllm-openai image "
            f"of release {ENGINE_RELEASE} (the engine arguments in llm.yaml are its flags)",
            image,
        )
    elif not match.group("version").startswith(ENGINE_RELEASE + "."):
        yield ConfigIssue(
            where,
            f"is vLLM {match.group('version')}, but the engine arguments in llm.yaml are "
            f"vLLM {ENGINE_RELEASE} flags; use a {ENGINE_RELEASE}.x release",
            image,
        )
