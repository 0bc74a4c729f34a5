"""Composition of the serverless, routing, DNS and edge parts (called by stacks/__main__.py).

These functions belong to the composition root: they read the validated
:class:`StackConfig` and hand components typed arguments. They live here, not in
``stacks/__main__.py``, so the root stays a short table of contents and tests can
run each part (the routing with a test Kubernetes provider) on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from blueprint import outputs as out
from blueprint import tags
from blueprint.config.schema import Cloud, StackConfig
from blueprint.model_pins import misaligned, model_pins
from components.aws.dns import ApiZone, ApiZoneArgs, RegionalApiRecord, RegionalApiRecordArgs
from components.aws.model_store import AwsModelStore
from components.aws.sagemaker import (
    ModelArtifact,
    Peak,
    SageMakerInvoker,
    SageMakerInvokerArgs,
    SageMakerServerless,
    SageMakerServerlessArgs,
)
from components.gcp.model_store import GcpModelStore
from components.gcp.vertex import DriftArgs, GcsArtifact, VertexEndpoint, VertexEndpointArgs
from components.k8s.handle import ClusterHandle
from components.k8s.routing import (
    CoreTarget,
    SageMakerTarget,
    ServiceTarget,
    SigV4Proxy,
    Target,
    TieredRouting,
    TieredRoutingArgs,
)

ROUTING_NAMESPACE = "llm-gateway"
SIGV4_SERVICE_ACCOUNT = "sagemaker-sigv4"
SERVING_NAMESPACE = "llm-serving"
"""Namespace of the Triton Deployments; their Service is named after the deployment."""
TRITON_HTTP_PORT = 8000


@dataclass
class Serverless:
    sagemaker: dict[str, SageMakerServerless] = field(default_factory=dict)
    vertex: dict[str, VertexEndpoint] = field(default_factory=dict)


def model_bucket(cfg: StackConfig, stack: str) -> str:
    """The model repository bucket (S3 and GCS share the name)."""
    return (cfg.serving.model_repository_bucket if cfg.serving else None) or f"{stack}-model-repo"


def artifact_key(repo_model: str, digest: str | None, kind: str) -> str:
    """Where the model repository sync publishes a model for a managed endpoint:
    ``<kind>/<model>/<content digest>/`` so a new model version is a new location."""
    short = (digest or "sha256:unpublished").split(":", 1)[1][:16]
    return f"{kind}/{repo_model}/{short}"


def build_serverless(
    cfg: StackConfig,
    stack: str,
    *,
    aws_provider: aws.Provider | None,
    gcp_provider: gcp.Provider | None,
    gcp_network: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None,
    aws_store: AwsModelStore | None = None,
    gcp_store: GcpModelStore | None = None,
) -> Serverless:
    """SageMaker Serverless and Vertex AI endpoints of ``cfg.serverless``.

    ``gcp_network`` is ``(network id, subnet id)`` of the stack's VPC (Vertex's
    Private Service Connect endpoints take addresses there). The stores publish each
    endpoint's artifact (``artifact_key``); an endpoint's model waits for its upload
    and, on AWS, may decrypt it with the store's key.
    """
    result = Serverless()
    bucket = model_bucket(cfg, stack)
    emails = list(cfg.monitoring.alert_emails) if cfg.monitoring else []
    runbooks = cfg.monitoring.runbook_base_url if cfg.monitoring else ""
    base = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    for name, ep in sorted(cfg.serverless.items()):
        digest = model_pins([ep.repo_model])[ep.repo_model]["digest"]
        if ep.sagemaker is not None and aws_provider is not None:
            sm = ep.sagemaker
            result.sagemaker[name] = SageMakerServerless(
                f"{stack}-{name}",
                SageMakerServerlessArgs(
                    endpoint_name=f"{stack}-{name}",
                    image=ep.image,
                    repo_model=ep.repo_model,
                    artifact=_sagemaker_artifact(
                        bucket,
                        artifact_key(ep.repo_model, digest, "sagemaker") + "/model.tar.gz",
                        aws_store,
                    ),
                    memory_mb=sm.memory_mb,
                    max_concurrency=sm.max_concurrency,
                    provisioned_concurrency=sm.provisioned_concurrency,
                    peaks={
                        p: Peak(
                            start=peak.start,
                            end=peak.end,
                            provisioned_concurrency=peak.provisioned_concurrency,
                            timezone=peak.timezone,
                        )
                        for p, peak in sm.peaks.items()
                    },
                    log_retention_days=cfg.monitoring.retention_days if cfg.monitoring else 30,
                    alert_emails=emails,
                    runbook_base_url=runbooks,
                    cold_start_alarm_seconds=sm.cold_start_alarm_seconds,
                    tags={tags.TENANT: ep.tenant},
                ),
                opts=pulumi.ResourceOptions(provider=aws_provider),
            )
        if ep.vertex is not None and gcp_provider is not None and cfg.gcp is not None:
            vx = ep.vertex
            network, subnet = gcp_network or ("", "")
            result.vertex[name] = VertexEndpoint(
                f"{stack}-{name}",
                VertexEndpointArgs(
                    project=cfg.gcp.project,
                    region=cfg.gcp.region,
                    image=ep.image,
                    repo_model=ep.repo_model,
                    artifact=_vertex_artifact(
                        bucket, artifact_key(ep.repo_model, digest, "vertex"), gcp_store
                    ),
                    machine_type=vx.machine_type,
                    min_replicas=vx.replicas.min,
                    max_replicas=vx.replicas.max,
                    scale_to_zero=vx.scale_to_zero,
                    target_cpu_percent=vx.target_cpu_percent,
                    network=network,
                    subnetwork=subnet,
                    drift=DriftArgs(
                        thresholds=dict(vx.drift.features),
                        sample_rate=vx.drift.sample_rate,
                        interval_hours=vx.drift.interval_hours,
                    )
                    if vx.drift
                    else None,
                    alert_emails=emails,
                    runbook_base_url=runbooks,
                    labels={**base, tags.TENANT: ep.tenant},
                ),
                opts=pulumi.ResourceOptions(provider=gcp_provider),
            )
    return result


def _sagemaker_artifact(bucket: str, key: str, store: AwsModelStore | None) -> ModelArtifact:
    upload = store.artifact_objects.get(key) if store is not None else None
    return ModelArtifact(
        bucket=bucket,
        key=key,
        kms_key_arn=store.kms_key_arn if store is not None else None,
        uploads=[upload] if upload is not None else [],
    )


def _vertex_artifact(bucket: str, prefix: str, store: GcpModelStore | None) -> GcsArtifact:
    uploads = store.root_objects.get(prefix, []) if store is not None else []
    return GcsArtifact(bucket=bucket, prefix=prefix, uploads=list(uploads))


def route_targets(
    cfg: StackConfig,
    serverless: Serverless,
    core: pulumi.StackReference | None,
) -> dict[str, Target]:
    """Each routed class's target: a Triton Service, a SageMaker endpoint, or the core."""
    assert cfg.routing is not None
    targets: dict[str, Target] = {}
    for name, cls in cfg.routing.classes.items():
        if cls.target.deployment is not None:
            targets[name] = ServiceTarget(
                service=cls.target.deployment, namespace=SERVING_NAMESPACE, port=TRITON_HTTP_PORT
            )
        elif cls.target.serverless in serverless.sagemaker:
            targets[name] = SageMakerTarget(
                endpoint_name=serverless.sagemaker[cls.target.serverless].endpoint_name
            )
    if cfg.edge is not None and core is not None:
        for name in cfg.edge.delegate_classes:
            targets[name] = CoreTarget(
                address=core.get_output(out.GATEWAY_ADDRESS),
                server_name=core.get_output(out.API_HOSTNAME),
            )
    return targets


def build_routing(
    cfg: StackConfig,
    stack: str,
    clusters: Mapping[str, ClusterHandle],
    serverless: Serverless,
    *,
    aws_provider: aws.Provider | None = None,
    core: pulumi.StackReference | None = None,
) -> TieredRouting | None:
    """The tiered routing on ``routing.entryCluster``; None when that cluster is not built."""
    routing = cfg.routing
    if routing is None or routing.entry_cluster not in clusters:
        return None
    entry = clusters[routing.entry_cluster]
    targets = route_targets(cfg, serverless, core)
    sigv4 = None
    sagemaker = [t for t in targets.values() if isinstance(t, SageMakerTarget)]
    if sagemaker and routing.sigv4_proxy_image and cfg.aws is not None:
        annotations: dict[str, pulumi.Input[str]] = {}
        if entry.oidc_provider_arn is not None and aws_provider is not None:
            # The proxy signs with a role that may invoke exactly these endpoints (IRSA).
            used = sorted(
                {c.target.serverless for c in routing.classes.values() if c.target.serverless}
            )
            invoker = SageMakerInvoker(
                f"{stack}-gateway-invoker",
                SageMakerInvokerArgs(
                    assume_role_policy=entry.irsa_assume_role_policy(
                        ROUTING_NAMESPACE, SIGV4_SERVICE_ACCOUNT
                    ),
                    endpoint_arns=[
                        serverless.sagemaker[n].endpoint_arn
                        for n in used
                        if n in serverless.sagemaker
                    ],
                ),
                opts=pulumi.ResourceOptions(provider=aws_provider),
            )
            annotations["eks.amazonaws.com/role-arn"] = invoker.role_arn
        sigv4 = SigV4Proxy(
            image=routing.sigv4_proxy_image,
            region=cfg.aws.region,
            service_account_annotations=annotations,
        )
    return TieredRouting(
        f"{stack}-routing",
        TieredRoutingArgs(
            header=routing.header,
            classes=targets,
            default_class=routing.default_class,
            namespace=ROUTING_NAMESPACE,
            envoy_gateway_version=routing.envoy_gateway_version,
            tls_secret=routing.tls_secret,
            sigv4=sigv4,
            load_balancer_annotations=(
                {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
                if entry.cloud == Cloud.AWS.value
                else {}
            ),
            labels={tags.K8S_PREFIX + "stack": stack},
        ),
        opts=pulumi.ResourceOptions(provider=entry.provider),
    )


def build_dns(
    cfg: StackConfig,
    stack: str,
    *,
    aws_provider: aws.Provider | None,
    routing: TieredRouting | None,
    core: pulumi.StackReference | None,
) -> dict[str, Any]:
    """The core's zone (when ``routing.dns`` is set) and this region's latency record.

    Returns the outputs to export (zone id, name servers, API name, gateway address).
    """
    if aws_provider is None or cfg.aws is None or cfg.routing is None:
        return {}
    opts = pulumi.ResourceOptions(provider=aws_provider)
    exported: dict[str, Any] = {}
    zone_id: pulumi.Input[str] | None = None
    hostname: pulumi.Input[str] | None = None
    health_path = "/v2/health/ready"
    if cfg.routing.dns is not None:
        zone = ApiZone(f"{stack}-api", ApiZoneArgs(zone=cfg.routing.dns.zone), opts=opts)
        zone_id, hostname = zone.zone_id, cfg.routing.dns.hostname
        health_path = cfg.routing.dns.health_check_path
        exported[out.DNS_ZONE_ID] = zone.zone_id
        exported[out.DNS_NAME_SERVERS] = zone.name_servers
    elif core is not None:
        # The edge joins the core's name: same zone, same hostname, its own region.
        zone_id = core.get_output(out.DNS_ZONE_ID)
        hostname = core.get_output(out.API_HOSTNAME)
    if hostname is not None:
        exported[out.API_HOSTNAME] = hostname
    if routing is not None and zone_id is not None and hostname is not None:
        RegionalApiRecord(
            f"{stack}-api-{cfg.aws.region}",
            RegionalApiRecordArgs(
                zone_id=zone_id,
                hostname=hostname,
                region=cfg.aws.region,
                target=routing.address,
                health_check_path=health_path,
            ),
            opts=opts,
        )
        exported[out.GATEWAY_ADDRESS] = routing.address
    return exported


def served_models(cfg: StackConfig) -> list[str]:
    """Repo models the stack serves: its deployments' and its serverless endpoints'."""
    models = {m for d in cfg.models.values() for m in d.repo_models}
    models |= {ep.repo_model for ep in cfg.serverless.values()}
    return sorted(models)


class EdgeMisaligned(pulumi.RunError):
    """The edge would serve something the core does not: refused before anything changes."""


def check_edge_against_core(
    cfg: StackConfig, own_pins: Mapping[str, Mapping[str, Any]], core: pulumi.StackReference
) -> pulumi.Output[str]:
    """Refuse the edge when its models or classes are out of line with the core's outputs.

    Checked when the core's outputs arrive (``pulumi up`` reads them from the state
    backend; the offline preview from the core's recorded plan).
    """
    assert cfg.edge is not None
    core_name = cfg.edge.core_stack
    served = sorted({*(cfg.routing.classes if cfg.routing else {}), *cfg.edge.delegate_classes})

    def check(values: list[Any]) -> str:
        pins, routing = values
        problems: list[str] = []
        if not pins:
            problems.append(
                f"the core stack {core_name} exports no {out.MODEL_PINS}; deploy the core first"
            )
        else:
            problems += misaligned(own_pins, pins)
        core_classes = set((routing or {}).get("classes", {}))
        for cls in served:
            if cls not in core_classes:
                problems.append(
                    f"class {cls}: the edge routes or delegates it, but the core does not route "
                    "it, so delegation and failover to the core would fail; add it to the "
                    "core's routing.classes"
                )
        if problems:
            raise EdgeMisaligned(
                f"edge stack is out of line with its core {core_name}:\n  " + "\n  ".join(problems)
            )
        return f"aligned with {core_name}: {len(own_pins)} models, {len(served)} classes"

    return pulumi.Output.all(core.get_output(out.MODEL_PINS), core.get_output(out.ROUTING)).apply(
        check
    )


def routing_export(cfg: StackConfig) -> dict[str, Any] | None:
    if cfg.routing is None:
        return None
    return {
        "header": cfg.routing.header,
        "defaultClass": cfg.routing.default_class,
        "classes": {n: c.tier.value for n, c in sorted(cfg.routing.classes.items())},
        "delegated": list(cfg.edge.delegate_classes) if cfg.edge else [],
    }
