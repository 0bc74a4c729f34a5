"""Section 5, routing and edge: the gateway on the entry cluster, the API's DNS, the edge's core.

Requests carry a class in a header (``routing.header``); each class goes to a Triton
Service, a SageMaker endpoint (through a SigV4-signing proxy) or, on the edge, back
to the core. The core creates the API's zone; core and edge each add a latency
record with a health check, so clients reach the nearest healthy region. The edge
reads the core's outputs by StackReference and is refused when its models or
classes are out of line with the core's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from blueprint import outputs as out
from blueprint import tags
from blueprint.modelrepo.llm import HEALTH_PATH as LLM_HEALTH_PATH
from blueprint.modelrepo.llm import SERVED_PORT as LLM_PORT
from blueprint.modelrepo.llm import is_llm
from blueprint.modelrepo.pins import misaligned, model_pins
from blueprint.schema import NAMESPACE, AuthMode, Cloud, GatewayExposure, RoutingConfig, StackConfig
from blueprint.triton import HTTP_PORT
from components.aws.dns import ApiZone, ApiZoneArgs, RegionalApiRecord, RegionalApiRecordArgs
from components.aws.sagemaker import SageMakerInvoker, SageMakerInvokerArgs
from components.k8s.handle import ClusterHandle
from components.k8s.routing import (
    HEALTH_PATH,
    ApiKeyAuth,
    Auth,
    CoreTarget,
    JwtAuth,
    Limit,
    SageMakerTarget,
    ServiceTarget,
    SigV4Proxy,
    Target,
    TenantRateLimit,
    TieredRouting,
    TieredRoutingArgs,
)
from composition.context import StackContext, required, secret_object
from composition.foundation import Foundation
from composition.serverless import Serverless
from composition.serving import ROUTING_NAMESPACE, SERVING_NAMESPACE

SIGV4_SERVICE_ACCOUNT = "sagemaker-sigv4"
API_KEYS_SECRET = "gatewayApiKeys"  # noqa: S105 (a config key's name, not a password)

LOAD_BALANCER_ANNOTATIONS: Mapping[Cloud, Mapping[GatewayExposure | None, Mapping[str, str]]] = {
    # The in-tree AWS cloud provider's NLB; internal: inside the VPC only.
    Cloud.AWS: {
        None: {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
        GatewayExposure.INTERNAL: {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
    },
    # GKE's internal passthrough Network Load Balancer.
    Cloud.GCP: {GatewayExposure.INTERNAL: {"networking.gke.io/load-balancer-type": "Internal"}},
}
"""Per cloud, the gateway load balancer's annotations: always (None), and per exposure."""


def load_balancer_annotations(cloud: Cloud, exposure: GatewayExposure) -> dict[str, str]:
    table = LOAD_BALANCER_ANNOTATIONS.get(cloud, {})
    return {**table.get(None, {}), **table.get(exposure, {})}


@dataclass(frozen=True)
class Core:
    """On the edge: the core stack, read by StackReference, and the alignment check."""

    reference: pulumi.StackReference
    alignment: pulumi.Output[str]


def served_models(cfg: StackConfig) -> list[str]:
    """Repo models the stack serves: its deployments' and its serverless endpoints'."""
    models = {m for d in cfg.models.values() for m in d.repo_models}
    models |= {ep.repo_model for ep in cfg.serverless.values()}
    return sorted(models)


def core(ctx: StackContext) -> Core | None:
    """The core stack of an edge stack (None elsewhere), checked against the edge."""
    if ctx.config.edge is None:
        return None
    reference = pulumi.StackReference(ctx.config.edge.core_stack)
    pins = model_pins(served_models(ctx.config))
    return Core(reference=reference, alignment=check_edge_against_core(ctx.config, pins, reference))


def service_target(cfg: StackConfig, deployment: str) -> ServiceTarget:
    """A deployment's Service: vLLM's OpenAI server for an LLM deployment, else Triton."""
    if any(is_llm(m) for m in cfg.models[deployment].repo_models):
        return ServiceTarget(
            service=deployment,
            namespace=SERVING_NAMESPACE,
            port=LLM_PORT,
            health_path=LLM_HEALTH_PATH,
        )
    return ServiceTarget(service=deployment, namespace=SERVING_NAMESPACE, port=HTTP_PORT)


def route_targets(
    cfg: StackConfig, serverless: Serverless, core: pulumi.StackReference | None
) -> dict[str, Target]:
    """Each routed class's target: a Triton Service, a SageMaker endpoint, or the core."""
    targets: dict[str, Target] = {}
    if cfg.routing is None:
        return targets
    for name, cls in cfg.routing.classes.items():
        if cls.target.deployment is not None:
            targets[name] = service_target(cfg, cls.target.deployment)
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


def build(
    ctx: StackContext,
    clusters: Mapping[str, ClusterHandle],
    serverless: Serverless,
    base: Foundation,
    core: Core | None = None,
) -> TieredRouting | None:
    """The tiered routing on ``routing.entryCluster``; None when that cluster is not built."""
    cfg = ctx.config
    routing = cfg.routing
    if routing is None or routing.entry_cluster not in clusters:
        return None
    entry = clusters[routing.entry_cluster]
    targets = route_targets(cfg, serverless, core.reference if core else None)
    sigv4 = None
    sagemaker = [t for t in targets.values() if isinstance(t, SageMakerTarget)]
    if sagemaker and routing.sigv4_proxy_image and cfg.aws is not None:
        annotations: dict[str, pulumi.Input[str]] = {}
        if entry.oidc_provider_arn is not None and base.aws is not None:
            # The proxy signs with a role that may invoke exactly these endpoints (IRSA).
            used = sorted(
                {c.target.serverless for c in routing.classes.values() if c.target.serverless}
            )
            invoker = SageMakerInvoker(
                ctx.name("gateway", "invoker"),
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
                opts=pulumi.ResourceOptions(provider=base.aws.provider),
            )
            annotations["eks.amazonaws.com/role-arn"] = invoker.role_arn
        sigv4 = SigV4Proxy(
            image=routing.sigv4_proxy_image,
            region=cfg.aws.region,
            service_account_annotations=annotations,
        )
    gw = routing.gateway
    return TieredRouting(
        ctx.name("routing"),
        TieredRoutingArgs(
            header=routing.header,
            classes=targets,
            default_class=routing.default_class,
            namespace=ROUTING_NAMESPACE,
            envoy_gateway_version=routing.envoy_gateway_version,
            tls_secret=routing.tls_secret,
            sigv4=sigv4,
            load_balancer_annotations=load_balancer_annotations(Cloud(entry.cloud), gw.exposure),
            load_balancer_source_ranges=[str(r) for r in gw.source_ranges],
            auth=gateway_auth(routing),
            rate_limit=(
                TenantRateLimit(
                    default=Limit(requests=gw.rate_limit.requests, unit=gw.rate_limit.unit),
                    tenants={
                        t: Limit(requests=v.requests, unit=v.unit)
                        for t, v in sorted(gw.rate_limit.tenants.items())
                    },
                )
                if gw.rate_limit is not None
                else None
            ),
            health_path=routing.dns.health_check_path if routing.dns else HEALTH_PATH,
            labels={tags.K8S_PREFIX + "stack": ctx.stack},
        ),
        opts=pulumi.ResourceOptions(provider=entry.provider),
    )


def gateway_auth(routing: RoutingConfig) -> Auth | None:
    """The gateway's auth from the config; API keys from the stack secret (refused when unset)."""
    auth = routing.gateway.auth
    if auth is None:
        return None
    if auth.mode is AuthMode.JWT:
        return JwtAuth(
            issuer=required(auth.issuer, "routing.gateway.auth.issuer"),
            jwks_uri=required(auth.jwks_uri, "routing.gateway.auth.jwksUri"),
            tenant_claim=required(auth.tenant_claim, "routing.gateway.auth.tenantClaim"),
            audiences=tuple(auth.audiences),
        )
    keys = secret_object(API_KEYS_SECRET)
    if keys is None:
        raise pulumi.RunError(
            f"routing.gateway.auth: mode apiKey reads the tenants' keys from the stack secret "
            f"{NAMESPACE}:{API_KEYS_SECRET}; set one per tenant with `pulumi config set --secret "
            f"--path '{NAMESPACE}:{API_KEYS_SECRET}.<tenant>' <key>`"
        )
    return ApiKeyAuth(keys=keys.apply(_key_map), header=auth.api_key_header)


def _key_map(value: Any) -> dict[str, str]:
    """The decrypted key map, checked without ever showing a key."""
    if not isinstance(value, Mapping) or not value:
        raise pulumi.RunError(
            f"{NAMESPACE}:{API_KEYS_SECRET} must map each tenant to its key (value not shown); "
            "set it with `pulumi config set --secret --path "
            f"'{NAMESPACE}:{API_KEYS_SECRET}.<tenant>' <key>`"
        )
    bad = sorted(str(t) for t, k in value.items() if not isinstance(k, str) or not k)
    if bad:
        raise pulumi.RunError(
            f"{NAMESPACE}:{API_KEYS_SECRET}: the keys of {', '.join(bad)} are not non-empty "
            "strings (values not shown)"
        )
    return {str(t): str(k) for t, k in sorted(value.items())}


def build_dns(
    ctx: StackContext, base: Foundation, routing: TieredRouting | None, core: Core | None
) -> dict[str, Any]:
    """The core's zone (when ``routing.dns`` is set) and this region's latency record.

    Returns the outputs to export (zone id, name servers, API name, gateway address).
    """
    cfg = ctx.config
    if base.aws is None or cfg.aws is None or cfg.routing is None:
        return {}
    opts = pulumi.ResourceOptions(provider=base.aws.provider)
    exported: dict[str, Any] = {}
    zone_id: pulumi.Input[str] | None = None
    hostname: pulumi.Input[str] | None = None
    health_path = HEALTH_PATH
    if cfg.routing.dns is not None:
        zone = ApiZone(ctx.name("api"), ApiZoneArgs(zone=cfg.routing.dns.zone), opts=opts)
        zone_id, hostname = zone.zone_id, cfg.routing.dns.hostname
        health_path = cfg.routing.dns.health_check_path
        exported[out.DNS_ZONE_ID] = zone.zone_id
        exported[out.DNS_NAME_SERVERS] = zone.name_servers
    elif core is not None:
        # The edge joins the core's name: same zone, same hostname, its own region.
        zone_id = core.reference.get_output(out.DNS_ZONE_ID)
        hostname = core.reference.get_output(out.API_HOSTNAME)
    if hostname is not None:
        exported[out.API_HOSTNAME] = hostname
    if routing is not None and zone_id is not None and hostname is not None:
        RegionalApiRecord(
            ctx.name("api", cfg.aws.region),
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


class EdgeMisaligned(pulumi.RunError):
    """The edge would serve something the core does not: refused before anything changes."""


def check_edge_against_core(
    cfg: StackConfig, own_pins: Mapping[str, Mapping[str, Any]], core: pulumi.StackReference
) -> pulumi.Output[str]:
    """Refuse the edge when its models or classes are out of line with the core's outputs.

    Checked when the core's outputs arrive (``pulumi up`` reads them from the state
    backend; the offline preview from the core's recorded plan).
    """
    edge = required(cfg.edge, "edge")
    core_name = edge.core_stack
    served = sorted({*(cfg.routing.classes if cfg.routing else {}), *edge.delegate_classes})

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
        own_auth = auth_export(cfg.routing) if cfg.routing else None
        core_auth = (routing or {}).get("auth")
        if edge.delegate_classes and own_auth != core_auth:
            problems.append(
                f"routing.gateway.auth: the edge hands delegated classes to the core with the "
                f"caller's credential, which the core checks again, but the core's auth is "
                f"{core_auth} and the edge's {own_auth}; use the same auth on both"
            )
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
    exported: dict[str, Any] = {
        "header": cfg.routing.header,
        "defaultClass": cfg.routing.default_class,
        "classes": {n: c.tier.value for n, c in sorted(cfg.routing.classes.items())},
        "delegated": list(cfg.edge.delegate_classes) if cfg.edge else [],
    }
    auth = auth_export(cfg.routing)
    if auth is not None:  # no key rather than null: a stack without gateway auth
        exported["auth"] = auth
    return exported


def auth_export(routing: RoutingConfig) -> dict[str, Any] | None:
    """What the edge must share with its core to hand delegated requests over: the core
    checks the forwarded credential again."""
    auth = routing.gateway.auth
    if auth is None:
        return None
    if auth.mode is AuthMode.JWT:
        return {"mode": auth.mode.value, "issuer": auth.issuer, "audiences": list(auth.audiences)}
    return {"mode": auth.mode.value, "header": auth.api_key_header}
