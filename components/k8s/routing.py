"""Tiered routing on a cluster: a Gateway API HTTPRoute that sends each request class
(a header tag) to its tier: a Triton Service, a SageMaker endpoint, or the core region.

Creates, as native Kubernetes objects: Envoy Gateway (Helm, pinned) unless the
cluster already runs it; an EnvoyProxy that keeps the proxy's own Service internal;
a GatewayClass and a Gateway with one HTTPS listener; a LoadBalancer Service in
front of the proxy (so the component owns the public address DNS points at); the
HTTPRoute with one rule per class matching ``<header>: <class>`` exactly, and a
catch-all rule for untagged requests to the default class; for SageMaker targets,
a SigV4-signing proxy (Deployment, Service, ServiceAccount) that the route rewrites
to ``/endpoints/<name>/invocations``; for classes delegated to the core, an Envoy
Gateway ``Backend`` pointing at the core's gateway over TLS.

The route matches only the inference paths (:mod:`blueprint.api_paths`); anything else
has no route and gets a 404 from the gateway. A second route sends the health path alone
(exact match, no auth: load balancer and DNS health checks carry no credentials) to the
default class. Security (Envoy Gateway policies): a ``ClientTrafficPolicy`` removes the
tenant header callers send before anything reads it; with auth, a ``SecurityPolicy`` on
the inference route (API keys from a Kubernetes Secret, or JWTs of one issuer) sets the
tenant header from the identity; with rate limits, a ``BackendTrafficPolicy`` gives each
tenant its own local (per proxy replica) bucket.

The route is built by :func:`http_route`, a pure function, so tests check the
object against the Gateway API schema without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from blueprint.api_paths import INFERENCE_PATH_REGEX
from blueprint.monitoring.logformat import TENANT_HEADER, gateway_access_log
from blueprint.triton import HTTP_PORT, READY_PATH
from components._inputs import InputErrors
from components.k8s import netpol

TYPE = "llm-inference:k8s:TieredRouting"
GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_API = "gateway.envoyproxy.io/v1alpha1"
ENVOY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ENVOY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
ENVOY_NAMESPACE = "envoy-gateway-system"
LISTENER_PORT = 8443
"""The Gateway's listener; unprivileged, so Envoy's container port is the same number."""
SIGV4_APP = "sagemaker-sigv4"
"""``app.kubernetes.io/name`` of the SigV4 proxy's pods: its Service and NetworkPolicy select it."""
SIGV4_PORT = 8080
SIGV4_USER = 65534
"""``nobody``: aws-sigv4-proxy's image (FROM scratch) sets no USER, so it would run as root."""
HEALTH_PATH = READY_PATH


def gateway_peer(name: str, namespace: str) -> netpol.Peer:
    """The proxy pods of the component ``name``'s Gateway: Envoy Gateway runs them in its
    own namespace and labels them with the Gateway they serve (as the load balancer selects)."""
    return netpol.Peer(
        namespace=ENVOY_NAMESPACE,
        pod_labels={
            "gateway.envoyproxy.io/owning-gateway-name": f"{name}-gateway",
            "gateway.envoyproxy.io/owning-gateway-namespace": namespace,
        },
    )


@dataclass(frozen=True, kw_only=True)
class ServiceTarget:
    """A serving deployment's Service on this cluster (Triton, or the LLM tier's vLLM)."""

    service: str
    namespace: str
    port: int = HTTP_PORT
    health_path: str = READY_PATH
    """Where the backend answers its readiness (Triton's ready path by default; the LLM
    tier passes vLLM's): the public health path is rewritten to it."""


@dataclass(frozen=True, kw_only=True)
class SageMakerTarget:
    """A SageMaker endpoint, reached through the in-cluster SigV4 proxy."""

    endpoint_name: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class CoreTarget:
    """The core region's gateway: requests of delegated classes are handed back to it."""

    address: pulumi.Input[str]
    """The core gateway's own address (its load balancer), not the shared API name,
    which could resolve back to this edge."""
    server_name: pulumi.Input[str]
    """The API name the core's certificate is for: sent as the Host header. (Envoy
    Gateway 1.5's Backend has no TLS ``sni`` setting; see components/tiered/README.md.)"""
    port: int = 443


Target = ServiceTarget | SageMakerTarget | CoreTarget


@dataclass(frozen=True, kw_only=True)
class ApiKeyAuth:
    """API keys, one per tenant: the tenant is the key's client id."""

    keys: pulumi.Input[Mapping[str, str]]
    """Tenant -> key; a secret Output (the stack secret), stored only in a Kubernetes Secret."""
    header: str = "x-api-key"


@dataclass(frozen=True, kw_only=True)
class JwtAuth:
    """JSON Web Tokens of one issuer, checked against its key set; the tenant is a claim."""

    issuer: str
    jwks_uri: str
    tenant_claim: str
    audiences: Sequence[str] = ()


Auth = ApiKeyAuth | JwtAuth


@dataclass(frozen=True, kw_only=True)
class Limit:
    requests: int
    unit: str
    """Second, Minute, Hour or Day (Envoy Gateway's RateLimitUnit)."""


@dataclass(frozen=True, kw_only=True)
class TenantRateLimit:
    """Each tenant's own bucket (``default``, or its entry in ``tenants``), per proxy replica."""

    default: Limit
    tenants: Mapping[str, Limit] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SigV4Proxy:
    image: str
    region: str
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """E.g. ``eks.amazonaws.com/role-arn``: the role it signs with (IRSA)."""


@dataclass(frozen=True, kw_only=True)
class TieredRoutingArgs:
    header: str
    """The routing tag: requests carry ``<header>: <class>``."""
    classes: Mapping[str, Target]
    default_class: str | None = None
    """Where untagged requests go (and what the health path checks)."""
    namespace: str = "llm-gateway"
    envoy_gateway_version: str | None = None
    """Install Envoy Gateway at this exact chart version; None when the cluster has it."""
    tls_secret: str = "llm-gateway-tls"  # noqa: S105 (a Secret's name, not a password)
    """The listener's certificate (a kubernetes.io/tls Secret in ``namespace``)."""
    sigv4: SigV4Proxy | None = None
    load_balancer_annotations: Mapping[str, str] = field(default_factory=dict)
    """E.g. the cloud's NLB or internal load balancer annotations."""
    load_balancer_source_ranges: Sequence[str] = ()
    """CIDRs the load balancer admits (none: every address its scheme reaches)."""
    auth: Auth | None = None
    rate_limit: TenantRateLimit | None = None
    """Needs ``auth``: the tenant is the authenticated identity."""
    tenant_header: str = TENANT_HEADER
    """Set by the gateway from the identity; a value the caller sends is removed first."""
    health_path: str = HEALTH_PATH
    """Routed alone, without auth, to the default class (load balancer and DNS checks)."""
    labels: Mapping[str, str] = field(default_factory=dict)


INFERENCE_PATHS: dict[str, str] = {"type": "RegularExpression", "value": INFERENCE_PATH_REGEX}
"""The one path match of every inference rule. RegularExpression is implementation-specific
in Gateway API; Envoy Gateway matches it (RE2) against the whole path."""


def _backend_ref(cls: str, target: Target) -> dict[str, Any]:
    if isinstance(target, ServiceTarget):
        return {"name": target.service, "namespace": target.namespace, "port": target.port}
    if isinstance(target, SageMakerTarget):
        return {"name": "sagemaker-sigv4", "port": SIGV4_PORT}
    return {
        "group": "gateway.envoyproxy.io",
        "kind": "Backend",
        "name": "core-gateway",
        "port": target.port,
    }


def _filters(target: Target) -> list[dict[str, Any]]:
    if isinstance(target, SageMakerTarget):
        return [
            {
                "type": "URLRewrite",
                "urlRewrite": {
                    "path": {
                        "type": "ReplaceFullPath",
                        "replaceFullPath": pulumi.Output.concat(
                            "/endpoints/", target.endpoint_name, "/invocations"
                        ),
                    }
                },
            }
        ]
    if isinstance(target, CoreTarget):
        # The core's listener and certificate answer to its own name.
        return [{"type": "URLRewrite", "urlRewrite": {"hostname": target.server_name}}]
    return []


def http_route(
    *,
    name: str,
    namespace: str,
    gateway: str,
    header: str,
    classes: Mapping[str, Target],
    default_class: str | None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The HTTPRoute object: one exact header match per class, then the default; every
    rule matches only the inference paths (:data:`INFERENCE_PATHS`).

    Gateway API gives a rule with a header match precedence over one without, so a
    tagged request always takes its class's rule and only untagged ones fall
    through to the default.
    """
    rules: list[dict[str, Any]] = []
    for cls, target in sorted(classes.items()):
        rule: dict[str, Any] = {
            "matches": [
                {
                    "path": INFERENCE_PATHS,
                    "headers": [{"type": "Exact", "name": header, "value": cls}],
                }
            ],
            "backendRefs": [_backend_ref(cls, target)],
        }
        if filters := _filters(target):
            rule["filters"] = filters
        rules.append(rule)
    if default_class is not None:
        target = classes[default_class]
        rule = {
            "matches": [{"path": INFERENCE_PATHS}],
            "backendRefs": [_backend_ref(default_class, target)],
        }
        if filters := _filters(target):
            rule["filters"] = filters
        rules.append(rule)
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {
            "parentRefs": [{"name": gateway, "sectionName": "https"}],
            "rules": rules,
        },
    }


def gateway(
    *, name: str, namespace: str, gateway_class: str, tls_secret: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The Gateway object: one HTTPS listener, routes from its own namespace only."""
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "gatewayClassName": gateway_class,
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": LISTENER_PORT,
                    "tls": {"mode": "Terminate", "certificateRefs": [{"name": tls_secret}]},
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                }
            ],
        },
    }


def health_route(
    *,
    name: str,
    namespace: str,
    gateway: str,
    path: str,
    target: Target,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The HTTPRoute of the health path alone (exact match) to the default class's target.

    Its own route, so the SecurityPolicy (on the inference route) does not cover it: load
    balancer and DNS health checks carry no credentials.
    """
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "Exact", "value": path}}],
        "backendRefs": [_backend_ref("health", target)],
    }
    filters = _filters(target)
    if isinstance(target, ServiceTarget) and target.health_path != path:
        # The backend's own readiness path (vLLM answers /health, not Triton's).
        rewrite = {"type": "ReplaceFullPath", "replaceFullPath": target.health_path}
        filters = [*filters, {"type": "URLRewrite", "urlRewrite": {"path": rewrite}}]
    if filters:
        rule["filters"] = filters
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"parentRefs": [{"name": gateway, "sectionName": "https"}], "rules": [rule]},
    }


def _target_ref(kind: str, name: str) -> dict[str, str]:
    return {"group": "gateway.networking.k8s.io", "kind": kind, "name": name}


def client_traffic_policy(
    *, name: str, namespace: str, gateway: str, tenant_header: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """Envoy Gateway ``ClientTrafficPolicy`` on the Gateway: the tenant header a caller sends
    is removed as the request arrives (``earlyRequestHeaders``: before routing and before any
    filter), so only the gateway's own auth can set it."""
    return {
        "apiVersion": ENVOY_API,
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "targetRefs": [_target_ref("Gateway", gateway)],
            "headers": {"earlyRequestHeaders": {"remove": [tenant_header]}},
        },
    }


def security_policy(
    *,
    name: str,
    namespace: str,
    route: str,
    auth: Auth,
    tenant_header: str,
    key_secret: str,
    forward_credential: bool,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """Envoy Gateway ``SecurityPolicy`` on the inference route: a request without valid
    credentials gets 401; the tenant header is set from the identity.

    API keys: ``apiKeyAuth`` with the keys of Secret ``key_secret`` (one data key per
    tenant: the client id) and ``forwardClientIDHeader``; ``sanitize`` removes the key
    before the backend unless ``forward_credential`` (the edge hands delegated requests to
    the core, which checks the key again). JWT: one ``jwt`` provider (issuer, remote JWKS,
    audiences) whose ``claimToHeaders`` copies the tenant claim into the header; Envoy
    Gateway forwards the token itself.
    """
    spec: dict[str, Any] = {"targetRefs": [_target_ref("HTTPRoute", route)]}
    if isinstance(auth, ApiKeyAuth):
        spec["apiKeyAuth"] = {
            "credentialRefs": [{"group": "", "kind": "Secret", "name": key_secret}],
            "extractFrom": [{"headers": [auth.header]}],
            "forwardClientIDHeader": tenant_header,
            "sanitize": not forward_credential,
        }
    else:
        provider: dict[str, Any] = {
            "name": "tenants",
            "issuer": auth.issuer,
            "remoteJWKS": {"uri": auth.jwks_uri},
            "claimToHeaders": [{"claim": auth.tenant_claim, "header": tenant_header}],
        }
        if auth.audiences:
            provider["audiences"] = list(auth.audiences)
        spec["jwt"] = {"providers": [provider]}
    return {
        "apiVersion": ENVOY_API,
        "kind": "SecurityPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def _limit(limit: Limit) -> dict[str, Any]:
    return {"requests": limit.requests, "unit": limit.unit}


def rate_limit_policy(
    *,
    name: str,
    namespace: str,
    route: str,
    limits: TenantRateLimit,
    tenant_header: str,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """Envoy Gateway ``BackendTrafficPolicy`` on the inference route: a local rate limit with
    one bucket per tenant (the header the SecurityPolicy set from the identity).

    Rules (Envoy Gateway 1.5 local rate limit): a request takes the strictest rule it
    matches, so the default rule is per distinct tenant *except* the tenants with their own
    limit (an inverted regular expression), and each of those has an exact rule. The rule
    without selectors is the bucket of requests that carry no tenant (a token without the
    tenant claim): they share one bucket of the default size.
    """
    named = sorted(limits.tenants)
    per_tenant: list[dict[str, Any]] = [{"name": tenant_header, "type": "Distinct"}]
    if named:
        per_tenant.append(
            {
                "name": tenant_header,
                "type": "RegularExpression",
                "value": "|".join(named),
                "invert": True,
            }
        )
    rules: list[dict[str, Any]] = [
        {"limit": _limit(limits.default)},
        {"clientSelectors": [{"headers": per_tenant}], "limit": _limit(limits.default)},
    ]
    for tenant in named:
        rules.append(
            {
                "clientSelectors": [
                    {"headers": [{"name": tenant_header, "type": "Exact", "value": tenant}]}
                ],
                "limit": _limit(limits.tenants[tenant]),
            }
        )
    return {
        "apiVersion": ENVOY_API,
        "kind": "BackendTrafficPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "targetRefs": [_target_ref("HTTPRoute", route)],
            "rateLimit": {"type": "Local", "local": {"rules": rules}},
        },
    }


class TieredRouting(pulumi.ComponentResource):
    address: pulumi.Output[str]
    """The gateway's public address (load balancer hostname or IP): what DNS points at."""
    gateway_name: pulumi.Output[str]
    """The Gateway's name."""

    def __init__(
        self, name: str, args: TieredRoutingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        errors = InputErrors(TYPE, name)
        errors.check(
            args.default_class is None or args.default_class in args.classes,
            "default_class",
            f"{args.default_class!r} is not one of the classes ({', '.join(sorted(args.classes))})",
        )
        sagemaker = sorted(c for c, t in args.classes.items() if isinstance(t, SageMakerTarget))
        errors.check(
            not sagemaker or args.sigv4 is not None,
            "sigv4",
            f"classes {sagemaker} go to SageMaker endpoints, reached through the SigV4 proxy",
        )
        errors.check(
            args.rate_limit is None or args.auth is not None,
            "rate_limit",
            "per-tenant limits need auth: the tenant is the authenticated identity",
        )
        errors.check(
            args.health_path.startswith("/") and "//" not in args.health_path,
            "health_path",
            f"must be an absolute path (got {args.health_path!r})",
        )
        errors.raise_if_any()
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._labels = {**args.labels, "app.kubernetes.io/part-of": "llm-gateway"}

        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.namespace,
                "labels": {**self._labels, "pod-security.kubernetes.io/enforce": "restricted"},
            },
            opts=self._child,
        )
        self._isolate(ns)
        after: list[pulumi.Resource] = [ns]
        if args.envoy_gateway_version is not None:
            after.append(self._install_envoy_gateway())
        gw = self._create_gateway(after)
        lb = self._create_load_balancer(gw)
        backends = self._create_backends(after)
        route = http_route(
            name=f"{name}-classes",
            namespace=args.namespace,
            gateway=f"{name}-gateway",
            header=args.header,
            classes=args.classes,
            default_class=args.default_class,
            labels=self._labels,
        )
        after_gateway = pulumi.ResourceOptions(parent=self, depends_on=[gw, *backends])
        self._custom(route, after_gateway)
        if args.default_class is not None:
            self._custom(
                health_route(
                    name=f"{name}-health",
                    namespace=args.namespace,
                    gateway=f"{name}-gateway",
                    path=args.health_path,
                    target=args.classes[args.default_class],
                    labels=self._labels,
                ),
                after_gateway,
            )
        self._create_policies(gw, route_name=route["metadata"]["name"])

        ingress = lb.status.load_balancer.ingress
        self.address = ingress.apply(lambda i: (i[0].hostname or i[0].ip) if i else "")
        self.gateway_name = pulumi.Output.from_input(f"{name}-gateway")
        self.register_outputs({"address": self.address, "gateway_name": self.gateway_name})

    def _isolate(self, ns: k8s.core.v1.Namespace) -> None:
        """Default deny in the gateway's namespace; the SigV4 proxy (when there is one)
        takes the gateway's requests and calls SageMaker (HTTPS)."""
        a = self._args
        sigv4 = a.sigv4 is not None and any(
            isinstance(t, SageMakerTarget) for t in a.classes.values()
        )
        proxy = {"app.kubernetes.io/name": SIGV4_APP}
        flows = (
            [
                netpol.Flow(
                    name="gateway-to-sigv4",
                    pod_labels=proxy,
                    port=SIGV4_PORT,
                    source=gateway_peer(self._name, a.namespace),
                )
            ]
            if sigv4
            else []
        )
        opts = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        for doc in netpol.isolation(
            a.namespace, flows, cloud_egress=sigv4, cloud_egress_pods=proxy
        ):
            netpol.create(self._name, doc, opts)

    def _custom(
        self, doc: Mapping[str, Any], opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        """A custom resource from a rendered object, named as the object."""
        return k8s.apiextensions.CustomResource(
            str(doc["metadata"]["name"]),
            api_version=doc["apiVersion"],
            kind=doc["kind"],
            metadata=doc["metadata"],
            spec=doc["spec"],
            opts=opts,
        )

    def _create_policies(self, gw: pulumi.Resource, route_name: str) -> None:
        """The tenant header stripped on arrival; auth and per-tenant limits on the route."""
        a = self._args
        opts = pulumi.ResourceOptions(parent=self, depends_on=[gw])
        self._custom(
            client_traffic_policy(
                name=f"{self._name}-client",
                namespace=a.namespace,
                gateway=f"{self._name}-gateway",
                tenant_header=a.tenant_header,
                labels=self._labels,
            ),
            opts,
        )
        if a.auth is None:
            return
        key_secret = f"{self._name}-api-keys"
        after: list[pulumi.Resource] = [gw]
        if isinstance(a.auth, ApiKeyAuth):
            # Data keys are the tenants (client ids), values their keys: all of it secret.
            after.append(
                k8s.core.v1.Secret(
                    key_secret,
                    metadata={"name": key_secret, "namespace": a.namespace, "labels": self._labels},
                    type="Opaque",
                    string_data=pulumi.Output.secret(a.auth.keys),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        self._custom(
            security_policy(
                name=f"{self._name}-auth",
                namespace=a.namespace,
                route=route_name,
                auth=a.auth,
                tenant_header=a.tenant_header,
                key_secret=key_secret,
                forward_credential=any(isinstance(t, CoreTarget) for t in a.classes.values()),
                labels=self._labels,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        if a.rate_limit is not None:
            self._custom(
                rate_limit_policy(
                    name=f"{self._name}-limits",
                    namespace=a.namespace,
                    route=route_name,
                    limits=a.rate_limit,
                    tenant_header=a.tenant_header,
                    labels=self._labels,
                ),
                opts,
            )

    def _install_envoy_gateway(self) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{self._name}-envoy-gateway",
            name="envoy-gateway",
            chart=ENVOY_CHART,
            version=self._args.envoy_gateway_version,
            namespace=ENVOY_NAMESPACE,
            create_namespace=True,
            # The Backend API (for handing classes to the core) is off by default.
            values={"config": {"envoyGateway": {"extensionApis": {"enableBackend": True}}}},
            opts=self._child,
        )

    def _create_gateway(self, after: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        a = self._args
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)
        proxy = k8s.apiextensions.CustomResource(
            f"{self._name}-proxy",
            api_version=ENVOY_API,
            kind="EnvoyProxy",
            metadata={"name": f"{self._name}-proxy", "namespace": a.namespace},
            # The proxy's own Service stays internal; ours (below) is the public one.
            spec={
                "provider": {
                    "type": "Kubernetes",
                    "kubernetes": {"envoyService": {"type": "ClusterIP"}},
                },
                # One JSON line per request: route, model, tenant, prompt size (issue 5).
                "telemetry": {"accessLog": gateway_access_log(a.header)},
            },
            opts=opts,
        )
        gw_class = k8s.apiextensions.CustomResource(
            f"{self._name}-class",
            api_version=GATEWAY_API,
            kind="GatewayClass",
            metadata={"name": f"{self._name}-envoy", "labels": self._labels},
            spec={
                "controllerName": ENVOY_CONTROLLER,
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": f"{self._name}-proxy",
                    "namespace": a.namespace,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, proxy]),
        )
        doc = gateway(
            name=f"{self._name}-gateway",
            namespace=a.namespace,
            gateway_class=f"{self._name}-envoy",
            tls_secret=a.tls_secret,
            labels=self._labels,
        )
        return k8s.apiextensions.CustomResource(
            f"{self._name}-gateway",
            api_version=doc["apiVersion"],
            kind=doc["kind"],
            metadata=doc["metadata"],
            spec=doc["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gw_class]),
        )

    def _create_load_balancer(self, gw: k8s.apiextensions.CustomResource) -> k8s.core.v1.Service:
        a = self._args
        metadata: Any = {
            "name": f"{self._name}-lb",
            # Envoy Gateway runs the proxy pods in its own namespace.
            "namespace": ENVOY_NAMESPACE,
            "labels": self._labels,
            "annotations": dict(a.load_balancer_annotations),
        }
        spec: Any = {
            "type": "LoadBalancer",
            "selector": {
                "gateway.envoyproxy.io/owning-gateway-name": f"{self._name}-gateway",
                "gateway.envoyproxy.io/owning-gateway-namespace": a.namespace,
            },
            "ports": [{"name": "https", "port": 443, "targetPort": LISTENER_PORT}],
            # Keeps the client's address, which the source ranges are checked against.
            "externalTrafficPolicy": "Local",
        }
        if a.load_balancer_source_ranges:
            spec["loadBalancerSourceRanges"] = list(a.load_balancer_source_ranges)
        return k8s.core.v1.Service(
            f"{self._name}-lb",
            metadata=metadata,
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gw]),
        )

    def _create_backends(self, after: list[pulumi.Resource]) -> list[pulumi.Resource]:
        a = self._args
        created: list[pulumi.Resource] = []
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)
        if any(isinstance(t, SageMakerTarget) for t in a.classes.values()) and a.sigv4:
            created += self._create_sigv4_proxy(a.sigv4, opts)
        namespaces = sorted(
            {t.namespace for t in a.classes.values() if isinstance(t, ServiceTarget)}
            - {a.namespace}
        )
        for target_ns in namespaces:
            # A route may send to Services of another namespace only if it allows it.
            created.append(
                k8s.apiextensions.CustomResource(
                    f"{self._name}-grant-{target_ns}",
                    api_version="gateway.networking.k8s.io/v1beta1",
                    kind="ReferenceGrant",
                    metadata={"name": f"{self._name}-routes", "namespace": target_ns},
                    spec={
                        "from": [
                            {
                                "group": "gateway.networking.k8s.io",
                                "kind": "HTTPRoute",
                                "namespace": a.namespace,
                            }
                        ],
                        "to": [{"group": "", "kind": "Service"}],
                    },
                    opts=opts,
                )
            )
        cores = {str(t.port): t for t in a.classes.values() if isinstance(t, CoreTarget)}
        for core in cores.values():
            created.append(
                k8s.apiextensions.CustomResource(
                    f"{self._name}-core",
                    api_version=ENVOY_API,
                    kind="Backend",
                    metadata={"name": "core-gateway", "namespace": a.namespace},
                    spec={
                        "endpoints": [{"fqdn": {"hostname": core.address, "port": core.port}}],
                        # No ``sni``: Backend's TLS settings gained it after Envoy Gateway 1.5
                        # (the v1.5 CRD has none, so the API server would drop it). The
                        # route's URLRewrite sets Host to ``server_name``.
                        "tls": {"wellKnownCACertificates": "System"},
                    },
                    opts=opts,
                )
            )
        return created

    def _create_sigv4_proxy(
        self, proxy: SigV4Proxy, opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        ns = self._args.namespace
        labels = {**self._labels, "app.kubernetes.io/name": SIGV4_APP}
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-sigv4",
            metadata={
                "name": "sagemaker-sigv4",
                "namespace": ns,
                "labels": labels,
                "annotations": dict(proxy.service_account_annotations),
            },
            opts=opts,
        )
        spec: Any = {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": SIGV4_APP}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "sagemaker-sigv4",
                    # No Kubernetes API token: IRSA and EKS Pod Identity inject their own
                    # projected token for STS, which is all the proxy calls.
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": SIGV4_USER,
                        "runAsGroup": SIGV4_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "sigv4",
                            "image": proxy.image,
                            "args": [
                                "--name",
                                "sagemaker",
                                "--region",
                                proxy.region,
                                "--host",
                                f"runtime.sagemaker.{proxy.region}.amazonaws.com",
                                "--port",
                                f":{SIGV4_PORT}",
                            ],
                            "ports": [{"name": "http", "containerPort": SIGV4_PORT}],
                            # The proxy has no health path of its own: a listening socket is its
                            # readiness and liveness.
                            "readinessProbe": {
                                "tcpSocket": {"port": SIGV4_PORT},
                                "periodSeconds": 5,
                            },
                            "livenessProbe": {
                                "tcpSocket": {"port": SIGV4_PORT},
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                # The image has no USER (it runs as root), so the kubelet
                                # refuses runAsNonRoot unless a user is set here: nobody.
                                "runAsUser": SIGV4_USER,
                                "runAsGroup": SIGV4_USER,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        }
                    ],
                },
            },
        }
        meta: Any = {"name": "sagemaker-sigv4", "namespace": ns, "labels": labels}
        deployment = k8s.apps.v1.Deployment(
            f"{self._name}-sigv4",
            metadata=meta,
            spec=spec,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[account])),
        )
        service_spec: Any = {
            "selector": {"app.kubernetes.io/name": SIGV4_APP},
            "ports": [{"name": "http", "port": SIGV4_PORT, "targetPort": SIGV4_PORT}],
        }
        service = k8s.core.v1.Service(
            f"{self._name}-sigv4",
            metadata=meta,
            spec=service_spec,
            opts=opts,
        )
        return [account, deployment, service]
