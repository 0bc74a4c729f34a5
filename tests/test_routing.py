"""Tiered routing and edge/core DNS in the previewed plans (prod and edge), under mocks.

The routing sits on each stack's entry cluster (its ClusterHandle's provider); the
edge reads the core's gateway address and DNS zone from prod's recorded outputs.
The rendered Gateway API and Envoy Gateway objects are validated against the CRDs of the
pinned Envoy Gateway chart, CEL rules included, by ``make conformance``
(tests/test_conformance.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from blueprint import outputs as out
from tools.preview.recorder import Plan


@pytest.fixture(scope="module")
def prod(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]


@pytest.fixture(scope="module")
def edge(plans: dict[str, Plan]) -> Plan:
    return plans["edge"]


def kube(plan: Plan, kind: str) -> list[dict[str, Any]]:
    """Routing's own Kubernetes objects (the serving objects are left out)."""
    return [
        r
        for r in plan.resources
        if r["type"].startswith("kubernetes:")
        and r["type"].endswith(f":{kind}")
        and ":TritonServing::" not in (r["parent"] or "")
        and ":LlmServing::" not in (r["parent"] or "")
        and ":ServingNamespace::" not in (r["parent"] or "")
    ]


def route_rules(plan: Plan) -> list[dict[str, Any]]:
    """The rules of the classes' route (the health path has a route of its own)."""
    (route,) = [r for r in kube(plan, "HTTPRoute") if r["name"].endswith("-classes")]
    return route["inputs"]["spec"]["rules"]


def rule_for(plan: Plan, cls: str | None) -> dict[str, Any]:
    for rule in route_rules(plan):
        headers = rule["matches"][0].get("headers")
        if (headers and headers[0]["value"] == cls) or (cls is None and not headers):
            return rule
    raise AssertionError(f"no rule for {cls}")


def test_every_class_is_one_exact_header_match(prod: Plan) -> None:
    classes = {"heavy-chat", "long-context", "light-chat", "embeddings", "guardrail"}
    tagged = [r for r in route_rules(prod) if r["matches"][0].get("headers")]
    assert {r["matches"][0]["headers"][0]["value"] for r in tagged} == classes
    for rule in tagged:
        (header,) = rule["matches"][0]["headers"]
        assert header["name"] == "x-request-class"
        assert header["type"] == "Exact"
    assert rule_for(prod, "heavy-chat")["backendRefs"] == [
        {"name": "chat-llm", "namespace": "llm-serving", "port": 8000}
    ]
    # Untagged requests fall through to the default class (light chat).
    assert rule_for(prod, None)["backendRefs"] == rule_for(prod, "light-chat")["backendRefs"]
    assert route_rules(prod)[-1] == rule_for(prod, None)


def test_guardrails_go_to_sagemaker_through_the_signing_proxy(prod: Plan) -> None:
    rule = rule_for(prod, "guardrail")
    assert rule["backendRefs"] == [{"name": "sagemaker-sigv4", "port": 8080}]
    (rewrite,) = rule["filters"]
    assert rewrite["urlRewrite"]["path"] == {
        "type": "ReplaceFullPath",
        "replaceFullPath": "/endpoints/prod-guardrail/invocations",
    }
    (proxy,) = kube(prod, "Deployment")
    container = proxy["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert "@sha256:" in container["image"]
    assert container["args"][container["args"].index("--host") + 1] == (
        "runtime.sagemaker.us-east-1.amazonaws.com"
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_gateway_listens_on_https_behind_its_own_load_balancer(prod: Plan) -> None:
    (gw,) = kube(prod, "Gateway")
    (listener,) = gw["inputs"]["spec"]["listeners"]
    assert listener["protocol"] == "HTTPS"
    assert listener["tls"]["certificateRefs"] == [{"name": "llm-gateway-tls"}]
    lb = next(s for s in kube(prod, "Service") if s["inputs"]["spec"].get("type") == "LoadBalancer")
    spec = lb["inputs"]["spec"]
    assert (
        spec["selector"]["gateway.envoyproxy.io/owning-gateway-name"]
        == gw["inputs"]["metadata"]["name"]
    )
    assert spec["ports"] == [{"name": "https", "port": 443, "targetPort": listener["port"]}]
    assert lb["inputs"]["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"
    }
    (release,) = [
        r
        for r in prod.by_type("kubernetes:helm.sh/v3:Release")
        if r["name"].startswith("prod-routing")
    ]
    assert release["inputs"]["version"] == "v1.5.9"
    assert release["inputs"]["values"]["config"]["envoyGateway"]["extensionApis"] == {
        "enableBackend": True
    }
    (grant,) = kube(prod, "ReferenceGrant")
    assert grant["inputs"]["metadata"]["namespace"] == "llm-serving"


def test_core_owns_the_zone_and_a_health_checked_latency_record(prod: Plan) -> None:
    (zone,) = prod.by_type("aws:route53/zone:Zone")
    assert zone["inputs"]["name"] == "llm.example.com"
    assert zone.get("protect") is True
    (record,) = prod.by_type("aws:route53/record:Record")
    (check,) = prod.by_type("aws:route53/healthCheck:HealthCheck")
    inputs = record["inputs"]
    assert inputs["name"] == "api.llm.example.com"
    assert inputs["latencyRoutingPolicies"] == [{"region": "us-east-1"}]
    assert inputs["setIdentifier"] == "us-east-1"
    assert inputs["records"] == [prod.outputs[out.GATEWAY_ADDRESS]]
    assert inputs["healthCheckId"] == check["name"] + "-id"
    assert check["inputs"]["type"] == "HTTPS"
    assert check["inputs"]["resourcePath"] == "/v2/health/ready"
    assert check["inputs"]["fqdn"] == prod.outputs[out.GATEWAY_ADDRESS]
    assert prod.outputs[out.API_HOSTNAME] == "api.llm.example.com"
    assert prod.outputs[out.DNS_ZONE_ID].startswith("Z")


def test_edge_hands_delegated_classes_to_the_core(edge: Plan, prod: Plan) -> None:
    for cls in ("heavy-chat", "long-context"):
        rule = rule_for(edge, cls)
        assert rule["backendRefs"] == [
            {
                "group": "gateway.envoyproxy.io",
                "kind": "Backend",
                "name": "core-gateway",
                "port": 443,
            }
        ]
        assert rule["filters"] == [
            {"type": "URLRewrite", "urlRewrite": {"hostname": "api.llm.example.com"}}
        ]
    (backend,) = kube(edge, "Backend")
    (endpoint,) = backend["inputs"]["spec"]["endpoints"]
    # The core's own gateway, not the shared name (which could resolve to the edge).
    assert endpoint["fqdn"]["hostname"] == prod.outputs[out.GATEWAY_ADDRESS]
    # Envoy Gateway 1.5's Backend has no tls.sni (the API server would drop it): only the
    # system CAs; the route rewrites Host to the API name (make conformance checks the CRD).
    assert backend["inputs"]["spec"]["tls"] == {"wellKnownCACertificates": "System"}
    assert rule_for(edge, "light-chat")["backendRefs"][0]["name"] == "edge-chat"
    assert not kube(edge, "Deployment"), "the edge routes to no SageMaker endpoint"


def test_edge_joins_the_core_name_with_its_own_region(edge: Plan, prod: Plan) -> None:
    assert not edge.by_type("aws:route53/zone:Zone")
    (record,) = edge.by_type("aws:route53/record:Record")
    assert record["inputs"]["zoneId"] == prod.outputs[out.DNS_ZONE_ID]
    assert record["inputs"]["name"] == prod.outputs[out.API_HOSTNAME]
    assert record["inputs"]["latencyRoutingPolicies"] == [{"region": "eu-west-1"}]
    assert record["inputs"]["records"] == [edge.outputs[out.GATEWAY_ADDRESS]]
    assert edge.outputs[out.GATEWAY_ADDRESS] != prod.outputs[out.GATEWAY_ADDRESS]
    assert record["inputs"]["healthCheckId"]
