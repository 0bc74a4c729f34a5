"""From a stack's validated config to one cluster's ``MonitoringArgs`` (for the composition root).

The composition root calls :func:`monitoring_args` once per cluster; the component
itself reads no config. Everything per cluster is derived here from its one source:

- SLO facts: the deployments (``models``) placed on the cluster, their repo models and
  variant, and ``monitoring/slo.yaml``;
- on-demand floors: the cluster's spot pools that fall back to on-demand;
- the cluster's budget share: ``budget.monthlyUsd`` split between the stack's clusters in
  proportion to the catalog on-demand price of their GPU pools at ``nodes.max``;
- rules, Alertmanager routing, dashboards, the kube-state-metrics allow-list and the
  CloudWatch metrics from their files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import yaml

from blueprint.catalog import load_catalog
from blueprint.config.schema import Cloud, Fallback, StackConfig
from blueprint.monitoring import alertmanager, dashboards
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.catalog import METRICS_DIR
from blueprint.monitoring.catalog import load_catalog as load_metric_catalog
from blueprint.monitoring.facts import Facts
from blueprint.monitoring.objectives import objectives_for
from components.k8s.monitoring import CloudWatchExporterArgs, MonitoringArgs


def pool_ceiling_usd_per_hour(cfg: StackConfig, cluster: str) -> float:
    catalog = load_catalog()
    total = 0.0
    for pool in cfg.gpu_pools.values():
        if pool.cluster != cluster:
            continue
        inst = catalog.instance(pool.instance_types[0])
        if inst is not None:
            total += pool.nodes.max * inst.on_demand
    return total


def cluster_budget_usd(cfg: StackConfig, cluster: str) -> float | None:
    """This cluster's share of the stack's monthly budget (None without a budget)."""
    if cfg.budget is None or not cfg.clusters:
        return None
    ceilings = {name: pool_ceiling_usd_per_hour(cfg, name) for name in cfg.clusters}
    total = sum(ceilings.values())
    share = ceilings[cluster] / total if total > 0 else 1 / len(cfg.clusters)
    return round(cfg.budget.monthly_usd * share, 2)


def cluster_facts(cfg: StackConfig, cluster: str) -> Facts:
    deployments = {
        name: (list(d.repo_models), d.variant)
        for name, d in cfg.models.items()
        if d.cluster == cluster
    }
    floors = {
        name: pool.on_demand_floor
        for name, pool in cfg.gpu_pools.items()
        if pool.cluster == cluster and pool.spot and pool.fallback == Fallback.ON_DEMAND
    }
    return Facts(
        objectives=objectives_for(deployments),
        pool_on_demand_floors=floors,
        cluster_budget_monthly_usd=cluster_budget_usd(cfg, cluster),
    )


def cloudwatch_metrics() -> dict[str, list[str]]:
    """CloudWatch metric -> statistics YACE must fetch (monitoring/metrics/cloudwatch.yaml)."""
    doc: dict[str, Any] = yaml.safe_load((METRICS_DIR / "cloudwatch.yaml").read_text())
    return {name: list(stats) for name, stats in doc["cloudwatch"].items()}


def monitoring_args(
    cfg: StackConfig,
    stack: str,
    cluster: str,
    *,
    receivers: Mapping[str, Mapping[str, Any]] | None = None,
    karpenter_namespace: str | None = None,
    cloudwatch_trust_policy: pulumi.Input[str] | None = None,
) -> MonitoringArgs:
    """The monitoring component's arguments for ``cluster`` of stack ``stack``.

    ``cloudwatch_trust_policy`` (the IRSA trust policy of the exporter's service account)
    turns on YACE for the stack's SageMaker Serverless endpoints on an AWS cluster.
    """
    if cfg.monitoring is None:
        raise ValueError("the stack has no monitoring section")
    mon = cfg.monitoring
    cluster_cfg = cfg.clusters[cluster]
    rendered = alert_rules.render(mon.runbook_base_url, cluster_facts(cfg, cluster))
    config = alertmanager.load()
    if receivers:
        config = alertmanager.with_receivers(config, receivers)
    cloudwatch = None
    if cloudwatch_trust_policy is not None and cluster_cfg.cloud == Cloud.AWS and cfg.aws:
        cloudwatch = CloudWatchExporterArgs(
            chart_version=mon.cloudwatch_exporter_version,
            region=cfg.aws.region,
            trust_policy=cloudwatch_trust_policy,
            metrics=cloudwatch_metrics(),
        )
    return MonitoringArgs(
        cluster=f"{stack}-{cluster}",
        chart_version=mon.kube_prometheus_stack_version,
        adapter_chart_version=mon.prometheus_adapter_version,
        retention_days=mon.retention_days,
        rule_files=rendered,
        alertmanager_config=config,
        dashboards=dashboards.all_dashboards(),
        ksm_label_allowlist=load_metric_catalog().allowlist,
        # The GPU Operator's own ServiceMonitor scrapes the DCGM exporter on EKS
        # (components/k8s/gpu_operator.py); GKE runs no DCGM exporter of ours.
        dcgm_namespace=None,
        karpenter_namespace=karpenter_namespace,
        cloudwatch=cloudwatch,
    )
