"""Rules about managed endpoints: SageMaker Serverless limits, Vertex AI bounds, CPU only.

The limits are SageMaker Serverless Inference's own (shared/REFERENCE.md, AWS
ProductionVariantServerlessConfig): CPU only, memory 1024-6144 MB in 1024 MB steps,
max concurrency 1-200, provisioned concurrency <= max concurrency, payload <= 4 MB,
60 s per invocation, no VPC. A stack that breaks one is refused before anything is
registered, because the service would refuse it only at ``pulumi up``, half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from blueprint.catalog import load_catalog
from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.modelrepo.repo import ConfigParseError
from blueprint.modelrepo.repo import facts as model_facts
from blueprint.paths import MODEL_REPO
from blueprint.schema import Cloud, ServerlessEndpoint, StackConfig

SAGEMAKER_MEMORY_MB = tuple(range(1024, 6144 + 1, 1024))
SAGEMAKER_MAX_CONCURRENCY = 200
SAGEMAKER_MAX_PAYLOAD_MB = 4
SAGEMAKER_TIMEOUT_SECONDS = 60

_SETTINGS_KEY = {Cloud.AWS: "sagemaker", Cloud.GCP: "vertex"}


def repo_model_gpu_reason(repo_model: str, repo: Path = MODEL_REPO) -> str | None:
    """Why ``repo_model`` needs a GPU (:func:`blueprint.modelrepo.repo.gpu_reason`), or None.

    A model that is not in the repository (yet), or whose config is broken, is not
    judged here: the reference rules and the model checker report those.
    """
    try:
        return model_facts(repo_model, repo).gpu_reason
    except (OSError, ConfigParseError):
        return None


@rule
def settings_match_cloud(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, ep in cfg.serverless.items():
        base = ("serverless", name)
        wanted = _SETTINGS_KEY[ep.cloud]
        for cloud, key in _SETTINGS_KEY.items():
            present = getattr(ep, key) is not None
            if cloud is ep.cloud and not present:
                yield ConfigIssue(
                    (*base, wanted),
                    f"required for a {ep.cloud.value} endpoint"
                    + (
                        " (memoryMb, maxConcurrency)"
                        if ep.cloud is Cloud.AWS
                        else " (machineType, replicas)"
                    ),
                )
            elif cloud is not ep.cloud and present:
                yield ConfigIssue(
                    (*base, key),
                    f"applies to {cloud.value} endpoints only; this one has cloud "
                    f"{ep.cloud.value}: move the settings to '{wanted}'",
                )


@rule
def sagemaker_limits(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, ep in cfg.serverless.items():
        sm = ep.sagemaker
        if ep.cloud is not Cloud.AWS or sm is None:
            continue
        base = ("serverless", name, "sagemaker")
        if sm.memory_mb not in SAGEMAKER_MEMORY_MB:
            yield ConfigIssue(
                (*base, "memoryMb"),
                "SageMaker Serverless takes 1024-6144 MB in steps of 1024 MB; one of "
                + ", ".join(map(str, SAGEMAKER_MEMORY_MB)),
                sm.memory_mb,
            )
        if not 1 <= sm.max_concurrency <= SAGEMAKER_MAX_CONCURRENCY:
            yield ConfigIssue(
                (*base, "maxConcurrency"),
                f"SageMaker Serverless allows 1-{SAGEMAKER_MAX_CONCURRENCY} concurrent "
                "invocations per endpoint; for more, add an endpoint or serve it from a pool",
                sm.max_concurrency,
            )
        if sm.provisioned_concurrency > sm.max_concurrency:
            yield ConfigIssue(
                (*base, "provisionedConcurrency"),
                f"must be <= maxConcurrency ({sm.max_concurrency}); lower it or raise "
                "maxConcurrency",
                sm.provisioned_concurrency,
            )
        for peak_name, peak in sm.peaks.items():
            path = (*base, "peaks", peak_name, "provisionedConcurrency")
            if peak.provisioned_concurrency > sm.max_concurrency:
                yield ConfigIssue(
                    path,
                    f"must be <= maxConcurrency ({sm.max_concurrency})",
                    peak.provisioned_concurrency,
                )
            elif peak.provisioned_concurrency <= sm.provisioned_concurrency <= sm.max_concurrency:
                yield ConfigIssue(
                    path,
                    "a peak must raise provisioned concurrency above the floor "
                    f"(provisionedConcurrency: {sm.provisioned_concurrency})",
                    peak.provisioned_concurrency,
                )
        if sm.peaks and sm.provisioned_concurrency < 1:
            yield ConfigIssue(
                (*base, "provisionedConcurrency"),
                "scheduled peaks scale provisioned concurrency, so the endpoint needs a "
                "floor of at least 1 (Application Auto Scaling only scales a variant that has one)",
                sm.provisioned_concurrency,
            )
        if sm.vpc:
            yield ConfigIssue(
                (*base, "vpc"),
                "SageMaker Serverless Inference cannot run in a VPC or with network "
                "isolation; set vpc: false, or serve the model from a cluster deployment",
                True,
            )
        if ep.max_payload_mb > SAGEMAKER_MAX_PAYLOAD_MB:
            yield ConfigIssue(
                ("serverless", name, "maxPayloadMb"),
                f"SageMaker Serverless accepts request bodies up to {SAGEMAKER_MAX_PAYLOAD_MB} "
                "MB; split requests or serve the model from a cluster deployment",
                ep.max_payload_mb,
            )
        if ep.timeout_seconds > SAGEMAKER_TIMEOUT_SECONDS:
            yield ConfigIssue(
                ("serverless", name, "timeoutSeconds"),
                f"SageMaker Serverless ends an invocation after {SAGEMAKER_TIMEOUT_SECONDS} s; "
                "lower it or serve the model from a cluster deployment",
                ep.timeout_seconds,
            )


@rule
def vertex_bounds(cfg: StackConfig) -> Iterator[ConfigIssue]:
    catalog = load_catalog()
    for name, ep in cfg.serverless.items():
        vx = ep.vertex
        if ep.cloud is not Cloud.GCP or vx is None:
            continue
        base = ("serverless", name, "vertex")
        inst = catalog.instance(vx.machine_type)
        if inst is None or inst.cloud != "gcp":
            known = [n for n in catalog.instance_names("gcp") if not catalog.instances[n].gpus]
            yield ConfigIssue(
                (*base, "machineType"),
                f"not a gcp machine type in the catalog; CPU types: {', '.join(known)}",
                vx.machine_type,
            )
        elif inst.gpus:
            yield ConfigIssue(
                (*base, "machineType"),
                f"carries a GPU ({inst.gpu}); managed endpoints here serve light CPU models: "
                "serve GPU models from a GPU pool deployment (models.*) or pick a CPU type",
                vx.machine_type,
            )
        if vx.replicas.min > vx.replicas.max:
            yield ConfigIssue(
                (*base, "replicas", "min"),
                f"must be <= max ({vx.replicas.max})",
                vx.replicas.min,
            )
        if vx.replicas.min == 0 and not vx.scale_to_zero:
            yield ConfigIssue(
                (*base, "replicas", "min"),
                "Vertex AI bills per node-hour and keeps at least 1 replica; set min >= 1, "
                "or set scaleToZero: true to use the scale-to-zero preview",
                0,
            )


@rule
def cpu_models_only(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """A model whose Triton config needs a GPU cannot be served by a CPU-only endpoint."""
    for name, ep in cfg.serverless.items():
        reason = repo_model_gpu_reason(ep.repo_model)
        if reason is not None:
            yield ConfigIssue(
                ("serverless", name, "repoModel"),
                f"needs a GPU ({reason}), but {_service(ep)} is CPU only; serve it from a "
                "GPU pool deployment (models.*) and route to that",
                ep.repo_model,
            )


def _service(ep: ServerlessEndpoint) -> str:
    return "SageMaker Serverless" if ep.cloud is Cloud.AWS else "this Vertex AI endpoint"
