"""The monitoring component under Pulumi's mocks, built from the prod stack's config."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.capacity import pool_specs
from blueprint.config import StackConfig
from blueprint.cost.budget import split_budget
from blueprint.cost.estimate import estimate
from blueprint.monitoring import autoscaling, dashboards
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.catalog import ksm_label, load_catalog
from components.k8s import monitoring as mon
from composition.monitoring import cluster_budget_usd, cluster_facts
from tests.conftest import REPO
from tools.preview.recorder import Plan, record_program
from tools.promtool import tool

PROGRAM = """
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from blueprint.config import load_stack_file, stack_file
from blueprint.monitoring.alertmanager import required_secrets
from composition.monitoring import monitoring_args
from components.k8s.monitoring import Monitoring

cfg = load_stack_file(stack_file("prod"))
secrets = {key: pulumi.Output.secret(f"secret-{key}") for key in required_secrets(cfg.monitoring)}
provider = k8s.Provider("core-aws", kubeconfig="{}")
aws_provider = aws.Provider("aws", region="us-east-1")
monitoring = Monitoring(
    "prod-core-aws-monitoring",
    monitoring_args(cfg, "prod", "core-aws", secrets=secrets, karpenter_namespace="karpenter",
                    cloudwatch_trust_policy='{"Version": "2012-10-17", "Statement": []}',
                    gpu_operator=True),
    opts=pulumi.ResourceOptions(providers=[provider, aws_provider]),
)
pulumi.export("namespace", monitoring.namespace)
pulumi.export("hpaMetric", monitoring.hpa_queue_metric)
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    program = tmp_path_factory.mktemp("program") / "program.py"
    program.write_text(PROGRAM)
    return record_program("prod", {}, program=program)


def one(plan: Plan, type_: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in plan.by_type(type_) if r["name"] == name]
    return found


def release(plan: Plan, name: str) -> dict[str, Any]:
    return one(plan, "kubernetes:helm.sh/v3:Release", f"prod-core-aws-monitoring-{name}")


def custom(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [r for r in plan.resources if r["type"] == f"kubernetes:monitoring.coreos.com/v1:{kind}"]


def test_every_child_is_parented_and_named_after_the_component(plan: Plan) -> None:
    (component,) = plan.by_type(mon.TYPE)
    children = [r for r in plan.resources if r["parent"] == component["urn"]]
    assert len(children) >= 10
    for child in children:
        assert child["name"].startswith("prod-core-aws-monitoring-"), child["name"]
        if child["type"].startswith("random:"):
            continue  # the Grafana password: pulumi-random's default provider, no cloud
        assert child["provider"].endswith(
            "::core-aws" if "kubernetes" in child["type"] else "::aws"
        )
    assert plan.outputs == {"namespace": "monitoring", "hpaMetric": autoscaling.HPA_QUEUE_METRIC}


def test_kube_prometheus_stack_is_pinned_from_config(
    plan: Plan, configs: dict[str, StackConfig]
) -> None:
    kps = release(plan, "kube-prometheus-stack")["inputs"]
    monitoring = configs["prod"].monitoring
    assert monitoring is not None
    assert kps["chart"] == "kube-prometheus-stack"
    assert kps["version"] == monitoring.kube_prometheus_stack_version
    assert kps["repositoryOpts"]["repo"] == mon.CHART_REPO
    spec = kps["values"]["prometheus"]["prometheusSpec"]
    assert spec["externalLabels"] == {"cluster": "prod-core-aws"}
    assert spec["retention"] == f"{monitoring.retention_days}d"
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert kps["values"]["defaultRules"]["rules"]["general"] is False
    # The configuration carries credentials: a Secret of its own, never Helm values.
    assert kps["values"]["alertmanager"] == {
        "alertmanagerSpec": {"useExistingSecret": True, "configSecret": mon.ALERTMANAGER_SECRET}
    }
    assert kps["values"]["grafana"]["admin"] == {
        "existingSecret": mon.GRAFANA_ADMIN_SECRET,
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert "adminPassword" not in json.dumps(kps["values"])
    allow = kps["values"]["kube-state-metrics"]["metricLabelsAllowlist"]
    assert "nodes=[" + ",".join(load_catalog().allowlist["nodes"]) + "]" in allow


def test_prometheus_rules_are_native_resources_from_the_same_files(
    plan: Plan, configs: dict[str, StackConfig]
) -> None:
    rules = custom(plan, "PrometheusRule")
    files = [*sorted(alert_rules.source_files()), "facts.yaml"]
    assert sorted(r["inputs"]["metadata"]["name"] for r in rules) == sorted(
        f"llm-inference-{f.removesuffix('.yaml')}" for f in files
    )
    monitoring = configs["prod"].monitoring
    assert monitoring is not None
    alerts = [
        rule
        for r in rules
        for group in r["inputs"]["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    # Every alert but the response-cache one: the clusters' Triton runs without a cache,
    # so nothing exports its metrics there (tests/test_monitoring_sources.py).
    assert {a["alert"] for a in alerts} == set(alert_rules.alert_names()) - {
        "TritonCacheHitRatioDrop"
    }
    for a in alerts:
        assert a["annotations"]["runbook_url"] == f"{monitoring.runbook_base_url}/{a['alert']}.md"
    kps_urn = release(plan, "kube-prometheus-stack")["urn"]
    assert all(kps_urn in r["dependencies"] for r in rules), "rules need the operator's CRDs"


def test_facts_are_those_of_the_cluster(plan: Plan) -> None:
    (facts,) = [
        r for r in custom(plan, "PrometheusRule")
        if r["inputs"]["metadata"]["name"] == "llm-inference-facts"
    ]  # fmt: skip
    rules = facts["inputs"]["spec"]["groups"][0]["rules"]
    budgets = {
        (r["labels"]["deployment"], r["labels"]["model"]): r["expr"]
        for r in rules
        if r["record"] == "llm_inference:model_latency_budget_seconds"
    }
    # core-aws serves chat-llm (h100 MIG variant), chat-llm-long (h200) and embed-guard;
    # chat-llm-gcp runs on the other cluster. The LLMs have TTFT budgets instead.
    assert budgets == {
        ("embed-guard", "text_embedding"): "vector(0.25)",
        ("embed-guard", "prompt_guard"): "vector(0.2)",
    }
    ttft = {
        (r["labels"]["deployment"], r["labels"]["model_name"]): r["expr"]
        for r in rules
        if r["record"] == "llm_inference:llm_ttft_budget_seconds"
    }
    assert ttft == {
        ("chat-llm", "chat_llm"): "vector(1)",
        ("chat-llm-long", "chat_llm"): "vector(0.5)",
    }
    floors = {r["labels"]["pool"]: r["expr"] for r in rules if r["record"].endswith("floor")}
    assert floors == {
        "heavy-h100": "vector(1)",
        "light-l40s": "vector(2)",
        "light-l4": "vector(2)",
        "cpu": "vector(1)",
    }


def test_service_monitors(plan: Plan) -> None:
    monitors = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in custom(plan, "ServiceMonitor")
    }
    # The GPU Operator scrapes its DCGM exporter itself; a second monitor would duplicate it.
    assert set(monitors) == {"triton", "vllm", "karpenter"}
    vllm = monitors["vllm"]
    assert vllm["selector"]["matchLabels"] == {"app.kubernetes.io/name": "vllm"}
    assert vllm["jobLabel"] == "app.kubernetes.io/name"  # job="vllm", as the LLM rules read
    assert vllm["endpoints"][0]["port"] == "http"
    triton = monitors["triton"]
    assert triton["selector"]["matchLabels"] == {"app.kubernetes.io/name": "triton"}
    assert triton["namespaceSelector"] == {"any": True}
    assert triton["jobLabel"] == "app.kubernetes.io/name"
    (endpoint,) = triton["endpoints"]
    assert endpoint["port"] == "metrics"
    relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert relabel == {
        "deployment": ["__meta_kubernetes_pod_label_llm_inference_deployment"],
        "tenant": ["__meta_kubernetes_pod_label_llm_inference_tenant"],
    }
    assert monitors["karpenter"]["namespaceSelector"] == {"matchNames": ["karpenter"]}
    dcgm = mon.dcgm_service_monitor_spec("gpu-operator")
    assert dcgm["endpoints"][0]["honorLabels"] is True


def test_prometheus_adapter_serves_the_hpa_metric(
    plan: Plan, configs: dict[str, StackConfig]
) -> None:
    adapter = release(plan, "prometheus-adapter")["inputs"]
    monitoring = configs["prod"].monitoring
    assert monitoring is not None
    assert adapter["version"] == monitoring.prometheus_adapter_version
    assert adapter["values"]["prometheus"]["url"] == "http://kps-prometheus.monitoring.svc"
    rules = {r["name"]["as"]: r for r in adapter["values"]["rules"]["custom"]}
    assert set(rules) == {
        autoscaling.HPA_QUEUE_METRIC,
        autoscaling.HPA_WAITING_METRIC,
        autoscaling.HPA_KV_CACHE_METRIC,
    }
    # The LLM tier scales on the engine's own queue and KV cache, which vLLM exports.
    waiting = rules[autoscaling.HPA_WAITING_METRIC]
    assert waiting["seriesQuery"].startswith("vllm:num_requests_waiting{")
    assert "vllm:kv_cache_usage_perc" in rules[autoscaling.HPA_KV_CACHE_METRIC]["metricsQuery"]


def test_cloudwatch_exporter_fetches_what_the_rules_read(plan: Plan) -> None:
    record = release(plan, "cloudwatch-exporter")
    yace = record["inputs"]
    assert yace["chart"] == "prometheus-yet-another-cloudwatch-exporter"
    sa = yace["values"]["serviceAccount"]
    assert sa["name"] == mon.YACE_SERVICE_ACCOUNT
    role = one(plan, "aws:iam/role:Role", "prod-core-aws-monitoring-cloudwatch-exporter")
    assert role["urn"] in record["dependencies"]
    assert sa["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/prod-core-aws-monitoring-cloudwatch-exporter"
    )
    policy = one(
        plan, "aws:iam/rolePolicy:RolePolicy", "prod-core-aws-monitoring-cloudwatch-exporter"
    )
    actions = json.loads(policy["inputs"]["policy"])["Statement"][0]["Action"]
    assert "cloudwatch:GetMetricData" in actions
    assert "tag:GetResources" in actions
    (job,) = yaml.safe_load(yace["values"]["config"])["discovery"]["jobs"]
    assert job["type"] == "AWS/SageMaker"
    fetched = {m["name"]: m["statistics"] for m in job["metrics"]}
    assert "SampleCount" in fetched["ModelSetupTime"]
    assert "Maximum" in fetched["ServerlessConcurrentExecutionsUtilization"]


def test_dashboards_are_configmaps_for_the_grafana_sidecar(plan: Plan) -> None:
    maps = [r for r in plan.by_type("kubernetes:core/v1:ConfigMap")]
    assert len(maps) == len(dashboards.all_dashboards()) == 4  # serving, llm, gpus, cost
    for cm in maps:
        assert cm["inputs"]["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, body),) = cm["inputs"]["data"].items()
        model = json.loads(body)
        assert key == f"{model['uid']}.json"


def test_cluster_budgets_come_from_the_one_budget_split(configs: dict[str, StackConfig]) -> None:
    """Each cluster's budget is its share of the stack's estimated ceiling, the same rule
    that splits the budget between the clouds; a cluster's GKE pools count at the worst
    case GKE allows (the on-demand pool taking the whole burst again)."""
    cfg = configs["prod"]
    assert cfg.budget is not None
    est = estimate(cfg, "prod")
    shares = {c: cluster_budget_usd(cfg, "prod", c) or 0 for c in cfg.clusters}
    for cluster, (_floor, ceiling) in est.by_cluster().items():
        want = cfg.budget.monthly_usd * ceiling / est.ceiling
        assert shares[cluster] == pytest.approx(want, abs=0.01)
    # Clusters, NAT and serverless endpoints share the budget: the clusters' part plus
    # the rest add up to the budget, and the clusters on one cloud never exceed its share.
    split = split_budget(cfg, "prod")
    assert split is not None
    assert sum(split.cloud(c) for c in split.clouds) == pytest.approx(cfg.budget.monthly_usd)
    for cloud in split.clouds:
        on_cloud = [s for c, s in shares.items() if cfg.clusters[c].cloud.value == cloud]
        assert sum(on_cloud) <= split.cloud(cloud) + 0.05
    gke_pool = next(line for line in est.lines if line.name == "heavy-a100")
    plans = pool_specs(cfg)["heavy-a100"].gke_node_pools
    assert gke_pool.cluster == "core-gcp"
    assert sum(p.max_nodes for p in plans) > cfg.gpu_pools["heavy-a100"].nodes.max  # worst case
    assert cluster_facts(cfg, "prod", "core-gcp").pool_on_demand_floors == {
        "heavy-a100": 1,
        "light-l4-gcp": 1,
    }


def test_ksm_allowlist_labels_are_the_ones_the_rules_read() -> None:
    used = set()
    for doc in alert_rules.source_files().values():
        used |= set(re.findall(r"\blabel_[a-z0-9_]+\b(?!\()", json.dumps(doc)))
    allowed = {ksm_label(k) for labels in load_catalog().allowlist.values() for k in labels}
    assert used <= allowed


def series(metric: str, pod: str, model: str, values: str) -> dict[str, str]:
    return {
        "series": f'{metric}{{namespace="serving",pod="{pod}",model="{model}"}}',
        "values": values,
    }


def test_the_adapter_query_computes_queue_time_per_request(tmp_path: Path) -> None:
    """The adapter's query, as it sends it for two pods, evaluated by promtool."""
    query = autoscaling.render_query('namespace="serving",pod=~"a|b"', "pod")
    doc = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # pod a: 2 models, 3 s of queueing for 100 requests a minute: 30 ms
                    series("nv_inference_queue_duration_us", "a", "x", "0+2000000x10"),
                    series("nv_inference_queue_duration_us", "a", "y", "0+1000000x10"),
                    series("nv_inference_request_success", "a", "x", "0+50x10"),
                    series("nv_inference_request_success", "a", "y", "0+50x10"),
                    # pod b: idle, 0 not NaN
                    series("nv_inference_queue_duration_us", "b", "x", "0x10"),
                    series("nv_inference_request_success", "b", "x", "0x10"),
                ],
                "promql_expr_test": [
                    {
                        "expr": query,
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": '{pod="a"}', "value": 30000},
                            {"labels": '{pod="b"}', "value": 0},
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    (tmp_path / "adapter_test.yaml").write_text(yaml.safe_dump(doc))
    result = subprocess.run(
        [tool("promtool"), "test", "rules", "adapter_test.yaml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_example_runs_under_mocks(tmp_path: Path) -> None:
    readme = (REPO / "monitoring" / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    program = tmp_path / "example.py"
    program.write_text(textwrap.dedent(example))
    # dev mails its alerts: the example reads the SMTP password as a stack secret.
    secret = {"llm-inference:alertSmtpPassword": {"secure": "v1:ZXhhbXBsZQ==:ZXhhbXBsZQ=="}}
    plan = record_program("example", secret, program=program)
    assert plan.by_type(mon.TYPE)
    assert custom(plan, "PrometheusRule")


def test_alertmanager_config_and_grafana_password_live_in_secrets(plan: Plan) -> None:
    """Both Secrets the chart reads hold Pulumi secrets: the plan shows [secret], never a
    value; the Grafana password is generated (pulumi-random), not the chart's default."""
    am_secret = one(
        plan, "kubernetes:core/v1:Secret", "prod-core-aws-monitoring-alertmanager-config"
    )
    assert am_secret["inputs"]["metadata"]["name"] == mon.ALERTMANAGER_SECRET
    assert am_secret["inputs"]["stringData"] == "[secret]"
    grafana = one(plan, "kubernetes:core/v1:Secret", "prod-core-aws-monitoring-grafana-admin")
    assert grafana["inputs"]["metadata"]["name"] == mon.GRAFANA_ADMIN_SECRET
    assert grafana["inputs"]["stringData"] == "[secret]"
    password = one(
        plan, "random:index/randomPassword:RandomPassword", "prod-core-aws-monitoring-grafana-admin"
    )
    assert password["inputs"]["length"] == mon.GRAFANA_PASSWORD_LENGTH
    kps = release(plan, "kube-prometheus-stack")
    assert {am_secret["urn"], grafana["urn"]} <= set(kps["dependencies"])
    text = plan.dumps()
    assert "secret-alert" not in text  # the secrets' values passed in
    assert "offline-placeholder-password" not in text  # the mocked RandomPassword result
