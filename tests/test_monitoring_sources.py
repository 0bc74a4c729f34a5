"""Each cluster's rules and dashboards read only what an exporter on that cluster exports.

The DCGM exporter runs where the NVIDIA GPU Operator does (EKS); GKE's managed DCGM
reports to Cloud Monitoring, not to the in-cluster Prometheus. Karpenter and YACE run
only where they are installed, and Triton exports ``nv_cache_*`` only with a response
cache, which the clusters' Triton does not configure. ``make conformance`` checks the
same on the plans from upstream facts (tests/test_conformance.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from blueprint.monitoring import dashboards
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring import sources as metric
from blueprint.monitoring.promql import metric_names
from tools.preview.recorder import Plan

EVERYTHING = frozenset({*metric.ALWAYS, *metric.SERVING, metric.DCGM, metric.KARPENTER})


def kube(plan: Plan, kind: str, cluster: str) -> list[dict[str, Any]]:
    return [
        r
        for r in plan.resources
        if r["type"].endswith(f":{kind}") and (r["provider"] or "").endswith(f"::{cluster}-k8s")
    ]


def exprs(plan: Plan, cluster: str) -> dict[str, set[str]]:
    """Alert or record name -> metric names, for every rule on the cluster."""
    out: dict[str, set[str]] = {}
    for res in kube(plan, "PrometheusRule", cluster):
        for group in res["inputs"]["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule["record"]
                out.setdefault(name, set()).update(metric_names(rule["expr"]))
    return out


def dashboard_uids(plan: Plan, cluster: str) -> set[str]:
    return {
        json.loads(next(iter(cm["inputs"]["data"].values())))["uid"]
        for cm in kube(plan, "ConfigMap", cluster)
        if cm["inputs"]["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    }


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gke_clusters_carry_no_dcgm_karpenter_or_cloudwatch_reads(
    plans: dict[str, Plan], stack: str
) -> None:
    gke = exprs(plans[stack], f"{stack}-core-gcp")
    read = set().union(*gke.values())
    assert not {n for n in read if n.startswith("DCGM_")}
    assert not {n for n in read if n.startswith(("karpenter_", "aws_sagemaker_"))}
    assert "GpuXidError" not in gke
    assert "ServerlessEndpointErrors" not in gke
    assert "llm-inference-gpus" not in dashboard_uids(plans[stack], f"{stack}-core-gcp")
    # The EKS cluster of the same stack runs the GPU Operator: its GPU alerts stay.
    eks = exprs(plans[stack], f"{stack}-core-aws")
    assert {"GpuXidError", "GpuMemoryPressure", "SpotInterruptionsHigh"} <= set(eks)
    assert "ServerlessEndpointErrors" in eks
    assert "llm-inference-gpus" in dashboard_uids(plans[stack], f"{stack}-core-aws")


@pytest.mark.parametrize("stack", ["dev", "edge"])
def test_clusters_without_yace_carry_no_serverless_alerts(
    plans: dict[str, Plan], stack: str
) -> None:
    for res in plans[stack].by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        assert res["inputs"]["metadata"]["name"] != "llm-inference-serverless"


def test_no_cluster_reads_triton_cache_metrics_without_a_response_cache(
    plans: dict[str, Plan],
) -> None:
    for plan in plans.values():
        for res in plan.by_type("kubernetes:apps/v1:Deployment"):
            for c in res["inputs"]["spec"]["template"]["spec"]["containers"]:
                assert not any("--cache-config" in str(w) for w in c.get("args", []))
        for res in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
            text = json.dumps(res["inputs"]["spec"])
            assert "nv_cache_" not in text
            assert "TritonCacheHitRatioDrop" not in text
        for res in plan.by_type("kubernetes:core/v1:ConfigMap"):
            assert "nv_cache_" not in json.dumps(res["inputs"].get("data", {}))


def test_a_rule_on_a_dropped_recorded_series_is_dropped_too() -> None:
    files = alert_rules.source_files()
    kept, available = metric.select(files, EVERYTHING)
    names = {
        r.get("alert") or r.get("record")
        for d in kept.values()
        for g in d["groups"]
        for r in g["rules"]
    }
    # The cache ratio is recorded from nv_cache_*, and the alert reads only the record.
    assert "llm_inference:model_cache_hit_ratio:rate30m" not in names
    assert "TritonCacheHitRatioDrop" not in names
    assert "llm_inference:model_cache_hit_ratio:rate30m" in available.lost
    assert "serverless.yaml" not in kept  # no YACE in EVERYTHING
    full, _ = metric.select(files, EVERYTHING | {metric.YACE, metric.RESPONSE_CACHE})
    assert full == {k: dict(v) for k, v in files.items()}


def test_dashboards_lose_the_panels_a_cluster_cannot_fill() -> None:
    _, gke = metric.select(alert_rules.source_files(), metric.ALWAYS | metric.SERVING)
    models = dashboards.all_dashboards(keep=gke.reads_ok)
    assert "llm-inference-gpus" not in models
    titles = [p["title"] for p in models["llm-inference-serving"]["panels"]]
    assert "Response cache hit ratio" not in titles
    assert set(dashboards.all_dashboards()) == {
        "llm-inference-serving",
        "llm-inference-llm",
        "llm-inference-gpus",
        "llm-inference-cost",
    }
