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

The route is built by :func:`http_route`, a pure function, so tests check the
object against the Gateway API schema without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from blueprint.monitoring.logformat import gateway_access_log
from blueprint.triton import HTTP_PORT, READY_PATH
from components._inputs import InputErrors

TYPE = "llm-inference:k8s:TieredRouting"
GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_API = "gateway.envoyproxy.io/v1alpha1"
ENVOY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ENVOY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
ENVOY_NAMESPACE = "envoy-gateway-system"
LISTENER_PORT = 8443
"""The Gateway's listener; unprivileged, so Envoy's container port is the same number."""
SIGV4_PORT = 8080
SIGV4_USER = 65534
"""``nobody``: aws-sigv4-proxy's image (FROM scratch) sets no USER, so it would run as root."""
HEALTH_PATH = READY_PATH


@dataclass(frozen=True, kw_only=True)
class ServiceTarget:
    """A Triton deployment's Service on this cluster."""

    service: str
    namespace: str
    port: int = HTTP_PORT


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
    labels: Mapping[str, str] = field(default_factory=dict)


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
    """The HTTPRoute object: one exact header match per class, then the default.

    Gateway API gives a rule with a header match precedence over one without, so a
    tagged request always takes its class's rule and only untagged ones fall
    through to the default.
    """
    rules: list[dict[str, Any]] = []
    for cls, target in sorted(classes.items()):
        rule: dict[str, Any] = {
            "matches": [
                {
                    "path": {"type": "PathPrefix", "value": "/"},
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
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
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
        k8s.apiextensions.CustomResource(
            f"{name}-classes",
            api_version=route["apiVersion"],
            kind=route["kind"],
            metadata=route["metadata"],
            spec=route["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gw, *backends]),
        )

        ingress = lb.status.load_balancer.ingress
        self.address = ingress.apply(lambda i: (i[0].hostname or i[0].ip) if i else "")
        self.gateway_name = pulumi.Output.from_input(f"{name}-gateway")
        self.register_outputs({"address": self.address, "gateway_name": self.gateway_name})

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
            "externalTrafficPolicy": "Local",
        }
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
        labels = {**self._labels, "app.kubernetes.io/name": "sagemaker-sigv4"}
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
            "selector": {"matchLabels": {"app.kubernetes.io/name": "sagemaker-sigv4"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "sagemaker-sigv4",
                    "automountServiceAccountToken": True,
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
            "selector": {"app.kubernetes.io/name": "sagemaker-sigv4"},
            "ports": [{"name": "http", "port": SIGV4_PORT, "targetPort": SIGV4_PORT}],
        }
        service = k8s.core.v1.Service(
            f"{self._name}-sigv4",
            metadata=meta,
            spec=service_spec,
            opts=opts,
        )
        return [account, deployment, service]
