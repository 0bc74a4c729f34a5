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
from blueprint.capacity import (
    NodeCounts,
    PoolSpec,
    mig_parted_config,
    pool_specs,
    stack_mig_layouts,
    system_pool_spec,
)
from blueprint.config import StackConfig, from_pulumi
from blueprint.config.schema import ClusterConfig, Environment
from blueprint.cost import estimate
from blueprint.model_pins import model_pin, model_pins
from blueprint.modelrepo.repo import REPO_ROOT
from blueprint.modelrepo.repo import facts as model_facts
from blueprint.modelrepo.snapshot import build_tarball, snapshot
from blueprint.monitoring.wiring import monitoring_args
from blueprint.tiered import (
    SERVING_NAMESPACE,
    artifact_key,
    build_dns,
    build_routing,
    build_serverless,
    check_edge_against_core,
    routing_export,
    served_models,
)
from components.aws.budget import AwsBudget, AwsBudgetArgs
from components.aws.eks import EksCluster, EksClusterArgs
from components.aws.gpu_capacity import KARPENTER_NAMESPACE, AwsGpuCapacity, AwsGpuCapacityArgs
from components.aws.model_store import AwsModelStore, AwsModelStoreArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.gcp.budget import GcpBudget, GcpBudgetArgs
from components.gcp.gke import GkeCluster, GkeClusterArgs
from components.gcp.gpu_pools import GkeGpuPools, GkeGpuPoolsArgs
from components.gcp.model_store import GcpModelStore, GcpModelStoreArgs
from components.gcp.network import PODS_RANGE, SERVICES_RANGE, GcpNetwork, GcpNetworkArgs
from components.k8s.gpu_operator import GpuOperator, GpuOperatorArgs
from components.k8s.handle import ClusterHandle
from components.k8s.monitoring import YACE_SERVICE_ACCOUNT, Monitoring
from components.k8s.triton import (
    ServingNamespace,
    ServingNamespaceArgs,
    Toleration,
    TritonServing,
    TritonServingArgs,
    queue_time_target_us,
)


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


# ---------------------------------------------------------------------------
# Clusters and GPU capacity (issue 3). Each cluster becomes a ClusterHandle that
# the serving, monitoring and routing sections deploy onto.


def _system_counts(cluster: ClusterConfig) -> NodeCounts:
    nodes = cluster.system_pool.nodes
    return NodeCounts(
        min=nodes.min,
        desired=nodes.desired if nodes.desired is not None else nodes.min,
        max=nodes.max,
    )


def build_eks(
    cfg: StackConfig, stack: str, name: str, base: AwsFoundation, pools: dict[str, PoolSpec]
) -> ClusterHandle:
    cluster = cfg.clusters[name]
    assert cfg.aws is not None
    assert cluster.ami_release_version is not None
    cluster_name = f"{stack}-{name}"
    system = system_pool_spec(name, cfg)
    aws_opts = pulumi.ResourceOptions(provider=base.provider)
    eks = EksCluster(
        cluster_name,
        EksClusterArgs(
            cluster_name=cluster_name,
            region=cfg.aws.region,
            kubernetes_version=cluster.kubernetes_version,
            ami_release_version=cluster.ami_release_version,
            vpc_id=base.network.vpc_id,
            subnet_ids=base.network.private_subnet_ids,
            system_instance_types=cluster.system_pool.instance_types,
            system_nodes=_system_counts(cluster),
            private_endpoint=cluster.private_endpoint,
            authorized_networks=[str(n) for n in cluster.authorized_networks],
            admin_role_arns=cluster.admin_role_arns,
            log_retention_days=cfg.monitoring.retention_days if cfg.monitoring else 30,
            system_labels=dict(system.labels) if system else {},
        ),
        opts=aws_opts,
    )
    both = pulumi.ResourceOptions(providers=[base.provider, eks.provider])
    ready: list[pulumi.Resource] = []
    if pools:
        capacity = AwsGpuCapacity(
            f"{cluster_name}-gpu",
            AwsGpuCapacityArgs(
                cluster_name=cluster_name,
                region=cfg.aws.region,
                kubernetes_version=cluster.kubernetes_version,
                ami_release_version=cluster.ami_release_version,
                karpenter_version=cluster.karpenter_version,
                cluster_endpoint=eks.endpoint,
                subnet_ids=base.network.private_subnet_ids,
                security_group_id=eks.cluster_security_group_id,
                node_role_arn=eks.node_role_arn,
                oidc_provider_arn=eks.oidc_provider_arn,
                oidc_issuer=eks.oidc_issuer,
                pools=pools,
            ),
            opts=pulumi.ResourceOptions.merge(both, pulumi.ResourceOptions(depends_on=[eks])),
        )
        ready.append(capacity)
    if cluster.gpu_operator_version is not None and any(p.gpu for p in pools.values()):
        operator = GpuOperator(
            f"{cluster_name}-gpu-operator",
            GpuOperatorArgs(
                version=cluster.gpu_operator_version,
                mig_config=mig_parted_config(extra=stack_mig_layouts(pools.values())),
            ),
            opts=pulumi.ResourceOptions(provider=eks.provider),
        )
        ready.append(operator)
    return ClusterHandle(
        name=name,
        cloud="aws",
        region=cfg.aws.region,
        cluster_name=eks.cluster_name,
        provider=eks.provider,
        endpoint=eks.endpoint,
        pools=pools,
        depends_on=ready,
        oidc_provider_arn=eks.oidc_provider_arn,
        oidc_issuer=eks.oidc_issuer,
    )


def build_gke(
    cfg: StackConfig, stack: str, name: str, base: GcpFoundation, pools: dict[str, PoolSpec]
) -> ClusterHandle:
    cluster = cfg.clusters[name]
    assert cfg.gcp is not None
    assert cluster.release_channel is not None
    cluster_name = f"{stack}-{name}"
    system = system_pool_spec(name, cfg)
    gke = GkeCluster(
        cluster_name,
        GkeClusterArgs(
            cluster_name=cluster_name,
            project=cfg.gcp.project,
            region=cfg.gcp.region,
            zones=cfg.gcp.zones,
            kubernetes_version=cluster.kubernetes_version,
            release_channel=cluster.release_channel,
            network_id=base.network.network_id,
            subnet_id=base.network.subnet_id,
            pods_range=PODS_RANGE,
            services_range=SERVICES_RANGE,
            system_machine_type=cluster.system_pool.instance_types[0],
            system_nodes=_system_counts(cluster),
            private_endpoint=cluster.private_endpoint,
            authorized_networks=[str(n) for n in cluster.authorized_networks],
            deletion_protection=cfg.environment is Environment.PROD,
            system_labels=dict(system.labels) if system else {},
        ),
        opts=pulumi.ResourceOptions(provider=base.provider),
    )
    ready: list[pulumi.Resource] = []
    if pools:
        ready.append(
            GkeGpuPools(
                f"{cluster_name}-gpu",
                GkeGpuPoolsArgs(
                    project=cfg.gcp.project,
                    region=cfg.gcp.region,
                    cluster_name=gke.cluster_name,
                    node_service_account=gke.node_service_account,
                    pools=pools,
                ),
                opts=pulumi.ResourceOptions(providers=[base.provider, gke.provider]),
            )
        )
    return ClusterHandle(
        name=name,
        cloud="gcp",
        region=cfg.gcp.region,
        cluster_name=gke.cluster_name,
        provider=gke.provider,
        endpoint=gke.endpoint,
        pools=pools,
        depends_on=ready,
        workload_pool=gke.workload_pool,
        project=cfg.gcp.project,
    )


def build_clusters(
    cfg: StackConfig, stack: str, aws_base: AwsFoundation | None, gcp_base: GcpFoundation | None
) -> dict[str, ClusterHandle]:
    """Every configured cluster with its GPU capacity, by logical name."""
    specs = pool_specs(cfg)
    handles: dict[str, ClusterHandle] = {}
    for name, cluster in cfg.clusters.items():
        pools = {p: s for p, s in specs.items() if s.cluster == name}
        if cluster.cloud.value == "aws" and aws_base is not None:
            handles[name] = build_eks(cfg, stack, name, aws_base, pools)
        elif cluster.cloud.value == "gcp" and gcp_base is not None:
            handles[name] = build_gke(cfg, stack, name, gcp_base, pools)
    return handles


# ---------------------------------------------------------------------------
# Monitoring (issue 5): one monitoring stack per cluster; the CloudWatch exporter for
# the SageMaker Serverless endpoints runs on the first AWS cluster, with an IRSA role.


def build_monitoring(
    cfg: StackConfig,
    stack: str,
    clusters: dict[str, ClusterHandle],
    aws_base: AwsFoundation | None,
) -> dict[str, Monitoring]:
    if cfg.monitoring is None:
        return {}
    namespace = "monitoring"
    aws_clusters = sorted(n for n, h in clusters.items() if h.cloud == "aws")
    wants_cloudwatch = any(e.cloud.value == "aws" for e in cfg.serverless.values())
    out: dict[str, Monitoring] = {}
    for name, handle in sorted(clusters.items()):
        trust = None
        providers: list[pulumi.ProviderResource] = [handle.provider]
        if wants_cloudwatch and aws_base is not None and aws_clusters[:1] == [name]:
            trust = handle.irsa_assume_role_policy(namespace, YACE_SERVICE_ACCOUNT)
            providers.append(aws_base.provider)
        out[name] = Monitoring(
            f"{stack}-{name}-monitoring",
            monitoring_args(
                cfg,
                stack,
                name,
                karpenter_namespace=KARPENTER_NAMESPACE
                if handle.cloud == "aws" and handle.pools
                else None,
                cloudwatch_trust_policy=trust,
            ),
            opts=pulumi.ResourceOptions(providers=providers),
        )
    return out


def pool_outputs(specs: dict[str, PoolSpec]) -> dict[str, dict[str, object]]:
    """What each GPU pool offers, for other stacks and for the cost report."""
    return {
        name: {
            "cluster": spec.cluster,
            "cloud": spec.cloud.value,
            "tier": spec.tier.value,
            "gpuModel": spec.gpu.name if spec.gpu else None,
            "instanceTypes": [s.instance_type for s in spec.shapes],
            "onDemandFloorNodes": spec.floor,
            "maxNodes": spec.max_nodes,
            "ceilingGpus": spec.ceiling_gpus,
            "capacityTypes": list(spec.capacity_types),
            "migLayout": spec.mig_layout,
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
    return extra


def build_budgets(
    cfg: StackConfig, stack: str, aws_base: AwsFoundation | None, gcp_base: GcpFoundation | None
) -> None:
    """A budget per cloud the stack uses; the stack's budget is split between the
    clouds in proportion to their estimated ceilings, and each cloud's ceiling is a
    forecast threshold of its budget."""
    if cfg.budget is None:
        return
    per_cloud = estimate(cfg, stack).by_cloud()
    total = sum(ceiling for _floor, ceiling in per_cloud.values())

    def share(cloud: str) -> tuple[float, float | None]:
        ceiling = per_cloud.get(cloud, (0.0, 0.0))[1]
        if total <= 0:
            return cfg.budget.monthly_usd, None  # type: ignore[union-attr]
        return cfg.budget.monthly_usd * ceiling / total, ceiling  # type: ignore[union-attr]

    if aws_base is not None:
        limit, ceiling = share("aws")
        AwsBudget(
            f"{stack}-aws-budget",
            AwsBudgetArgs(
                stack=stack,
                limit_usd=limit,
                actual_thresholds_percent=cfg.budget.thresholds_percent,
                ceiling_usd=ceiling,
                emails=cfg.budget.emails,
            ),
            opts=pulumi.ResourceOptions(provider=aws_base.provider),
        )
    if gcp_base is not None and cfg.gcp is not None and cfg.gcp.billing_account:
        limit, ceiling = share("gcp")
        GcpBudget(
            f"{stack}-gcp-budget",
            GcpBudgetArgs(
                project=cfg.gcp.project,
                billing_account=cfg.gcp.billing_account,
                limit_usd=limit,
                actual_thresholds_percent=cfg.budget.thresholds_percent,
                ceiling_usd=ceiling,
                emails=cfg.budget.emails,
            ),
            opts=pulumi.ResourceOptions(provider=gcp_base.provider),
        )


# ---------------------------------------------------------------------------
# Model repository and Triton serving (issue 7).


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


# Where build_tarball writes the SageMaker artifacts (ignored by git, like build/).
ARTIFACT_DIR = REPO_ROOT / "build" / "model-artifacts"


@dataclass(frozen=True)
class ModelStores:
    aws: AwsModelStore | None
    gcp: GcpModelStore | None


def _bucket_name(cfg: StackConfig, stack: str) -> str:
    if cfg.serving and cfg.serving.model_repository_bucket:
        return cfg.serving.model_repository_bucket
    return f"{stack}-model-repo"


def _deployments_on(cfg: StackConfig, cloud: str) -> list[str]:
    return [
        name
        for name, d in cfg.models.items()
        if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud.value == cloud
    ]


def build_model_stores(
    cfg: StackConfig,
    stack: str,
    aws_base: AwsFoundation | None,
    gcp_base: GcpFoundation | None,
    clusters: dict[str, ClusterHandle],
) -> ModelStores:
    """One content-addressed copy of model_repo/ per cloud that serves repo models.

    Each Triton deployment's service account reads it without keys: an IRSA role
    per deployment on EKS, Workload Identity on GKE.
    """
    bucket = _bucket_name(cfg, stack)
    aws_store = gcp_store = None
    aws_models = repo_models_on(cfg, "aws")
    if aws_base is not None and aws_models:
        readers = {
            name: clusters[cfg.models[name].cluster].irsa_assume_role_policy(
                SERVING_NAMESPACE, name
            )
            for name in _deployments_on(cfg, "aws")
            if cfg.models[name].cluster in clusters
        }
        # SageMaker's Triton takes the model as one tarball, at the key the endpoint
        # names (blueprint/tiered.py): built here, reproducibly, named by content.
        artifacts = {
            artifact_key(ep.repo_model, model_pin(ep.repo_model)["digest"], "sagemaker")
            + "/model.tar.gz": str(build_tarball([ep.repo_model], ARTIFACT_DIR))
            for ep in cfg.serverless.values()
            if ep.sagemaker is not None and ep.cloud.value == "aws"
        }
        aws_store = AwsModelStore(
            f"{stack}-models-aws",
            AwsModelStoreArgs(
                bucket_name=bucket,
                snapshot=snapshot(aws_models),
                readers=readers,
                artifacts=artifacts,
            ),
            opts=pulumi.ResourceOptions(provider=aws_base.provider),
        )
    gcp_models = repo_models_on(cfg, "gcp")
    if gcp_base is not None and cfg.gcp is not None and gcp_models:
        gcp_store = GcpModelStore(
            f"{stack}-models-gcp",
            GcpModelStoreArgs(
                project=cfg.gcp.project,
                location=cfg.gcp.region,
                bucket_name=bucket,
                snapshot=snapshot(gcp_models),
                # A Vertex AI endpoint reads a repository root at the prefix it names.
                extra_roots={
                    artifact_key(ep.repo_model, model_pin(ep.repo_model)["digest"], "vertex"): (
                        snapshot([ep.repo_model])
                    )
                    for ep in cfg.serverless.values()
                    if ep.vertex is not None and ep.cloud.value == "gcp"
                },
                reader_service_accounts=[
                    f"{SERVING_NAMESPACE}/{name}" for name in _deployments_on(cfg, "gcp")
                ],
                labels=tags.base_tags(
                    environment=cfg.environment.value,
                    cost_center=cfg.cost_center,
                    team=cfg.team,
                    stack=stack,
                ),
            ),
            opts=pulumi.ResourceOptions(provider=gcp_base.provider),
        )
    return ModelStores(aws=aws_store, gcp=gcp_store)


def _queue_target_us(models: list[str], variant: str | None) -> int:
    budgets = [
        b for m in models if (b := model_facts(m, variant=variant).latency_budget_ms) is not None
    ]
    return queue_time_target_us(min(budgets)) if budgets else 20_000


def build_serving(
    cfg: StackConfig, stack: str, clusters: dict[str, ClusterHandle], stores: ModelStores
) -> dict[str, TritonServing]:
    """Triton for every model deployment, on its cluster, reading its cloud's store."""
    served: dict[str, TritonServing] = {}
    namespaces: dict[str, ServingNamespace] = {}
    for name, d in cfg.models.items():
        handle = clusters.get(d.cluster)
        if handle is None:
            continue
        store = stores.aws if handle.cloud == "aws" else stores.gcp
        if store is None:
            continue
        k8s_opts = pulumi.ResourceOptions(provider=handle.provider)
        if d.cluster not in namespaces:
            namespaces[d.cluster] = ServingNamespace(
                f"{stack}-{d.cluster}-{SERVING_NAMESPACE}",
                ServingNamespaceArgs(name=SERVING_NAMESPACE),
                opts=pulumi.ResourceOptions.merge(
                    k8s_opts, pulumi.ResourceOptions(depends_on=list(handle.depends_on))
                ),
            )
        if isinstance(store, AwsModelStore):
            annotations = {"eks.amazonaws.com/role-arn": store.reader_role_arns[name]}
            env = {"AWS_DEFAULT_REGION": handle.region, "AWS_REGION": handle.region}
        else:
            annotations = {"iam.gke.io/gcp-service-account": store.reader_email}
            env = {}
        served[name] = TritonServing(
            f"{stack}-{name}",
            TritonServingArgs(
                namespace=namespaces[d.cluster].name,
                image=d.image or (cfg.serving.triton_image if cfg.serving else ""),
                models=list(d.repo_models),
                variant=d.variant,
                repository_uri=store.repository_uri,
                tenant=d.tenant,
                replicas_min=d.replicas.min,
                replicas_max=d.replicas.max,
                requests={k: str(v) for k, v in d.resources.requests.items()},
                limits={k: str(v) for k, v in d.resources.limits.items()},
                node_selector=dict(d.node_selector),
                tolerations=[
                    Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
                    for t in d.tolerations
                ],
                queue_time_target_us=_queue_target_us(list(d.repo_models), d.variant),
                service_account_annotations=annotations,
                env=env,
                k8s_name=name,
            ),
            opts=pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=list(handle.depends_on))
            ),
        )
    return served


def main() -> None:
    cfg = from_pulumi()
    stack = pulumi.get_stack()

    aws_base = build_aws(cfg, stack)
    gcp_base = build_gcp(cfg, stack)
    clusters = build_clusters(cfg, stack, aws_base, gcp_base)
    build_monitoring(cfg, stack, clusters, aws_base)
    build_budgets(cfg, stack, aws_base, gcp_base)
    stores = build_model_stores(cfg, stack, aws_base, gcp_base, clusters)
    serving = build_serving(cfg, stack, clusters, stores)

    core = None
    pins = model_pins(served_models(cfg))
    if cfg.edge is not None:
        core = pulumi.StackReference(cfg.edge.core_stack)
        pulumi.export(out.CORE_STACK, core.name)
        pulumi.export(out.EDGE_ALIGNMENT, check_edge_against_core(cfg, pins, core))

    # Serverless endpoints, tiered routing and DNS (blueprint/tiered.py).
    serverless = build_serverless(
        cfg,
        stack,
        aws_provider=aws_base.provider if aws_base else None,
        gcp_provider=gcp_base.provider if gcp_base else None,
        gcp_network=(gcp_base.network.network_id, gcp_base.network.subnet_id) if gcp_base else None,
        aws_store=stores.aws,
        gcp_store=stores.gcp,
    )
    routing = build_routing(
        cfg,
        stack,
        clusters,
        serverless,
        aws_provider=aws_base.provider if aws_base else None,
        core=core,
    )
    for key, value in build_dns(
        cfg, stack, aws_provider=aws_base.provider if aws_base else None, routing=routing, core=core
    ).items():
        pulumi.export(key, value)
    pulumi.export(out.MODEL_PINS, pins)
    if (exported := routing_export(cfg)) is not None:
        pulumi.export(out.ROUTING, exported)
    pulumi.export(
        out.SERVERLESS_ENDPOINTS,
        {
            **{
                n: {"cloud": "aws", "name": e.endpoint_name}
                for n, e in serverless.sagemaker.items()
            },
            **{n: {"cloud": "gcp", "name": e.endpoint_name} for n, e in serverless.vertex.items()},
        },
    )

    pulumi.export(out.ENVIRONMENT, cfg.environment.value)
    pulumi.export(
        out.CLUSTERS,
        {
            name: {
                "cloud": c.cloud.value,
                "region": (cfg.aws.region if c.cloud.value == "aws" and cfg.aws else None)
                or (cfg.gcp.region if cfg.gcp else None),
                **_cluster_outputs(clusters.get(name)),
            }
            for name, c in cfg.clusters.items()
        },
    )
    pulumi.export(out.GPU_POOLS, pool_outputs(pool_specs(cfg)))
    pulumi.export(
        out.MODEL_DEPLOYMENTS,
        {
            name: {"cluster": d.cluster, "repoModels": list(d.repo_models), "variant": d.variant}
            for name, d in cfg.models.items()
        },
    )
    repositories: dict[str, pulumi.Output[str]] = {}
    if stores.aws is not None:
        repositories["aws"] = stores.aws.repository_uri
    if stores.gcp is not None:
        repositories["gcp"] = stores.gcp.repository_uri
    if repositories:
        pulumi.export(out.MODEL_REPOSITORIES, repositories)
    if serving:
        pulumi.export(
            out.TRITON_SERVICES,
            {name: t.service_name for name, t in serving.items()},
        )
    if aws_base is not None and cfg.aws is not None:
        pulumi.export(out.AWS_REGION, cfg.aws.region)
        pulumi.export(out.AWS_VPC_ID, aws_base.network.vpc_id)
        pulumi.export(out.AWS_PRIVATE_SUBNET_IDS, aws_base.network.private_subnet_ids)
    if gcp_base is not None and cfg.gcp is not None:
        pulumi.export(out.GCP_PROJECT, cfg.gcp.project)
        pulumi.export(out.GCP_NETWORK, gcp_base.network.network_name)


main()
