"""Section 8, exports: the stack outputs other stacks, tools and people read.

Every name is a constant of :mod:`blueprint.outputs`, where each is documented.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from blueprint import outputs as out
from blueprint.capacity import PoolSpec, pool_specs
from blueprint.modelrepo.pins import model_pins
from components.k8s.handle import ClusterHandle
from composition.context import StackContext
from composition.foundation import Foundation
from composition.routing import Core, routing_export, served_models
from composition.serverless import Serverless
from composition.serving import ModelStores, Served


def export(
    ctx: StackContext,
    *,
    base: Foundation,
    clusters: Mapping[str, ClusterHandle],
    stores: ModelStores,
    serving: Served,
    serverless: Serverless,
    core: Core | None,
    dns: Mapping[str, Any],
) -> None:
    """Export every output of the stack (``pulumi stack output`` lists them)."""
    for key, value in outputs(
        ctx,
        base=base,
        clusters=clusters,
        stores=stores,
        serving=serving,
        serverless=serverless,
        core=core,
        dns=dns,
    ).items():
        pulumi.export(key, value)


def outputs(
    ctx: StackContext,
    *,
    base: Foundation,
    clusters: Mapping[str, ClusterHandle],
    stores: ModelStores,
    serving: Served,
    serverless: Serverless,
    core: Core | None,
    dns: Mapping[str, Any],
) -> dict[str, Any]:
    cfg = ctx.config
    result: dict[str, Any] = {}
    if core is not None:
        result[out.CORE_STACK] = core.reference.name
        result[out.EDGE_ALIGNMENT] = core.alignment
    result.update(dns)
    result[out.MODEL_PINS] = model_pins(served_models(cfg))
    if (routing := routing_export(cfg)) is not None:
        result[out.ROUTING] = routing
    result[out.SERVERLESS_ENDPOINTS] = {
        **{n: {"cloud": "aws", "name": e.endpoint_name} for n, e in serverless.sagemaker.items()},
        **{n: {"cloud": "gcp", "name": e.endpoint_name} for n, e in serverless.vertex.items()},
    }
    result[out.ENVIRONMENT] = cfg.environment.value
    result[out.CLUSTERS] = {
        name: {
            "cloud": c.cloud.value,
            "region": (cfg.aws.region if c.cloud.value == "aws" and cfg.aws else None)
            or (cfg.gcp.region if cfg.gcp else None),
            **_cluster_outputs(clusters.get(name)),
        }
        for name, c in cfg.clusters.items()
    }
    result[out.GPU_POOLS] = pool_outputs(pool_specs(cfg))
    result[out.MODEL_DEPLOYMENTS] = {
        name: {"cluster": d.cluster, "repoModels": list(d.repo_models), "variant": d.variant}
        for name, d in cfg.models.items()
    }
    repositories: dict[str, pulumi.Output[str]] = {}
    if stores.aws is not None:
        repositories["aws"] = stores.aws.repository_uri
    if stores.gcp is not None:
        repositories["gcp"] = stores.gcp.repository_uri
    if repositories:
        result[out.MODEL_REPOSITORIES] = repositories
    if serving.triton:
        result[out.TRITON_SERVICES] = {name: t.service_name for name, t in serving.triton.items()}
    if serving.llm:
        result[out.LLM_SERVICES] = {
            name: {
                "service": s.service_name,
                "servedModelName": s.served_model_name,
                "api": "openai",
            }
            for name, s in serving.llm.items()
        }
    result[out.PARKED_DEPLOYMENTS] = sorted(n for n, d in cfg.models.items() if d.replicas.min == 0)
    if base.aws is not None and cfg.aws is not None:
        result[out.AWS_REGION] = cfg.aws.region
        result[out.AWS_VPC_ID] = base.aws.network.vpc_id
        result[out.AWS_PRIVATE_SUBNET_IDS] = base.aws.network.private_subnet_ids
    if base.gcp is not None and cfg.gcp is not None:
        result[out.GCP_PROJECT] = cfg.gcp.project
        result[out.GCP_NETWORK] = base.gcp.network.network_name
    return result


def pool_outputs(specs: Mapping[str, PoolSpec]) -> dict[str, dict[str, object]]:
    """What each GPU pool offers, for other stacks and for the cost report.

    ``gpuModel`` and ``migLayout`` are left out where a pool has none: Pulumi drops
    null outputs on the way through state, so a reader sees the key missing anyway.
    """
    return {
        name: {
            "cluster": spec.cluster,
            "cloud": spec.cloud.value,
            "tier": spec.tier.value,
            **({"gpuModel": spec.gpu.name} if spec.gpu else {}),
            "instanceTypes": [s.instance_type for s in spec.shapes],
            "onDemandFloorNodes": spec.floor,
            "maxNodes": spec.max_nodes,
            "ceilingGpus": spec.ceiling_gpus,
            "capacityTypes": list(spec.capacity_types),
            **({"migLayout": spec.mig_layout} if spec.mig_layout else {}),
            "labels": dict(spec.labels),
        }
        for name, spec in sorted(specs.items())
    }


def _cluster_outputs(handle: ClusterHandle | None) -> dict[str, object]:
    if handle is None:
        return {}
    extra: dict[str, object] = {"clusterName": handle.cluster_name, "endpoint": handle.endpoint}
    if handle.oidc_provider_arn is not None:
        extra["oidcProviderArn"] = handle.oidc_provider_arn
        extra["oidcIssuer"] = handle.oidc_issuer
    if handle.workload_pool is not None:
        extra["workloadPool"] = handle.workload_pool
    if handle.kubeconfig is not None:
        # Secret in state and outputs: `pulumi stack output clusters --show-secrets`
        # prints it; it holds no credential (the exec plugin fetches a token).
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(handle.kubeconfig)
        extra["kubeconfig"] = kubeconfig
    return extra
