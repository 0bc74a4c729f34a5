"""Rules about tiered routing and the edge: targets exist, tiers fit, the edge delegates.

A request class says which capacity it needs (``tier``) and where it goes
(``target``). The gateway sits on ``routing.entryCluster``, so every target must be
reachable from there: a model deployment on that cluster, or a SageMaker endpoint
(through the in-cluster SigV4 proxy) when the entry cluster is on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.placement import place
from blueprint.schema import (
    NAMESPACE,
    AuthMode,
    Cloud,
    Environment,
    GatewayAuth,
    GatewayExposure,
    RoutingClass,
    StackConfig,
    Tier,
)

# Which pool tiers may serve a class of each tier: at least the capacity it needs.
SERVES: dict[Tier, frozenset[Tier]] = {
    Tier.HEAVY: frozenset({Tier.HEAVY}),
    Tier.LIGHT: frozenset({Tier.LIGHT, Tier.HEAVY}),
    Tier.CPU: frozenset({Tier.CPU, Tier.LIGHT, Tier.HEAVY}),
}


@rule
def routing_targets(cfg: StackConfig) -> Iterator[ConfigIssue]:
    routing = cfg.routing
    if routing is None:
        return
    entry = cfg.clusters.get(routing.entry_cluster)
    if entry is None:
        yield ConfigIssue(
            ("routing", "entryCluster"),
            f"no such cluster; defined clusters: {', '.join(sorted(cfg.clusters)) or 'none'}",
            routing.entry_cluster,
        )
    if routing.default_class is not None and routing.default_class not in routing.classes:
        yield ConfigIssue(
            ("routing", "defaultClass"),
            f"no such class; defined: {', '.join(sorted(routing.classes)) or 'none'}",
            routing.default_class,
        )
    for name, cls in routing.classes.items():
        yield from _class_target(cfg, name, cls, entry.cloud if entry else None)


def _class_target(
    cfg: StackConfig, name: str, cls: RoutingClass, entry_cloud: Cloud | None
) -> Iterator[ConfigIssue]:
    assert cfg.routing is not None
    base = ("routing", "classes", name, "target")
    target = cls.target
    if (target.deployment is None) == (target.serverless is None):
        yield ConfigIssue(base, "must name exactly one of deployment or serverless")
        return
    if target.deployment is not None:
        path = (*base, "deployment")
        dep = cfg.models.get(target.deployment)
        if dep is None:
            yield ConfigIssue(
                path,
                f"no such model deployment; defined: {', '.join(sorted(cfg.models)) or 'none'}",
                target.deployment,
            )
            return
        # An unknown cluster (or entry cluster) is reported once, by its own rule.
        if (
            entry_cloud is not None
            and dep.cluster in cfg.clusters
            and dep.cluster != cfg.routing.entry_cluster
        ):
            yield ConfigIssue(
                path,
                f"runs on cluster {dep.cluster}, but the gateway is on routing.entryCluster "
                f"({cfg.routing.entry_cluster}); route to a deployment on that cluster",
                target.deployment,
            )
        if dep.cluster not in cfg.clusters:
            return  # references_resolve reports an unknown cluster
        pool = place(cfg, target.deployment).pool
        if pool is None:
            return  # the placement rules say why no pool can run it
        if pool.tier not in SERVES[cls.tier]:
            yield ConfigIssue(
                path,
                f"runs on pool {pool.name} (tier {pool.tier.value}), but class {name} needs "
                f"tier {cls.tier.value}; route it to a deployment on a "
                f"{cls.tier.value} pool or change the class's tier",
                target.deployment,
            )
        return
    assert target.serverless is not None
    path = (*base, "serverless")
    ep = cfg.serverless.get(target.serverless)
    if ep is None:
        yield ConfigIssue(
            path,
            "no such serverless endpoint; defined: "
            + (", ".join(sorted(cfg.serverless)) or "none"),
            target.serverless,
        )
        return
    if cls.tier is Tier.HEAVY:
        yield ConfigIssue(
            path,
            f"class {name} needs heavy GPUs, but serverless endpoints are CPU only; route it "
            "to a deployment on a heavy pool",
            target.serverless,
        )
    if ep.cloud is not Cloud.AWS:
        yield ConfigIssue(
            path,
            "the gateway routes to SageMaker endpoints only; a Vertex AI endpoint is "
            "reached over Private Service Connect by callers with Google credentials",
            target.serverless,
        )
    elif entry_cloud is not None and entry_cloud is not Cloud.AWS:
        yield ConfigIssue(
            path,
            f"a SageMaker endpoint is reached from an AWS entry cluster; "
            f"{cfg.routing.entry_cluster} is on {entry_cloud.value}",
            target.serverless,
        )
    elif cfg.routing.sigv4_proxy_image is None:
        yield ConfigIssue(
            ("routing", "sigv4ProxyImage"),
            f"required: class {name} goes to SageMaker endpoint {target.serverless}, which "
            "the gateway reaches through a SigV4-signing proxy; pin its image",
        )


@rule
def edge_and_core(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.environment is Environment.EDGE and cfg.edge is None:
        yield ConfigIssue(
            ("edge",),
            "required on the edge stack: set coreStack to the core's <org>/<project>/<stack>",
        )
    if cfg.environment is not Environment.EDGE and cfg.edge is not None:
        yield ConfigIssue(
            ("edge",), f"only the edge stack has an edge section (this is {cfg.environment.value})"
        )
    if cfg.edge is None:
        return
    if cfg.edge.delegate_classes and cfg.routing is None:
        yield ConfigIssue(
            ("edge", "delegateClasses"),
            "delegated classes are routed by the edge's gateway: add a routing section "
            "(entryCluster, envoyGatewayVersion)",
            list(cfg.edge.delegate_classes),
        )
    local = cfg.routing.classes if cfg.routing else {}
    for i, cls in enumerate(cfg.edge.delegate_classes):
        if cls in local:
            yield ConfigIssue(
                ("edge", "delegateClasses", i),
                f"is also routed locally by routing.classes.{cls}; a delegated class goes to "
                "the core: remove it from one of the two",
                cls,
            )
    if cfg.routing is not None and cfg.routing.dns is not None:
        yield ConfigIssue(
            ("routing", "dns"),
            "the edge joins the core's DNS name (read from the core's outputs); remove "
            "routing.dns from the edge stack",
        )


# Seconds per rate-limit unit: Envoy Gateway's local rate limit refuses a rule whose unit is
# not a multiple of the default rule's (internal/gatewayapi/backendtrafficpolicy.go, v1.5.9).
UNIT_SECONDS = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400}
JWT_ONLY = ("issuer", "jwksUri", "audiences", "tenantClaim")


@rule
def gateway_exposure_and_auth(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.routing is None:
        return
    gw = cfg.routing.gateway
    base = ("routing", "gateway")
    if gw.exposure is GatewayExposure.RESTRICTED and not gw.source_ranges:
        yield ConfigIssue(
            (*base, "sourceRanges"),
            "required when exposure is restricted: the CIDRs the load balancer admits, "
            "such as [203.0.113.0/24]",
        )
    if gw.exposure is GatewayExposure.PUBLIC and gw.source_ranges:
        yield ConfigIssue(
            (*base, "sourceRanges"),
            "a public gateway admits every address; set exposure: restricted to admit only "
            "these ranges, or remove sourceRanges",
            [str(r) for r in gw.source_ranges],
        )
    for i, cidr in enumerate(gw.source_ranges):
        if cidr.prefixlen == 0:
            yield ConfigIssue(
                (*base, "sourceRanges", i),
                "admits every address; that is exposure: public (with auth)",
                str(cidr),
            )
    if gw.exposure is GatewayExposure.PUBLIC and gw.auth is None:
        yield ConfigIssue(
            (*base, "auth"),
            "required when exposure is public: set mode: apiKey (keys from the stack secret "
            f"{NAMESPACE}:gatewayApiKeys) or mode: jwt (issuer, jwksUri, tenantClaim)",
        )
    if gw.rate_limit is not None and gw.auth is None:
        yield ConfigIssue(
            (*base, "rateLimit"),
            "per-tenant limits need auth: the tenant is the authenticated identity (an API "
            "key's client id or a JWT claim), never a header the caller sends; add auth",
        )
    if gw.auth is not None:
        yield from _auth_settings(gw.auth, (*base, "auth"))
    if gw.rate_limit is not None:
        default = UNIT_SECONDS[gw.rate_limit.unit]
        for tenant, limit in gw.rate_limit.tenants.items():
            if UNIT_SECONDS[limit.unit] % default:
                shorter = [u for u, s in UNIT_SECONDS.items() if s % default == 0]
                yield ConfigIssue(
                    (*base, "rateLimit", "tenants", tenant, "unit"),
                    f"must be a multiple of rateLimit.unit ({gw.rate_limit.unit}): Envoy "
                    f"Gateway's local rate limit refuses a shorter one; use one of "
                    f"{', '.join(shorter)}",
                    limit.unit,
                )


def _auth_settings(auth: GatewayAuth, base: tuple[str, ...]) -> Iterator[ConfigIssue]:
    if auth.mode is AuthMode.JWT:
        for key, value in (
            ("issuer", auth.issuer),
            ("jwksUri", auth.jwks_uri),
            ("tenantClaim", auth.tenant_claim),
        ):
            if value is None:
                yield ConfigIssue(
                    (*base, key),
                    "required with mode jwt: "
                    + {
                        "issuer": "the https:// issuer (iss) of the tokens",
                        "jwksUri": "the https:// URL of the issuer's JSON Web Key Set",
                        "tenantClaim": "the claim that names the caller's tenant",
                    }[key],
                )
        return
    given = {
        "issuer": auth.issuer,
        "jwksUri": auth.jwks_uri,
        "audiences": auth.audiences or None,
        "tenantClaim": auth.tenant_claim,
    }
    for key in JWT_ONLY:
        if given[key] is not None:
            yield ConfigIssue(
                (*base, key),
                "is a jwt setting; with mode apiKey the tenant is the key's client id "
                f"(the key's name under {NAMESPACE}:gatewayApiKeys): remove it or set mode: jwt",
                given[key],
            )
