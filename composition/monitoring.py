"""Section 6, monitoring: one monitoring stack per cluster, its arguments derived from the config.

:func:`build` creates a :class:`components.k8s.monitoring.Monitoring` per cluster
with :func:`monitoring_args`; the component itself reads no config. The CloudWatch
exporter for the SageMaker Serverless endpoints runs on the first AWS cluster, with
an IRSA role. Everything per cluster is derived here from its one source:

- SLO facts: the deployments (``models``) placed on the cluster, their repo models and
  variant, and ``monitoring/slo.yaml``;
- on-demand floors: the cluster's spot pools that fall back to on-demand;
- the cluster's budget share: the one budget split (:mod:`blueprint.cost.budget`);
- rules, Alertmanager routing, dashboards, the kube-state-metrics allow-list and the
  CloudWatch metrics from their files;
- Alertmanager's receivers from ``monitoring.alertEmails``/``smtp``/``paging``/``chat``
  and the stack secrets they need (:func:`receiver_secrets`), read with Pulumi's secret
  API: the rendered configuration is a secret Output;
- the metric sources the cluster's Prometheus scrapes (:func:`metric_sources`): rules
  and dashboard panels that read a metric none of them exports are left out
  (:mod:`blueprint.monitoring.sources`), so GKE clusters carry no DCGM alerts (GKE's
  managed DCGM reports to Cloud Monitoring), clusters without YACE no SageMaker
  alerts, and no cluster the Triton response-cache rules (its Triton runs without
  ``--cache-config``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import yaml

from blueprint.cost.budget import split_budget
from blueprint.monitoring import alertmanager, dashboards
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring import sources as metric
from blueprint.monitoring.catalog import METRICS_DIR
from blueprint.monitoring.catalog import load_catalog as load_metric_catalog
from blueprint.monitoring.facts import Facts
from blueprint.monitoring.objectives import llm_objectives_for, objectives_for
from blueprint.schema import Cloud, Fallback, MonitoringConfig, StackConfig
from components.aws.gpu_capacity import KARPENTER_NAMESPACE
from components.k8s.handle import ClusterHandle
from components.k8s.monitoring import (
    YACE_SERVICE_ACCOUNT,
    CloudWatchExporterArgs,
    Monitoring,
    MonitoringArgs,
)
from composition.clusters import runs_gpu_operator
from composition.context import StackContext, secret
from composition.foundation import Foundation


def cluster_budget_usd(cfg: StackConfig, stack: str, cluster: str) -> float | None:
    """This cluster's share of the stack's monthly budget (None without a budget)."""
    split = split_budget(cfg, stack)
    return None if split is None else round(split.cluster(cluster), 2)


def cluster_facts(cfg: StackConfig, stack: str, cluster: str) -> Facts:
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
        llm_objectives=llm_objectives_for(deployments),
        pool_on_demand_floors=floors,
        cluster_budget_monthly_usd=cluster_budget_usd(cfg, stack, cluster),
    )


def cloudwatch_metrics() -> dict[str, list[str]]:
    """CloudWatch metric -> statistics YACE must fetch (monitoring/metrics/cloudwatch.yaml)."""
    doc: dict[str, Any] = yaml.safe_load((METRICS_DIR / "cloudwatch.yaml").read_text())
    return {name: list(stats) for name, stats in doc["cloudwatch"].items()}


def metric_sources(*, gpu_operator: bool, karpenter: bool, cloudwatch: bool) -> frozenset[str]:
    """The exporters one cluster's Prometheus scrapes.

    kube-prometheus-stack (Prometheus, kube-state-metrics) and the serving tiers' Service-
    Monitors everywhere; the DCGM exporter where the GPU Operator runs (its own Service-
    Monitor); Karpenter's and YACE's where they run. Never Triton's response-cache metrics:
    the clusters' Triton runs without ``--cache-config`` (components/k8s/triton.py).
    """
    out = set(metric.ALWAYS | metric.SERVING)
    if gpu_operator:
        out.add(metric.DCGM)
    if karpenter:
        out.add(metric.KARPENTER)
    if cloudwatch:
        out.add(metric.YACE)
    return frozenset(out)


def monitoring_args(
    cfg: StackConfig,
    stack: str,
    cluster: str,
    *,
    secrets: Mapping[str, pulumi.Input[str]] | None = None,
    receivers: Mapping[str, Mapping[str, Any]] | None = None,
    karpenter_namespace: str | None = None,
    cloudwatch_trust_policy: pulumi.Input[str] | None = None,
    gpu_operator: bool = False,
) -> MonitoringArgs:
    """The monitoring component's arguments for ``cluster`` of stack ``stack``.

    ``cloudwatch_trust_policy`` (the IRSA trust policy of the exporter's service account)
    turns on YACE for the stack's SageMaker Serverless endpoints on an AWS cluster.
    ``gpu_operator``: the NVIDIA GPU Operator runs there (and scrapes its DCGM exporter).
    ``secrets``: the stack secrets the receivers need
    (``blueprint.monitoring.alertmanager.required_secrets``; :func:`receiver_secrets`
    reads them); ``receivers``: a fork's extra integrations, by receiver name.
    """
    if cfg.monitoring is None:
        raise ValueError("the stack has no monitoring section")
    mon = cfg.monitoring
    cluster_cfg = cfg.clusters[cluster]
    config = alertmanager.load()
    if receivers:
        config = alertmanager.with_receivers(config, receivers)
    alertmanager_config = _alertmanager_config(config, mon, dict(secrets or {}))
    cloudwatch = None
    if cloudwatch_trust_policy is not None and cluster_cfg.cloud == Cloud.AWS and cfg.aws:
        cloudwatch = CloudWatchExporterArgs(
            chart_version=mon.cloudwatch_exporter_version,
            region=cfg.aws.region,
            trust_policy=cloudwatch_trust_policy,
            metrics=cloudwatch_metrics(),
        )
    sources = metric_sources(
        gpu_operator=gpu_operator and cluster_cfg.cloud == Cloud.AWS,
        karpenter=karpenter_namespace is not None,
        cloudwatch=cloudwatch is not None,
    )
    files, available = metric.select(alert_rules.source_files(), sources)
    rendered = alert_rules.render(
        mon.runbook_base_url, cluster_facts(cfg, stack, cluster), files=files
    )
    return MonitoringArgs(
        cluster=f"{stack}-{cluster}",
        chart_version=mon.kube_prometheus_stack_version,
        adapter_chart_version=mon.prometheus_adapter_version,
        retention_days=mon.retention_days,
        rule_files=rendered,
        alertmanager_config=alertmanager_config,
        dashboards=dashboards.all_dashboards(keep=available.reads_ok),
        ksm_label_allowlist=load_metric_catalog().allowlist,
        # The GPU Operator's own ServiceMonitor scrapes the DCGM exporter on EKS
        # (components/k8s/gpu_operator.py); GKE runs no DCGM exporter of ours.
        dcgm_namespace=None,
        karpenter_namespace=karpenter_namespace,
        cloudwatch=cloudwatch,
    )


def _alertmanager_config(
    config: Mapping[str, Any], mon: MonitoringConfig, secrets: Mapping[str, pulumi.Input[str]]
) -> pulumi.Output[str]:
    """The stack's alertmanager.yaml, as a secret Output (it holds the secrets' values)."""
    for key, why in alertmanager.required_secrets(mon).items():
        if secrets.get(key) is None:
            raise pulumi.RunError(str(alertmanager.MissingSecret(key, why)))
    values = pulumi.Output.all(**secrets)
    rendered = values.apply(lambda s: alertmanager.dump(alertmanager.for_stack(config, mon, s)))
    return pulumi.Output.secret(rendered)


def receiver_secrets(cfg: StackConfig) -> dict[str, pulumi.Output[str]]:
    """The stack secrets the configured receivers need, read with Pulumi's secret API.

    A missing one stops the program (``pulumi.RunError``: Pulumi prints it without a
    traceback) with the key, the setting that needs it and the command that sets it.
    """
    if cfg.monitoring is None:
        return {}
    out: dict[str, pulumi.Output[str]] = {}
    missing = []
    for key, why in alertmanager.required_secrets(cfg.monitoring).items():
        value = secret(key)
        if value is None:
            missing.append(str(alertmanager.MissingSecret(key, why)))
        else:
            out[key] = value
    if missing:
        raise pulumi.RunError("; ".join(missing))
    return out


NAMESPACE = "monitoring"
"""Namespace of the monitoring stack on every cluster."""


def build(
    ctx: StackContext, clusters: Mapping[str, ClusterHandle], base: Foundation
) -> dict[str, Monitoring]:
    cfg = ctx.config
    if cfg.monitoring is None:
        return {}
    aws_clusters = sorted(n for n, h in clusters.items() if h.cloud == "aws")
    wants_cloudwatch = any(e.cloud is Cloud.AWS for e in cfg.serverless.values())
    secrets = receiver_secrets(cfg)
    out: dict[str, Monitoring] = {}
    for name, handle in sorted(clusters.items()):
        trust = None
        providers: list[pulumi.ProviderResource] = [handle.provider]
        if wants_cloudwatch and base.aws is not None and aws_clusters[:1] == [name]:
            trust = handle.irsa_assume_role_policy(NAMESPACE, YACE_SERVICE_ACCOUNT)
            providers.append(base.aws.provider)
        out[name] = Monitoring(
            ctx.name(name, "monitoring"),
            monitoring_args(
                cfg,
                ctx.stack,
                name,
                secrets=secrets,
                karpenter_namespace=KARPENTER_NAMESPACE
                if handle.cloud == "aws" and handle.pools
                else None,
                cloudwatch_trust_policy=trust,
                gpu_operator=runs_gpu_operator(cfg.clusters[name], handle.pools),
            ),
            opts=pulumi.ResourceOptions(providers=providers),
        )
    return out
