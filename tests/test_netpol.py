"""NetworkPolicies in every stack's plan: default deny per workload namespace, the real
flows allowed on the ports the workloads really listen on.

The flows are read from the plan's other objects (the gateway's routes, the Services
they name, the Deployments behind them, the ServiceMonitors), not from the code that
wrote the policies, so a port or label changed on one side only fails here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from components.k8s import netpol
from policies.config import load
from tests.conftest import STACKS
from tools.preview.recorder import Plan

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
ENVOY_NAMESPACE = "envoy-gateway-system"


def _ns(r: Mapping[str, Any]) -> str:
    return str(r["inputs"].get("metadata", {}).get("namespace"))


def _policies(plan: Plan, provider: str, namespace: str) -> list[dict[str, Any]]:
    return [
        p["inputs"]["spec"]
        for p in plan.by_type(NETWORK_POLICY)
        if p["provider"] == provider and _ns(p) == namespace
    ]


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _peer_matches(peer: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> bool:
    ns_labels = {netpol.NAMESPACE_LABEL: namespace}
    return _selects(peer.get("namespaceSelector") or {}, ns_labels) and _selects(
        peer.get("podSelector") or {}, labels
    )


def allowed(
    plan: Plan,
    provider: str,
    *,
    namespace: str,
    pod_labels: Mapping[str, str],
    port: int,
    source_namespace: str,
    source_labels: Mapping[str, str],
) -> bool:
    """Whether some policy of ``namespace`` admits that source to those pods on ``port``."""
    for spec in _policies(plan, provider, namespace):
        if "Ingress" not in spec.get("policyTypes", []):
            continue
        if not _selects(spec.get("podSelector") or {}, pod_labels):
            continue
        for rule in spec.get("ingress") or []:
            ports = {int(p["port"]) for p in rule.get("ports") or []}
            if port in ports and any(
                _peer_matches(peer, source_namespace, source_labels) for peer in rule["from"]
            ):
                return True
    return False


def _find(plan: Plan, type_: str, provider: str, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in plan.by_type(type_)
        if r["provider"] == provider
        and _ns(r) == namespace
        and r["inputs"]["metadata"]["name"] == name
    ]
    return found


def target_port(plan: Plan, service: dict[str, Any], port: Mapping[str, Any]) -> tuple[int, Any]:
    """The container port a Service port reaches, and the pod labels behind it."""
    selector = service["inputs"]["spec"]["selector"]
    target = port.get("targetPort", port["port"])
    if isinstance(target, int | float):
        return int(target), selector
    (deployment,) = [
        d
        for d in plan.by_type(DEPLOYMENT)
        if d["provider"] == service["provider"]
        and _ns(d) == _ns(service)
        and _selects(
            {"matchLabels": selector}, d["inputs"]["spec"]["template"]["metadata"]["labels"]
        )
    ]
    for container in deployment["inputs"]["spec"]["template"]["spec"]["containers"]:
        for p in container.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"]), selector
    raise AssertionError(f"{service['name']}: no container port named {target}")


def gateway_backends(plan: Plan) -> Iterator[tuple[dict[str, Any], str, str, int, str]]:
    """(route, backend namespace, Service name, Service port, gateway name) of every route."""
    for route in plan.by_type(ROUTE):
        (parent,) = route["inputs"]["spec"]["parentRefs"]
        for rule in route["inputs"]["spec"]["rules"]:
            for ref in rule.get("backendRefs") or []:
                if ref.get("kind", "Service") != "Service":
                    continue  # the edge's Backend: the core gateway, outside the cluster
                yield (
                    route,
                    ref.get("namespace", _ns(route)),
                    ref["name"],
                    int(ref["port"]),
                    (parent["name"]),
                )


def exempt(plan: Plan, stack: str) -> set[str]:
    env = plan.outputs.get("environment", stack)
    return set(load()[env]["namespace-default-deny"].properties["exemptNamespaces"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_namespace_denies_by_default_and_resolves_dns(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    checked = 0
    for ns in plan.by_type(NAMESPACE):
        name = ns["inputs"]["metadata"]["name"]
        if name in exempt(plan, stack):
            continue
        specs = _policies(plan, ns["provider"], name)
        assert {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]} in specs, name
        dns = [s for s in specs if s.get("egress") and s["podSelector"] == {}]
        assert any(
            _peer_matches(peer, "kube-system", {"k8s-app": "kube-dns"})
            and {(p["protocol"], int(p["port"])) for p in rule["ports"]}
            == {("UDP", 53), ("TCP", 53)}
            for s in dns
            for rule in s["egress"]
            for peer in rule["to"]
        ), f"{name}: pods cannot resolve names"
        checked += 1
    assert checked >= 2  # llm-serving and llm-gateway at least


@pytest.mark.parametrize("stack", STACKS)
def test_the_gateway_reaches_every_service_it_routes_to_on_its_target_port(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    routes = list(gateway_backends(plan))
    assert routes
    for route, namespace, name, port, gateway in routes:
        service = _find(plan, SERVICE, route["provider"], namespace, name)
        (service_port,) = [p for p in service["inputs"]["spec"]["ports"] if p["port"] == port]
        container_port, pods = target_port(plan, service, service_port)
        gateway_pods = {
            "gateway.envoyproxy.io/owning-gateway-name": gateway,
            "gateway.envoyproxy.io/owning-gateway-namespace": _ns(route),
        }
        assert allowed(
            plan,
            route["provider"],
            namespace=namespace,
            pod_labels=pods,
            port=container_port,
            source_namespace=ENVOY_NAMESPACE,
            source_labels=gateway_pods,
        ), f"{route['name']} -> {namespace}/{name}:{port} (pods' port {container_port})"


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_reaches_every_serving_metrics_port(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    checked = 0
    for monitor in plan.by_type(SERVICE_MONITOR):
        spec = monitor["inputs"]["spec"]
        if not spec.get("namespaceSelector", {}).get("any"):
            continue  # Karpenter, DCGM: in exempt system namespaces
        for service in plan.by_type(SERVICE):
            if service["provider"] != monitor["provider"]:
                continue
            if not _selects(spec["selector"], service["inputs"]["metadata"].get("labels") or {}):
                continue
            for endpoint in spec["endpoints"]:
                (service_port,) = [
                    p for p in service["inputs"]["spec"]["ports"] if p["name"] == endpoint["port"]
                ]
                container_port, pods = target_port(plan, service, service_port)
                assert allowed(
                    plan,
                    service["provider"],
                    namespace=_ns(service),
                    pod_labels=pods,
                    port=container_port,
                    source_namespace=_ns(monitor),
                    source_labels=prometheus,
                ), f"{monitor['name']} cannot scrape {service['name']}:{container_port}"
                checked += 1
    assert checked


def test_the_sigv4_proxy_alone_may_call_out_on_https(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    (proxy,) = [d for d in plan.by_type(DEPLOYMENT) if d["name"].endswith("-sigv4")]
    specs = _policies(plan, proxy["provider"], _ns(proxy))
    egress = [s for s in specs if s.get("egress") and s["podSelector"] != {}]
    (spec,) = [s for s in egress if any(p["port"] == 443 for r in s["egress"] for p in r["ports"])]
    assert _selects(spec["podSelector"], proxy["inputs"]["spec"]["template"]["metadata"]["labels"])
    assert spec["podSelector"]["matchLabels"]  # not every pod of the gateway's namespace


def test_gke_serving_pods_reach_the_metadata_server_and_eks_pods_do_not(
    plans: dict[str, Plan],
) -> None:
    plan = plans["prod"]
    cidrs: dict[str, set[str]] = {}
    for p in plan.by_type(NETWORK_POLICY):
        if p["inputs"]["metadata"]["name"] == "allow-cloud-egress" and _ns(p) == "llm-serving":
            cidrs[p["provider"]] = {
                peer["ipBlock"]["cidr"]
                for rule in p["inputs"]["spec"]["egress"]
                for peer in rule["to"]
            }
    gke = next(v for k, v in cidrs.items() if "GkeCluster" in k)
    eks = next(v for k, v in cidrs.items() if "EksCluster" in k)
    assert {c for c, _ in netpol.GKE_METADATA} <= gke
    assert eks == {"0.0.0.0/0"}


def test_serving_flows_take_their_ports_from_the_workloads_constants() -> None:
    from blueprint.modelrepo.llm import SERVED_PORT  # noqa: PLC0415
    from blueprint.triton import HTTP_PORT, METRICS_PORT  # noqa: PLC0415

    gw = netpol.Peer(namespace="gw")
    prom = netpol.Peer(namespace="mon")
    flows = {f.name: f for f in netpol.serving_flows(gateway=gw, scrapers=prom)}
    assert {n: f.port for n, f in flows.items()} == {
        "gateway-to-triton": HTTP_PORT,
        "gateway-to-vllm": SERVED_PORT,
        "scrape-triton": METRICS_PORT,
        "scrape-vllm": SERVED_PORT,
    }
    assert netpol.serving_flows(gateway=None, scrapers=None) == []
