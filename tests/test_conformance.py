"""``make conformance``: the real plans pass clean, and each kind of defect, planted in a copy
of a real plan, gives its exact finding (the house style of Triton's QA: a broken input next
to the error it must produce).

The plans are the session's (``plans`` fixture, recorded once); each case deep-copies one
plan, changes one input, and runs only the check that must catch it. The upstream facts are
``$UPSTREAM_FACTS`` or ``../shared/upstream`` (``make upstream-facts`` fills a folder).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blueprint.diagnostics import NO_VALUE
from components.k8s.routing import ServiceTarget, http_route
from tools.conformance import __main__ as cli
from tools.conformance import cel, helm, images, kubernetes, metrics, structural, upstream
from tools.conformance.base import Check, Finding, MissingFacts
from tools.conformance.registry import all_checks
from tools.preview.recorder import Plan

KARPENTER_CRDS = "aws/karpenter-provider-aws@v1.6.5:pkg/apis/crds"
GATEWAY_CRDS = "envoyproxy/gateway@v1.5.9:charts/gateway-helm/crds"
UNKNOWN = (
    "unknown field: {where} has no such field, so the API server drops it "
    "(or refuses the object under strict field validation)"
)
TRANSITION = (
    "transition rule (oldSelf): the API server evaluates it only on update, against the live object"
)

NOT_EVALUATED = {
    # Transition rules guard updates of a live object; a plan is what `pulumi up` creates.
    f"'(has(oldSelf.role) && has(self.role)) || (has(oldSelf.instanceProfile) && "
    f"has(self.instanceProfile))' of EC2NodeClass ({KARPENTER_CRDS}/"
    f"karpenter.k8s.aws_ec2nodeclasses.yaml): {TRANSITION}",
    f"'self == oldSelf' of EC2NodeClass ({KARPENTER_CRDS}/karpenter.k8s.aws_ec2nodeclasses.yaml)"
    f": {TRANSITION}",
    f"'self.group == oldSelf.group' of NodePool ({KARPENTER_CRDS}/karpenter.sh_nodepools.yaml)"
    f": {TRANSITION}",
    f"'self.kind == oldSelf.kind' of NodePool ({KARPENTER_CRDS}/karpenter.sh_nodepools.yaml)"
    f": {TRANSITION}",
    f"'self == oldSelf' of GatewayClass ({GATEWAY_CRDS}/gatewayapi-crds.yaml): {TRANSITION}",
    # The Secrets the monitoring component fills with Pulumi secrets (Alertmanager's
    # configuration, Grafana's admin): the plan records [secret], not the data's shape.
    "Kubernetes 1.33 Secret: a Pulumi secret, recorded as [secret]: its shape is not known",
    # Envoy Gateway's policy CRDs: the chart installs them, the facts folder left them out.
    *(
        f"no CRD in the upstream facts: gateway-helm v1.5.9 installs {kind} from "
        f"{GATEWAY_CRDS}/generated/gateway.envoyproxy.io_{plural}.yaml, which the facts folder "
        f"left out (SOURCES.md, Trimmed); gather it with `make upstream-facts` to check "
        f"{kind} objects"
        for kind, plural in (
            ("ClientTrafficPolicy", "clienttrafficpolicies"),
            ("SecurityPolicy", "securitypolicies"),
            ("BackendTrafficPolicy", "backendtrafficpolicies"),
        )
    ),
}
"""Every rule the checks report as not evaluated on the real plans, and why (above)."""

NO_CRD_IN_FACTS = {"ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy"}
"""Kinds the plans create whose CRD the upstream facts folder does not hold (SOURCES.md,
Trimmed): reported as not evaluated, never counted as validated."""


@pytest.fixture(scope="session")
def facts() -> Path:
    try:
        return upstream.facts_folder()
    except MissingFacts as exc:
        pytest.fail(f"{exc}: the conformance tests need the upstream facts (make upstream-facts)")


@pytest.fixture(scope="session")
def findings(plans: dict[str, Plan], facts: Path) -> list[Finding]:
    return cli.run_checks(plans, facts)


def the(plan: Plan, name: str, kind: str = "") -> dict[str, Any]:
    (found,) = [
        r
        for r in plan.resources
        if r["name"] == name and r["type"].startswith("kubernetes:") and r["type"].endswith(kind)
    ]
    return found


def plant(
    plans: dict[str, Plan],
    stack: str,
    name: str,
    change: Callable[[dict[str, Any]], None],
    kind: str = "",
) -> tuple[Plan, dict[str, Any]]:
    """A copy of ``stack``'s plan with ``change`` applied to the inputs of resource ``name``
    (the Kubernetes resource of that name, of type ``...:<kind>`` when given)."""
    plan = copy.deepcopy(plans[stack])
    resource = the(plan, name, kind)
    change(resource["inputs"])
    return plan, resource


def line_of(plan: Plan, urn: str) -> int:
    lines = plan.dumps().splitlines()
    (line,) = [i for i, text in enumerate(lines, 1) if text.strip() == f'"urn": "{urn}"']
    return line


def check(name: str) -> Check:
    (found,) = [c for c in all_checks() if c.name == name]
    return found


def errors(check_name: str, plan: Plan, facts: Path) -> list[Finding]:
    return [f for f in check(check_name).run({plan.stack: plan}, facts) if not f.not_evaluated]


def expect(
    plan: Plan, resource: dict[str, Any], path: str, message: str, value: Any = ...
) -> Finding:
    return Finding(
        f"build/plan/{plan.stack}.json",
        line_of(plan, resource["urn"]),
        f"{resource['name']}.{path}",
        message,
        value=NO_VALUE if value is ... else value,
    )


# ---------------------------------------------------------------------------
# The real plans


def test_every_real_plan_passes_every_check(findings: list[Finding]) -> None:
    assert [f.render() for f in findings if not f.not_evaluated] == []


def test_what_is_not_evaluated_is_exactly_the_allow_list(findings: list[Finding]) -> None:
    assert {f.message for f in findings if f.not_evaluated} == NOT_EVALUATED


def test_every_kubernetes_object_of_every_stack_is_validated(
    plans: dict[str, Plan], facts: Path
) -> None:
    coverage = kubernetes.coverage(plans, facts)
    gaps = kubernetes.unvalidated_kinds(plans, facts)
    assert set(coverage) == set(plans)
    for stack, (validated, total) in coverage.items():
        assert total > 30, stack
        # Only the kinds without a CRD in the facts go unvalidated, and they are counted.
        assert set(gaps[stack]) <= NO_CRD_IN_FACTS, gaps[stack]
        assert validated + sum(gaps[stack].values()) == total, f"{stack}: {validated}/{total}"
    # Every stack with a gateway strips the tenant header; public ones authenticate.
    assert all("ClientTrafficPolicy" in gaps[s] for s in plans)
    assert {"SecurityPolicy", "BackendTrafficPolicy"} <= set(gaps["prod"])
    kinds = {
        r["type"].rsplit(":", 1)[-1]
        for plan in plans.values()
        for r in plan.resources
        if r["type"].startswith("kubernetes:")
    }
    assert {
        "NodePool",
        "EC2NodeClass",
        "PrometheusRule",
        "ServiceMonitor",
        "ComputeClass",
        "Backend",
        "EnvoyProxy",
        "Gateway",
        "GatewayClass",
        "HTTPRoute",
        "ReferenceGrant",
        "Deployment",
        "ConfigMap",
    } <= kinds


def test_the_sigv4_proxy_image_is_checked(plans: dict[str, Plan], facts: Path) -> None:
    assert images.image_coverage(plans, facts)["prod"][0] >= 1


# ---------------------------------------------------------------------------
# k8s-schema: native objects, the cluster's Kubernetes version


def test_an_unknown_field_of_a_native_object(plans: dict[str, Plan], facts: Path) -> None:
    def typo(inputs: dict[str, Any]) -> None:
        container = inputs["spec"]["template"]["spec"]["containers"][0]
        container["resoures"] = container.pop("resources")

    plan, res = plant(plans, "prod", "prod-routing-sigv4", typo, ":Deployment")
    value = {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}
    assert errors("k8s-schema", plan, facts) == [
        expect(
            plan,
            res,
            "spec.template.spec.containers[0].resoures",
            UNKNOWN.format(where="Kubernetes 1.33 Deployment"),
            value,
        )
    ]


def test_an_api_version_kubernetes_removed(plans: dict[str, Plan], facts: Path) -> None:
    def old(inputs: dict[str, Any]) -> None:
        inputs["apiVersion"] = "autoscaling/v2beta2"

    plan, res = plant(plans, "prod", "prod-chat-llm-hpa", old)
    assert errors("k8s-schema", plan, facts) == [
        expect(
            plan,
            res,
            "apiVersion",
            "Kubernetes 1.33 serves no HorizontalPodAutoscaler in autoscaling/v2beta2",
            "autoscaling/v2beta2",
        )
    ]


def test_a_label_value_the_api_server_refuses(plans: dict[str, Plan], facts: Path) -> None:
    long = "x" * 64

    def label(inputs: dict[str, Any]) -> None:
        inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] = long

    plan, res = plant(plans, "dev", "dev-routing-ns", label)
    assert errors("k8s-schema", plan, facts) == [
        expect(
            plan,
            res,
            "metadata.labels.app.kubernetes.io/part-of",
            "invalid metadata: label value must be at most 63 characters of [A-Za-z0-9_.-], "
            "alphanumeric at both ends",
            long,
        )
    ]


# ---------------------------------------------------------------------------
# crd-schema: the CRD at the version the cluster pins, CEL rules included


def test_a_kind_the_chart_does_not_define_is_an_error(plans: dict[str, Plan], facts: Path) -> None:
    """Only kinds the facts folder says it left out are "not evaluated"; any other kind the
    pinned chart lacks is what the API server would refuse."""

    def rename(inputs: dict[str, Any]) -> None:
        inputs["kind"] = "SecurityPolicies"

    plan, res = plant(plans, "prod", "prod-routing-auth", rename)
    (finding,) = [f for f in errors("crd-schema", plan, facts) if f.key.startswith(res["name"])]
    assert finding.message == (
        "gateway-helm v1.5.9 defines no SecurityPolicies in API group gateway.envoyproxy.io"
    )


def test_a_kind_left_out_of_the_facts_is_reported_not_passed(
    plans: dict[str, Plan], facts: Path
) -> None:
    plan = plans["prod"]
    findings = check("crd-schema").run({"prod": plan}, facts)
    auth = [f for f in findings if f.key == "prod-routing-auth"]
    assert [f.not_evaluated for f in auth] == [True]
    assert "no CRD in the upstream facts" in auth[0].message
    assert kubernetes.unvalidated_kinds({"prod": plan}, facts)["prod"]["SecurityPolicy"] == 1
    assert upstream.trimmed_kinds(facts, "envoyproxy/gateway", "v1.5.9")["SecurityPolicy"] == (
        "charts/gateway-helm/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml"
    )


def test_a_crd_field_of_a_later_version(plans: dict[str, Plan], facts: Path) -> None:
    """Backend.spec.tls.sni exists only after Envoy Gateway 1.5 (the pinned v1.5.9)."""

    def sni(inputs: dict[str, Any]) -> None:
        inputs["spec"]["tls"]["sni"] = "api.llm.example.com"

    plan, res = plant(plans, "edge", "edge-routing-core", sni)
    where = f"Backend v1alpha1 ({GATEWAY_CRDS}/generated/gateway.envoyproxy.io_backends.yaml)"
    assert errors("crd-schema", plan, facts) == [
        expect(plan, res, "spec.tls.sni", UNKNOWN.format(where=where), "api.llm.example.com")
    ]


def test_a_cel_rule_ec2nodeclass_role_or_instance_profile(
    plans: dict[str, Plan], facts: Path
) -> None:
    def both(inputs: dict[str, Any]) -> None:
        inputs["spec"]["instanceProfile"] = "karpenter-nodes"

    plan, res = plant(plans, "prod", "prod-core-aws-gpu-cpu-nodeclass", both)
    assert errors("crd-schema", plan, facts) == [
        expect(
            plan,
            res,
            "spec",
            f"CEL rule of EC2NodeClass ({KARPENTER_CRDS}/karpenter.k8s.aws_ec2nodeclasses.yaml)"
            ": must specify exactly one of ['role', 'instanceProfile']",
        )
    ]


def test_a_cel_rule_with_a_kubernetes_function(plans: dict[str, Plan], facts: Path) -> None:
    """NodePool's restricted-label rule calls find(), Kubernetes' regex library."""

    def restricted(inputs: dict[str, Any]) -> None:
        inputs["spec"]["template"]["metadata"] = {"labels": {"karpenter.sh/custom": "x"}}

    plan, res = plant(plans, "prod", "prod-core-aws-gpu-cpu-nodepool", restricted)
    assert errors("crd-schema", plan, facts) == [
        expect(
            plan,
            res,
            "spec.template.metadata.labels",
            f"CEL rule of NodePool ({KARPENTER_CRDS}/karpenter.sh_nodepools.yaml): "
            'label domain "karpenter.sh" is restricted',
        )
    ]


def test_a_cel_rule_of_gateway_api(plans: dict[str, Plan], facts: Path) -> None:
    def twice(inputs: dict[str, Any]) -> None:
        inputs["spec"]["listeners"].append(copy.deepcopy(inputs["spec"]["listeners"][0]))

    plan, res = plant(plans, "prod", "prod-routing-gateway", twice)
    rule = f"CEL rule of Gateway ({GATEWAY_CRDS}/gatewayapi-crds.yaml): "
    assert errors("crd-schema", plan, facts) == [
        expect(
            plan, res, "spec.listeners", rule + "Listener name must be unique within the Gateway"
        ),
        expect(
            plan,
            res,
            "spec.listeners",
            rule + "Combination of port, protocol and hostname must be unique for each listener",
        ),
    ]


def test_a_gke_compute_class_cel_rule(plans: dict[str, Plan], facts: Path) -> None:
    def mixed(inputs: dict[str, Any]) -> None:
        inputs["spec"]["priorities"][0]["machineFamily"] = "a2"

    plan, res = plant(plans, "prod", "prod-core-gcp-gpu-heavy-a100-class", mixed)
    (finding,) = errors("crd-schema", plan, facts)
    assert finding.key == f"{res['name']}.spec.priorities[0]"
    assert finding.message.startswith("CEL rule of ComputeClass (tommy351/kubernetes-models-ts@")


def test_the_broken_route_of_the_old_schema_check(plans: dict[str, Plan], facts: Path) -> None:
    """What tests/gateway_api (npm) used to catch, now against the pinned CRD."""
    route = http_route(
        name="broken",
        namespace="llm-gateway",
        gateway="gw",
        header="x request class",  # spaces are not allowed in a header name
        classes={"a": ServiceTarget(service="svc", namespace="llm-serving", port=70000)},
        default_class=None,
    )

    def swap(inputs: dict[str, Any]) -> None:
        inputs.clear()
        inputs.update(json.loads(json.dumps(route)))

    plan, res = plant(plans, "prod", "prod-routing-classes", swap)
    where = f"HTTPRoute v1 ({GATEWAY_CRDS}/gatewayapi-crds.yaml)"
    assert [(f.key, f.message) for f in errors("crd-schema", plan, facts)] == [
        (
            f"{res['name']}.spec.rules[0].backendRefs[0].port",
            f"{where}: 70000 is greater than the maximum of 65535",
        ),
        (
            f"{res['name']}.spec.rules[0].matches[0].headers[0].name",
            f"{where}: 'x request class' does not match "
            '"^[A-Za-z0-9!#$%&\'*+\\\\-.^_\\\\x60|~]+$"',
        ),
    ]


def test_a_rule_using_a_function_the_evaluator_lacks_is_reported() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"url": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "isURL(self.url)", "message": "url"}],
            }
        },
    }
    (result,) = structural.cel_findings(schema, {"spec": {"url": "x"}})
    assert result.evaluated is False
    assert result.message == "uses isURL, which this CEL evaluator lacks"


def test_cel_property_names_are_escaped_as_kubernetes_does() -> None:
    assert cel.escape("namespace") == "__namespace__"
    assert cel.escape("a-b.c/d") == "a__dash__b__dot__c__slash__d"
    schema = {
        "type": "object",
        "properties": {"namespace": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "self.__namespace__ != 'kube-system'"}],
    }
    (result,) = structural.cel_findings(schema, {"namespace": "kube-system"})
    assert result.evaluated
    assert "__namespace__" in result.message


# ---------------------------------------------------------------------------
# helm-chart, helm-values


def test_a_chart_version_never_published(plans: dict[str, Plan], facts: Path) -> None:
    def unpublished(inputs: dict[str, Any]) -> None:
        inputs["version"] = "0.50.0"

    plan, res = plant(plans, "prod", "prod-core-aws-monitoring-cloudwatch-exporter", unpublished)
    assert errors("helm-chart", plan, facts) == [
        expect(
            plan,
            res,
            "version",
            "prometheus-yet-another-cloudwatch-exporter 0.50.0 was never published: "
            "prometheus-community/helm-charts has no tag "
            "'prometheus-yet-another-cloudwatch-exporter-0.50.0' (newest release 0.47.0, "
            "as of 2026-08-22), so the chart cannot be pulled",
            "0.50.0",
        )
    ]


def test_a_value_the_pinned_chart_no_longer_reads(plans: dict[str, Plan], facts: Path) -> None:
    def removed(inputs: dict[str, Any]) -> None:
        inputs["values"]["operator"] = {"defaultRuntime": "containerd"}

    plan, res = plant(plans, "prod", "prod-core-aws-gpu-operator-chart", removed)
    assert errors("helm-values", plan, facts) == [
        expect(
            plan,
            res,
            "values.operator.defaultRuntime",
            "gpu-operator v25.3.0 does not read it: not in its values.yaml (declared down to "
            "operator) and no template reads .Values.operator.defaultRuntime",
            "containerd",
        )
    ]


def test_a_subchart_value_is_judged_by_the_subchart(plans: dict[str, Plan], facts: Path) -> None:
    def bogus(inputs: dict[str, Any]) -> None:
        inputs["values"]["grafana"]["sidecar"]["dashboards"]["folderz"] = "x"

    plan, res = plant(plans, "prod", "prod-core-aws-monitoring-kube-prometheus-stack", bogus)
    assert errors("helm-values", plan, facts) == [
        expect(
            plan,
            res,
            "values.grafana.sidecar.dashboards.folderz",
            "grafana 9.3.0 does not read it: not in its values.yaml (declared down to "
            "sidecar.dashboards) and no template reads .Values.sidecar.dashboards.folderz",
            "x",
        )
    ]


def test_free_form_maps_take_any_key(facts: Path) -> None:
    chart = upstream.chart_of("oci://public.ecr.aws/karpenter/karpenter", None)
    assert chart is not None
    karpenter = helm.chart_at(chart, "1.6.5")
    # nodeSelector has a default key, but the templates hand it to toYaml whole.
    assert helm.unread_values(karpenter, {"nodeSelector": {"pool": "system"}}, facts) == []
    assert helm.unread_values(karpenter, {"podAnnotations": {"a/b": "c"}}, facts) == []
    assert helm.unread_values(karpenter, {"settings": {"clusterNmae": "x"}}, facts) != []


def test_a_chart_without_upstream_facts_stops_the_run(plans: dict[str, Plan], facts: Path) -> None:
    def elsewhere(inputs: dict[str, Any]) -> None:
        inputs["repositoryOpts"] = {"repo": "https://charts.example.com"}

    plan, _ = plant(plans, "dev", "dev-core-aws-monitoring-prometheus-adapter", elsewhere)
    with pytest.raises(MissingFacts, match=r"not in tools/conformance/upstream\.py CHARTS"):
        check("helm-chart").run({"dev": plan}, facts)


# ---------------------------------------------------------------------------
# image-user


def test_a_root_image_with_run_as_non_root(plans: dict[str, Plan], facts: Path) -> None:
    def no_user(inputs: dict[str, Any]) -> None:
        # Neither the container nor the pod names a user (the pod's would be inherited).
        pod = inputs["spec"]["template"]["spec"]
        for context in (pod["containers"][0]["securityContext"], pod["securityContext"]):
            del context["runAsUser"], context["runAsGroup"]

    plan, res = plant(plans, "prod", "prod-routing-sigv4", no_user, ":Deployment")
    assert errors("image-user", plan, facts) == [
        expect(
            plan,
            res,
            "spec.template.spec.containers[0].securityContext.runAsNonRoot",
            "runAsNonRoot is true, no runAsUser is set and "
            "public.ecr.aws/aws-observability/aws-sigv4-proxy:1.11.1 runs as root (no USER in "
            "awslabs/aws-sigv4-proxy@v1.11.1:Dockerfile): the kubelet refuses to start it "
            '("container has runAsNonRoot and image will run as root")',
            True,
        )
    ]


def test_a_shell_command_on_a_scratch_image(plans: dict[str, Plan], facts: Path) -> None:
    def shell(inputs: dict[str, Any]) -> None:
        inputs["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "x"]

    plan, res = plant(plans, "prod", "prod-routing-sigv4", shell, ":Deployment")
    assert errors("image-user", plan, facts) == [
        expect(
            plan,
            res,
            "spec.template.spec.containers[0].command",
            "public.ecr.aws/aws-observability/aws-sigv4-proxy:1.11.1 is built FROM scratch "
            "with ENTRYPOINT ['./aws-sigv4-proxy'] (awslabs/aws-sigv4-proxy@v1.11.1:"
            "Dockerfile): it holds no 'sh' to run",
            ["sh", "-c", "x"],
        )
    ]


# ---------------------------------------------------------------------------
# metric-sources


def test_a_gpu_alert_on_gke(plans: dict[str, Plan], facts: Path) -> None:
    def dcgm(inputs: dict[str, Any]) -> None:
        inputs["spec"]["groups"][0]["rules"].append(
            {"alert": "GpuHot", "expr": "DCGM_FI_DEV_GPU_TEMP > 90", "for": "5m"}
        )

    plan, res = plant(plans, "prod", "prod-core-gcp-monitoring-llm-inference-capacity", dcgm)
    n = len(res["inputs"]["spec"]["groups"][0]["rules"]) - 1
    assert errors("metric-sources", plan, facts) == [
        expect(
            plan,
            res,
            f"spec.groups[0].rules[{n}].expr",
            "alert GpuHot reads DCGM_FI_DEV_GPU_TEMP, which cluster prod-core-gcp does not "
            "have: it is exported by dcgm-exporter; no DCGM exporter is scraped there: GKE's "
            "managed DCGM metrics go to Cloud Monitoring, not to the in-cluster Prometheus",
            "DCGM_FI_DEV_GPU_TEMP",
        )
    ]


def test_a_triton_cache_metric_without_a_response_cache(
    plans: dict[str, Plan], facts: Path
) -> None:
    def cache(inputs: dict[str, Any]) -> None:
        inputs["spec"]["groups"][0]["rules"].append(
            {"record": "x:cache_hits", "expr": "sum(rate(nv_cache_num_hits_per_model[5m]))"}
        )

    plan, res = plant(plans, "dev", "dev-core-aws-monitoring-llm-inference-triton", cache)
    n = len(res["inputs"]["spec"]["groups"][0]["rules"]) - 1
    assert errors("metric-sources", plan, facts) == [
        expect(
            plan,
            res,
            f"spec.groups[0].rules[{n}].expr",
            "rule x:cache_hits reads nv_cache_num_hits_per_model, which cluster dev-core-aws "
            "does not have: Triton exports them only when a response cache is configured, and "
            "no Triton there runs with --cache-config",
            "nv_cache_num_hits_per_model",
        )
    ]


def test_the_exporters_of_a_cluster_come_from_its_plan(plans: dict[str, Plan]) -> None:
    by_name = {c.name: c for c in metrics.clusters(plans["prod"]).values()}
    eks = metrics.sources(plans["prod"], by_name["prod-core-aws"])
    gke = metrics.sources(plans["prod"], by_name["prod-core-gcp"])
    assert {"dcgm-exporter", "karpenter", "yace", "triton", "vllm"} <= eks.exporters
    assert gke.exporters == {"prometheus", "kube-state-metrics", "triton", "vllm"}
    assert "aws_sagemaker_invocations_sum" in eks.yace


# ---------------------------------------------------------------------------
# The command


def test_a_missing_facts_folder_is_exit_2_and_says_how_to_fill_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--facts", str(tmp_path / "none")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert str(tmp_path / "none") in err
    assert "make upstream-facts" in err


def test_an_unknown_stack_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nosuch"]) == cli.EXIT_USAGE
    assert "no stack file for nosuch" in capsys.readouterr().err


def test_a_missing_derived_fact_is_missing_data_not_a_pass(
    plans: dict[str, Plan], facts: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "facts"
    for entry in facts.iterdir():
        if entry.name != "derived":
            (partial / entry.name).parent.mkdir(parents=True, exist_ok=True)
            (partial / entry.name).symlink_to(entry)
    (partial / "derived").mkdir()
    with pytest.raises(MissingFacts, match=r"values-read\.json was never generated"):
        check("helm-values").run({"dev": plans["dev"]}, partial)


def test_every_check_module_plugs_in_through_the_registry() -> None:
    names = [c.name for c in all_checks()]
    assert len(names) == len(set(names))
    assert {
        "k8s-schema",
        "crd-schema",
        "helm-chart",
        "helm-values",
        "image-user",
        "metric-sources",
    } <= set(names)
