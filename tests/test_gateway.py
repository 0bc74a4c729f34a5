"""The gateway is safe to expose: only inference paths are routed, callers authenticate,
the tenant comes from the identity, each tenant has its own rate limit, and the load
balancer is as exposed as the stack says.

Checked on the recorded plans of every committed stack, and on the pure functions that
render the Envoy Gateway policies. The policy CRDs (SecurityPolicy, BackendTrafficPolicy,
ClientTrafficPolicy) are not in the upstream facts, so ``make conformance`` reports those
objects as not evaluated; :data:`CRD_FIELDS` holds the field names read from the CRDs of
Envoy Gateway v1.5.9 (``charts/gateway-helm/crds/generated/gateway.envoyproxy.io_*.yaml``
at tag v1.5.9) and the rendered objects are checked against them.

No Envoy runs here (no Debian or PyPI package), so the matching below follows Gateway
API's and Envoy's documented semantics; it is not a live refusal test.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.api_paths import INFERENCE_PATH_REGEX
from blueprint.config import ConfigError, load_stack_file
from blueprint.monitoring.logformat import TENANT_HEADER, gateway_access_log
from blueprint.triton import READY_PATH
from components.k8s.routing import (
    ApiKeyAuth,
    JwtAuth,
    Limit,
    TenantRateLimit,
    rate_limit_policy,
    security_policy,
)
from tests.conftest import REPO
from tools.preview.recorder import SECRET, Plan, offline_placeholder
from tools.preview.run import preview_stacks

ADMIN_PATHS = (
    # Triton: model repository (load/unload), metadata, config, statistics, trace, logging,
    # shared memory, server metadata, health
    "/v2/repository/index",
    "/v2/repository/models/chat_llm/load",
    "/v2/repository/models/chat_llm/unload",
    "/v2/models/text_embedding",
    "/v2/models/text_embedding/config",
    "/v2/models/text_embedding/ready",
    "/v2/models/text_embedding/versions/1",
    "/v2/models/text_embedding/stats",
    "/v2/models/stats",
    "/v2/models/text_embedding/trace/setting",
    "/v2/trace/setting",
    "/v2/logging",
    "/v2/systemsharedmemory/status",
    "/v2/systemsharedmemory/region/r/register",
    "/v2/cudasharedmemory/region/r/unregister",
    "/v2",
    "/v2/health/live",
    "/metrics",
    # vLLM: health, metrics, tokenizer, LoRA and admin endpoints, docs
    "/health",
    "/ping",
    "/version",
    "/tokenize",
    "/detokenize",
    "/v1/load_lora_adapter",
    "/v1/unload_lora_adapter",
    "/reset_prefix_cache",
    "/sleep",
    "/wake_up",
    "/start_profile",
    "/stop_profile",
    "/docs",
    "/openapi.json",
    "/invocations",
    "/",
    # near misses and traversal
    "/v1/chat/completions/extra",
    "/v1/completionsx",
    "/v1/models/chat",
    "/v2/models/text_embedding/inferx",
    "/v2/models/text_embedding/infer/extra",
    "/v2/models/../repository/infer",
    "/v2/models/./infer",
    "/v2/models/text_embedding/versions/x/infer",
    "/v1/chat/completions/../../../metrics",
    "/v2/models/text_embedding/infer/../../../repository/index",
    "//v2/repository/index",
    "/V1/chat/completions",
)
INFERENCE_PATHS = (
    "/v2/models/text_embedding/infer",
    "/v2/models/prompt_guard/versions/1/infer",
    "/v2/models/chat-llm/generate",
    "/v2/models/chat-llm/versions/12/generate_stream",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/models",
)

CRD_FIELDS: dict[str, set[str]] = {
    # gateway.envoyproxy.io_securitypolicies.yaml (v1alpha1) at v1.5.9
    "SecurityPolicy.spec": {
        "apiKeyAuth",
        "authorization",
        "basicAuth",
        "cors",
        "extAuth",
        "jwt",
        "oidc",
        "targetRef",
        "targetRefs",
        "targetSelectors",
    },
    "apiKeyAuth": {"credentialRefs", "extractFrom", "forwardClientIDHeader", "sanitize"},
    "apiKeyAuth.credentialRefs[]": {"group", "kind", "name", "namespace"},
    "apiKeyAuth.extractFrom[]": {"cookies", "headers", "params"},
    "jwt": {"optional", "providers"},
    "jwt.providers[]": {
        "audiences",
        "claimToHeaders",
        "extractFrom",
        "issuer",
        "localJWKS",
        "name",
        "recomputeRoute",
        "remoteJWKS",
    },
    "jwt.providers[].claimToHeaders[]": {"claim", "header"},
    "jwt.providers[].remoteJWKS": {"backendRef", "backendRefs", "backendSettings", "uri"},
    "targetRefs[]": {"group", "kind", "name", "sectionName"},
    # gateway.envoyproxy.io_backendtrafficpolicies.yaml
    "rateLimit": {"global", "local", "type"},
    "rateLimit.local": {"rules"},
    "rateLimit.local.rules[]": {"clientSelectors", "cost", "limit", "shared"},
    "rateLimit.local.rules[].clientSelectors[]": {"headers", "sourceCIDR"},
    "rateLimit.local.rules[].clientSelectors[].headers[]": {"invert", "name", "type", "value"},
    "rateLimit.local.rules[].limit": {"requests", "unit"},
    # gateway.envoyproxy.io_clienttrafficpolicies.yaml
    "headers": {
        "disableRateLimitHeaders",
        "earlyRequestHeaders",
        "enableEnvoyHeaders",
        "preserveXRequestID",
        "requestID",
        "withUnderscoresAction",
        "xForwardedClientCert",
    },
    "headers.earlyRequestHeaders": {"add", "remove", "set"},
}
"""Field names of the policy CRDs at Envoy Gateway v1.5.9, read from upstream (the CRDs are
not committed: the upstream facts folder is the place for them, via make upstream-facts)."""
ENUMS = {
    "rateLimit.type": {"Global", "Local"},
    "limit.unit": {"Second", "Minute", "Hour", "Day", "Month", "Year"},
    "header.type": {"Exact", "RegularExpression", "Distinct"},
}


# ---------------------------------------------------------------------------
# Gateway API path matching, as the gateway applies it


def envoy_normalized(path: str) -> str:
    """The path Envoy routes on: dot segments removed (RFC 3986) and slashes merged, as
    Envoy Gateway configures its listeners by default; the query string is not matched."""
    path = path.split("?", 1)[0]
    path = re.sub("/+", "/", path)
    normal = posixpath.normpath(path)
    return normal if normal != "." else "/"


def path_matches(match: dict[str, Any], path: str) -> bool:
    """Gateway API HTTPPathMatch: Exact, PathPrefix (whole segments), RegularExpression
    (Envoy Gateway: RE2 against the whole path)."""
    kind, value = match.get("type", "PathPrefix"), match.get("value", "/")
    if kind == "Exact":
        return path == value
    if kind == "PathPrefix":
        prefix = value.rstrip("/")
        return path in (value, prefix) or path.startswith(prefix + "/")
    if kind == "RegularExpression":
        return re.fullmatch(value, path) is not None
    raise AssertionError(f"unknown path match type {kind}")


def routes(plan: Plan) -> list[dict[str, Any]]:
    return [r for r in plan.by_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")]


def one(plan: Plan, kind: str) -> dict[str, Any]:
    (found,) = plan.by_type(f"kubernetes:gateway.envoyproxy.io/v1alpha1:{kind}")
    return found


def kinds(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return plan.by_type(f"kubernetes:gateway.envoyproxy.io/v1alpha1:{kind}")


def routed(plan: Plan, path: str) -> list[str]:
    """The routes (name) with a match for ``path`` as a client sends it or as Envoy sees it."""
    out = []
    for route in routes(plan):
        for rule in route["inputs"]["spec"]["rules"]:
            for match in rule["matches"]:
                if any(
                    path_matches(match.get("path", {}), p) for p in (path, envoy_normalized(path))
                ):
                    out.append(route["name"])
    return out


STACKS = ("dev", "staging", "prod", "edge")


@pytest.mark.parametrize("stack", STACKS)
def test_no_route_reaches_a_non_inference_path(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    assert routes(plan)
    for path in ADMIN_PATHS:
        assert routed(plan, path) == [], f"{stack}: {path} is routed"
    for path in INFERENCE_PATHS:
        assert routed(plan, path), f"{stack}: {path} is not routed"
    # The health path alone, exactly, on its own route (health checks carry no credentials).
    (health,) = [r for r in routes(plan) if r["name"].endswith("-health")]
    assert health["inputs"]["spec"]["rules"][0]["matches"] == [
        {"path": {"type": "Exact", "value": READY_PATH}}
    ]
    assert routed(plan, READY_PATH) == [health["name"]]


@pytest.mark.parametrize("stack", STACKS)
def test_the_health_route_asks_its_backend_a_path_the_backend_serves(
    plans: dict[str, Plan], stack: str
) -> None:
    """vLLM answers readiness on /health, Triton on /v2/health/ready: the public health
    path is rewritten to the default class's own, on the port its Service serves."""
    plan = plans[stack]
    (health,) = [r for r in routes(plan) if r["name"].endswith("-health")]
    rule = health["inputs"]["spec"]["rules"][0]
    (ref,) = rule["backendRefs"]
    services = {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type("kubernetes:core/v1:Service")
    }
    if ref.get("kind", "Service") != "Service" or ref["name"] not in services:
        return  # the core gateway or a serverless endpoint (checked by the routing tests)
    deployments = {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type("kubernetes:apps/v1:Deployment")
    }
    pod = deployments[ref["name"]]["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] in ("triton", "vllm")]
    probe = server["readinessProbe"]["httpGet"]["path"]
    rewrites = [
        f["urlRewrite"]["path"]["replaceFullPath"]
        for f in rule.get("filters", [])
        if f["type"] == "URLRewrite" and "path" in f["urlRewrite"]
    ]
    asked = rewrites[-1] if rewrites else READY_PATH
    assert asked == probe, f"{stack}: the health check asks {asked}, the server answers {probe}"
    ports = [p["port"] for p in services[ref["name"]]["spec"]["ports"]]
    assert ref["port"] in ports


def test_the_path_regex_is_the_one_every_inference_rule_uses(plans: dict[str, Plan]) -> None:
    for stack in STACKS:
        for route in routes(plans[stack]):
            if route["name"].endswith("-health"):
                continue
            for rule in route["inputs"]["spec"]["rules"]:
                for match in rule["matches"]:
                    assert match["path"] == {
                        "type": "RegularExpression",
                        "value": INFERENCE_PATH_REGEX,
                    }


@pytest.mark.parametrize("stack", ["staging", "prod", "edge"])
def test_every_exposed_gateway_authenticates_its_inference_route(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    policy = one(plan, "SecurityPolicy")
    covered = {t["name"] for t in policy["inputs"]["spec"]["targetRefs"]}
    for t in policy["inputs"]["spec"]["targetRefs"]:
        assert (t["group"], t["kind"]) == ("gateway.networking.k8s.io", "HTTPRoute")
    # Every route but the exact health path is behind the policy.
    unauthenticated = {r["name"] for r in routes(plan)} - covered
    assert {n.rsplit("-", 1)[-1] for n in unauthenticated} == {"health"}
    jwt = policy["inputs"]["spec"]["jwt"]["providers"][0]
    assert jwt["issuer"].startswith("https://")
    assert jwt["remoteJWKS"]["uri"].startswith("https://")
    assert jwt["audiences"]


def test_an_internal_gateway_without_auth_has_no_policy(plans: dict[str, Plan]) -> None:
    assert kinds(plans["dev"], "SecurityPolicy") == []
    assert kinds(plans["dev"], "BackendTrafficPolicy") == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_tenant_header_comes_from_the_identity_only(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    strip = one(plan, "ClientTrafficPolicy")["inputs"]["spec"]
    (gateway,) = plan.by_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert strip["targetRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": gateway["inputs"]["metadata"]["name"],
        }
    ]
    # Removed as the request arrives, before routing and before any filter reads it.
    assert strip["headers"]["earlyRequestHeaders"] == {"remove": [TENANT_HEADER]}
    for policy in kinds(plan, "SecurityPolicy"):
        spec = policy["inputs"]["spec"]
        set_by = [c["header"] for p in spec["jwt"]["providers"] for c in p["claimToHeaders"]]
        assert set_by == [TENANT_HEADER]
    # The access log's tenant and the rate limit read that same header.
    (proxy,) = kinds(plan, "EnvoyProxy")
    assert proxy["inputs"]["spec"]["telemetry"]["accessLog"] == json.loads(
        json.dumps(gateway_access_log("x-request-class"))
    )
    assert f"%REQ({TENANT_HEADER.upper()})%" in json.dumps(proxy["inputs"]["spec"])
    for policy in kinds(plan, "BackendTrafficPolicy"):
        names = {
            h["name"]
            for rule in policy["inputs"]["spec"]["rateLimit"]["local"]["rules"]
            for sel in rule.get("clientSelectors", [])
            for h in sel["headers"]
        }
        assert names == {TENANT_HEADER}


def _header_matches(h: dict[str, Any], headers: dict[str, str]) -> bool:
    value = headers.get(h["name"])
    if h["type"] == "Distinct":
        return value is not None
    if value is None:
        return False
    hit = value == h["value"] if h["type"] == "Exact" else bool(re.fullmatch(h["value"], value))
    return hit != bool(h.get("invert"))


def limit_for(policy: dict[str, Any], headers: dict[str, str]) -> tuple[int, str, bool]:
    """(requests, unit, own bucket) of the strictest matching rule (Envoy Gateway's local rate
    limit: a request takes the strictest rule it matches; the rule without selectors is the
    bucket of requests that match no other rule)."""
    per_second = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400}
    rules = policy["spec"]["rateLimit"]["local"]["rules"]
    matched = [
        r
        for r in rules
        if r.get("clientSelectors")
        and all(
            all(_header_matches(h, headers) for h in sel["headers"]) for sel in r["clientSelectors"]
        )
    ]
    if not matched:
        (default,) = [r for r in rules if not r.get("clientSelectors")]
        return int(default["limit"]["requests"]), default["limit"]["unit"], False
    rule = min(matched, key=lambda r: r["limit"]["requests"] / per_second[r["limit"]["unit"]])
    own = any(
        h["type"] == "Distinct" or h["type"] == "Exact"
        for sel in rule["clientSelectors"]
        for h in sel["headers"]
    )
    return int(rule["limit"]["requests"]), rule["limit"]["unit"], own


def test_each_tenant_has_its_own_limit_in_prod(plans: dict[str, Plan]) -> None:
    policy = one(plans["prod"], "BackendTrafficPolicy")["inputs"]
    assert policy["spec"]["rateLimit"]["type"] == "Local"
    assert policy["spec"]["targetRefs"][0]["name"] == "prod-routing-classes"
    assert limit_for(policy, {TENANT_HEADER: "research"}) == (600, "Minute", True)
    assert limit_for(policy, {TENANT_HEADER: "shared"}) == (600, "Minute", True)
    assert limit_for(policy, {TENANT_HEADER: "support-assistant"}) == (3000, "Minute", True)
    # A request whose token names no tenant shares one bucket of the default size.
    assert limit_for(policy, {}) == (600, "Minute", False)


def test_rendered_policies_use_only_fields_of_the_v1_5_9_crds(plans: dict[str, Plan]) -> None:
    objects = [
        r["inputs"]
        for stack in STACKS
        for kind in ("SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy")
        for r in kinds(plans[stack], kind)
    ]
    objects.append(_api_key_policy(forward=False))
    for obj in objects:
        assert obj["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
        _check_fields(obj["kind"], obj["spec"])


def _check_fields(kind: str, spec: dict[str, Any]) -> None:  # noqa: PLR0912 (one branch per part)
    if kind == "SecurityPolicy":
        assert set(spec) <= CRD_FIELDS["SecurityPolicy.spec"]
    for ref in spec["targetRefs"]:
        assert set(ref) <= CRD_FIELDS["targetRefs[]"]
        assert {"group", "kind", "name"} <= set(ref)  # required by the CRD
    # "either targetRef or targetRefs must be used" (CEL rule of all three CRDs)
    assert "targetRef" not in spec
    if "apiKeyAuth" in spec:
        a = spec["apiKeyAuth"]
        assert set(a) <= CRD_FIELDS["apiKeyAuth"]
        assert {"credentialRefs", "extractFrom"} <= set(a)  # required
        for ref in a["credentialRefs"]:
            assert set(ref) <= CRD_FIELDS["apiKeyAuth.credentialRefs[]"]
        for ex in a["extractFrom"]:
            assert set(ex) <= CRD_FIELDS["apiKeyAuth.extractFrom[]"]
    if "jwt" in spec:
        assert set(spec["jwt"]) <= CRD_FIELDS["jwt"]
        assert 1 <= len(spec["jwt"]["providers"]) <= 4
        for p in spec["jwt"]["providers"]:
            assert set(p) <= CRD_FIELDS["jwt.providers[]"]
            assert "name" in p
            assert ("remoteJWKS" in p) != ("localJWKS" in p)  # CEL: exactly one of them
            assert set(p["remoteJWKS"]) <= CRD_FIELDS["jwt.providers[].remoteJWKS"]
            for c in p["claimToHeaders"]:
                assert set(c) == CRD_FIELDS["jwt.providers[].claimToHeaders[]"]
    if "rateLimit" in spec:
        r = spec["rateLimit"]
        assert set(r) <= CRD_FIELDS["rateLimit"]
        assert r["type"] in ENUMS["rateLimit.type"]
        assert set(r["local"]) <= CRD_FIELDS["rateLimit.local"]
        rules = r["local"]["rules"]
        assert len(rules) <= 16  # maxItems
        assert sum(1 for rule in rules if not rule.get("clientSelectors")) <= 1
        for rule in rules:
            assert set(rule) <= CRD_FIELDS["rateLimit.local.rules[]"]
            assert set(rule["limit"]) == CRD_FIELDS["rateLimit.local.rules[].limit"]
            assert rule["limit"]["unit"] in ENUMS["limit.unit"]
            for sel in rule.get("clientSelectors", []):
                assert set(sel) <= CRD_FIELDS["rateLimit.local.rules[].clientSelectors[]"]
                for h in sel["headers"]:
                    assert (
                        set(h) <= CRD_FIELDS["rateLimit.local.rules[].clientSelectors[].headers[]"]
                    )
                    assert h["type"] in ENUMS["header.type"]
                    # Distinct takes neither value nor invert (the CRD's field descriptions)
                    assert h["type"] != "Distinct" or not ({"value", "invert"} & set(h))
    if "headers" in spec:
        assert set(spec["headers"]) <= CRD_FIELDS["headers"]
        assert (
            set(spec["headers"]["earlyRequestHeaders"]) <= CRD_FIELDS["headers.earlyRequestHeaders"]
        )


def _api_key_policy(*, forward: bool) -> dict[str, Any]:
    return security_policy(
        name="t-auth",
        namespace="llm-gateway",
        route="t-classes",
        auth=ApiKeyAuth(keys={"acme": "k"}, header="x-api-key"),
        tenant_header=TENANT_HEADER,
        key_secret="t-api-keys",
        forward_credential=forward,
        labels={},
    )


def test_api_keys_name_the_tenant_and_are_removed_unless_the_core_checks_them() -> None:
    spec = _api_key_policy(forward=False)["spec"]["apiKeyAuth"]
    assert spec == {
        "credentialRefs": [{"group": "", "kind": "Secret", "name": "t-api-keys"}],
        "extractFrom": [{"headers": ["x-api-key"]}],
        "forwardClientIDHeader": TENANT_HEADER,
        "sanitize": True,
    }
    # The edge hands delegated requests to the core, which checks the same key again.
    assert _api_key_policy(forward=True)["spec"]["apiKeyAuth"]["sanitize"] is False


def test_jwt_without_audiences_leaves_the_field_out() -> None:
    spec = security_policy(
        name="t",
        namespace="n",
        route="r",
        auth=JwtAuth(issuer="https://i/", jwks_uri="https://i/jwks", tenant_claim="org"),
        tenant_header=TENANT_HEADER,
        key_secret="unused",
        forward_credential=False,
        labels={},
    )["spec"]
    (provider,) = spec["jwt"]["providers"]
    assert "audiences" not in provider
    assert provider["claimToHeaders"] == [{"claim": "org", "header": TENANT_HEADER}]


def test_a_rate_limit_without_overrides_is_one_bucket_per_tenant() -> None:
    policy = rate_limit_policy(
        name="t",
        namespace="n",
        route="r",
        limits=TenantRateLimit(default=Limit(requests=10, unit="Second")),
        tenant_header=TENANT_HEADER,
        labels={},
    )
    rules = policy["spec"]["rateLimit"]["local"]["rules"]
    assert rules[1]["clientSelectors"] == [
        {"headers": [{"name": TENANT_HEADER, "type": "Distinct"}]}
    ]
    assert limit_for(policy, {TENANT_HEADER: "a"}) == (10, "Second", True)


# ---------------------------------------------------------------------------
# Load balancer exposure


def _lb(plan: Plan) -> dict[str, Any]:
    (lb,) = [s for s in plan.by_type("kubernetes:core/v1:Service") if s["name"].endswith("-lb")]
    return lb["inputs"]


def test_dev_is_internal_staging_restricted_prod_and_edge_public(plans: dict[str, Plan]) -> None:
    internal = "service.beta.kubernetes.io/aws-load-balancer-internal"
    dev, staging = _lb(plans["dev"]), _lb(plans["staging"])
    assert dev["metadata"]["annotations"][internal] == "true"
    assert "loadBalancerSourceRanges" not in dev["spec"]
    assert internal not in staging["metadata"]["annotations"]
    assert staging["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.0/24"]
    for stack in ("prod", "edge"):
        lb = _lb(plans[stack])
        assert lb["metadata"]["annotations"] == {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"
        }
        assert "loadBalancerSourceRanges" not in lb["spec"]
        # Client addresses are kept, so source ranges and logs see the caller.
        assert lb["spec"]["externalTrafficPolicy"] == "Local"


# ---------------------------------------------------------------------------
# API keys from the stack secret: never in a plan, refused when missing or in clear text

CIPHERTEXT = "v1:Z2F0ZXdheS1rZXktY2lwaGVydGV4dA==:bm90LWEtcmVhbC1rZXk="


def _prod_with_api_keys(tmp_path: Path, keys: Any) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", folder, ignore=shutil.ignore_patterns("*.py", "*.json"))
    path = folder / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    routing = doc["config"]["llm-inference:routing"]
    routing["gateway"]["auth"] = {"mode": "apiKey"}
    if keys is not None:
        doc["config"]["llm-inference:gatewayApiKeys"] = keys
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_api_keys_stay_secret_in_the_plan(tmp_path: Path) -> None:
    folder = _prod_with_api_keys(
        tmp_path, {"research": {"secure": CIPHERTEXT}, "shared": {"secure": CIPHERTEXT + "x"}}
    )
    (result,) = preview_stacks(["prod"], stack_dir=folder)
    assert result.plan is not None, result.error
    text = result.plan.dumps()
    assert CIPHERTEXT not in text
    assert "offline-placeholder" not in text
    assert offline_placeholder("llm-inference:gatewayApiKeys.research") not in text
    (secret,) = [
        s for s in result.plan.by_type("kubernetes:core/v1:Secret") if s["name"].endswith("-keys")
    ]
    assert secret["inputs"]["stringData"] == SECRET
    policy = one(result.plan, "SecurityPolicy")["inputs"]["spec"]["apiKeyAuth"]
    assert policy["credentialRefs"][0]["name"] == secret["inputs"]["metadata"]["name"]
    assert policy["forwardClientIDHeader"] == TENANT_HEADER
    assert policy["sanitize"] is True  # prod hands nothing on: the key stops at the gateway
    assert "jwt" not in one(result.plan, "SecurityPolicy")["inputs"]["spec"]


def test_api_key_mode_without_keys_is_refused(tmp_path: Path) -> None:
    folder = _prod_with_api_keys(tmp_path, None)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "tools.preview", "prod", "--stack-dir", str(folder)),
            *("--out", str(tmp_path / "plan"), "--quiet"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "pulumi config set --secret --path 'llm-inference:gatewayApiKeys.<tenant>'" in out
    assert "Traceback" not in out


def test_api_keys_in_clear_text_are_refused_without_showing_them(tmp_path: Path) -> None:
    folder = _prod_with_api_keys(tmp_path, {"research": "sk-live-123", "Bad_Name": "sk-2"})
    with pytest.raises(ConfigError) as info:
        load_stack_file(folder / "Pulumi.prod.yaml")
    text = str(info.value)
    assert "sk-live-123" not in text
    assert "sk-2" not in text
    assert (
        "llm-inference:gatewayApiKeys.research: is a secret but is written in clear text "
        "(value not shown)"
    ) in text
    assert "llm-inference:gatewayApiKeys.Bad_Name: must be a tenant name" in text


def test_a_single_api_key_is_refused(tmp_path: Path) -> None:
    folder = _prod_with_api_keys(tmp_path, {"secure": CIPHERTEXT})
    with pytest.raises(ConfigError) as info:
        load_stack_file(folder / "Pulumi.prod.yaml")
    assert "llm-inference:gatewayApiKeys: must map each tenant to its own secret" in str(info.value)
    assert CIPHERTEXT not in str(info.value)
