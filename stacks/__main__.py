"""Composition root: one stack of the LLM inference platform.

The only module that turns configuration into resources. It reads the stack's
validated configuration once (``from_pulumi``), creates explicit cloud providers
from it, wires the components together with typed arguments, and exports the
stack outputs named in ``blueprint.outputs``. Components never read config.

Run by ``pulumi preview|up -s <stack>`` for real, and by ``make preview`` offline
under Pulumi's mocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from blueprint import outputs as out
from blueprint import tags
from blueprint.config import StackConfig, from_pulumi
from blueprint.modelrepo.snapshot import snapshot
from components.aws.model_store import AwsModelStore, AwsModelStoreArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.gcp.model_store import GcpModelStore, GcpModelStoreArgs
from components.gcp.network import GcpNetwork, GcpNetworkArgs

# Namespace of the Triton deployments on every cluster; a deployment's Kubernetes
# service account is named after it (see components/k8s/triton.py).
SERVING_NAMESPACE = "inference"


@dataclass(frozen=True)
class AwsFoundation:
    provider: aws.Provider
    network: AwsNetwork


@dataclass(frozen=True)
class GcpFoundation:
    provider: gcp.Provider
    network: GcpNetwork


def build_aws(cfg: StackConfig, stack: str) -> AwsFoundation | None:
    if cfg.aws is None:
        return None
    base = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    provider = aws.Provider(
        "aws",
        region=cfg.aws.region,
        default_tags={"tags": {**cfg.aws.tags, **base}},
        allowed_account_ids=[cfg.aws.account_id] if cfg.aws.account_id else None,
    )
    clusters = [name for name, c in cfg.clusters.items() if c.cloud.value == "aws"]
    network = AwsNetwork(
        f"{stack}-aws",
        AwsNetworkArgs(
            cidr=str(cfg.aws.vpc_cidr),
            zones=cfg.aws.availability_zones,
            nat_gateways=cfg.aws.nat_gateways,
            cluster_names=[f"{stack}-{name}" for name in clusters],
            flow_log_retention_days=cfg.monitoring.retention_days if cfg.monitoring else 30,
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return AwsFoundation(provider=provider, network=network)


def build_gcp(cfg: StackConfig, stack: str) -> GcpFoundation | None:
    if cfg.gcp is None:
        return None
    base = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    provider = gcp.Provider(
        "gcp",
        project=cfg.gcp.project,
        region=cfg.gcp.region,
        default_labels={**cfg.gcp.labels, **base},
    )
    network = GcpNetwork(
        f"{stack}-gcp",
        GcpNetworkArgs(
            project=cfg.gcp.project,
            region=cfg.gcp.region,
            cidr=str(cfg.gcp.network_cidr),
            pods_cidr=str(cfg.gcp.pods_cidr),
            services_cidr=str(cfg.gcp.services_cidr),
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return GcpFoundation(provider=provider, network=network)


def repo_models_on(cfg: StackConfig, cloud: str) -> list[str]:
    """Repository models this stack serves on one cloud (deployments and serverless)."""
    models = {
        m
        for d in cfg.models.values()
        if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud.value == cloud
        for m in d.repo_models
    }
    models |= {e.repo_model for e in cfg.serverless.values() if e.cloud.value == cloud}
    return sorted(models)


def build_model_stores(
    cfg: StackConfig, stack: str, aws_base: AwsFoundation | None, gcp_base: GcpFoundation | None
) -> dict[str, pulumi.Output[str]]:
    """One content-addressed copy of model_repo/ per cloud that serves repo models."""
    bucket = (
        cfg.serving.model_repository_bucket
        if cfg.serving and cfg.serving.model_repository_bucket
        else f"{stack}-model-repo"
    )
    uris: dict[str, pulumi.Output[str]] = {}
    tags_ = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    aws_models = repo_models_on(cfg, "aws")
    if aws_base is not None and aws_models:
        store = AwsModelStore(
            f"{stack}-models-aws",
            AwsModelStoreArgs(bucket_name=bucket, snapshot=snapshot(aws_models)),
            opts=pulumi.ResourceOptions(provider=aws_base.provider),
        )
        uris["aws"] = pulumi.Output.all(
            store.bucket_name, store.repository_uri, store.reader_role_arn
        ).apply(lambda v: {"bucket": v[0], "uri": v[1], "readerRoleArn": v[2]})
    gcp_models = repo_models_on(cfg, "gcp")
    if gcp_base is not None and cfg.gcp is not None and gcp_models:
        readers = [
            f"{SERVING_NAMESPACE}/{name}"
            for name, d in cfg.models.items()
            if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud.value == "gcp"
        ]
        gstore = GcpModelStore(
            f"{stack}-models-gcp",
            GcpModelStoreArgs(
                project=cfg.gcp.project,
                location=cfg.gcp.region,
                bucket_name=bucket,
                snapshot=snapshot(gcp_models),
                reader_service_accounts=readers,
                labels=tags_,
            ),
            opts=pulumi.ResourceOptions(provider=gcp_base.provider),
        )
        uris["gcp"] = pulumi.Output.all(
            gstore.bucket_name, gstore.repository_uri, gstore.reader_email
        ).apply(lambda v: {"bucket": v[0], "uri": v[1], "readerEmail": v[2]})
    return uris


def main() -> None:
    cfg = from_pulumi()
    stack = pulumi.get_stack()

    aws_base = build_aws(cfg, stack)
    gcp_base = build_gcp(cfg, stack)
    model_repositories = build_model_stores(cfg, stack, aws_base, gcp_base)

    if cfg.edge is not None:
        core = pulumi.StackReference(cfg.edge.core_stack)
        pulumi.export(out.CORE_STACK, core.name)

    pulumi.export(out.ENVIRONMENT, cfg.environment.value)
    pulumi.export(
        out.CLUSTERS,
        {
            name: {
                "cloud": c.cloud.value,
                "region": (cfg.aws.region if c.cloud.value == "aws" and cfg.aws else None)
                or (cfg.gcp.region if cfg.gcp else None),
            }
            for name, c in cfg.clusters.items()
        },
    )
    pulumi.export(
        out.MODEL_DEPLOYMENTS,
        {
            name: {"cluster": d.cluster, "repoModels": list(d.repo_models), "variant": d.variant}
            for name, d in cfg.models.items()
        },
    )
    if model_repositories:
        pulumi.export(out.MODEL_REPOSITORIES, model_repositories)
    if aws_base is not None and cfg.aws is not None:
        pulumi.export(out.AWS_REGION, cfg.aws.region)
        pulumi.export(out.AWS_VPC_ID, aws_base.network.vpc_id)
        pulumi.export(out.AWS_PRIVATE_SUBNET_IDS, aws_base.network.private_subnet_ids)
    if gcp_base is not None and cfg.gcp is not None:
        pulumi.export(out.GCP_PROJECT, cfg.gcp.project)
        pulumi.export(out.GCP_NETWORK, gcp_base.network.network_name)


main()
