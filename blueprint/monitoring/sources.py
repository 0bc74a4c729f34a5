"""What one cluster's Prometheus can read, and the rules and panels that read only that.

Every cluster runs the same rule files and dashboards, but not the same exporters: the
DCGM exporter runs where the NVIDIA GPU Operator does (EKS; GKE's managed DCGM sends to
Cloud Monitoring, not to the in-cluster Prometheus), Karpenter only on EKS clusters with
Karpenter, YACE only where SageMaker Serverless endpoints are watched, and Triton exports
its ``nv_cache_*`` metrics only when a response cache is configured. An alert whose
metric nothing exports can never fire, and a panel that reads one stays empty: on a
cluster that lacks a source, :func:`select` leaves them out.

A *source* is an exporter name of the metric catalog (``monitoring/metrics/*.yaml``,
its ``exporter``), or ``<exporter>:<requirement>`` for metrics the catalog marks with
``requires`` (:data:`RESPONSE_CACHE`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blueprint.monitoring.catalog import Catalog, load_catalog
from blueprint.monitoring.facts import FACT_SERIES
from blueprint.monitoring.promql import metric_names

ALWAYS: frozenset[str] = frozenset({"prometheus", "kube-state-metrics"})
"""What kube-prometheus-stack brings to every cluster (Prometheus' own series, KSM)."""
SERVING: frozenset[str] = frozenset({"triton", "vllm"})
"""The serving tiers' exporters; the monitoring component scrapes both on every cluster."""
DCGM = "dcgm-exporter"
KARPENTER = "karpenter"
YACE = "yace"
RESPONSE_CACHE = "triton:response-cache"
"""Triton's ``nv_cache_*`` metrics: only with ``--cache-config`` (and a model's
``response_cache { enable: true }``)."""


@dataclass(frozen=True)
class Availability:
    """The metric names one cluster can read."""

    sources: frozenset[str]
    lost: frozenset[str] = frozenset()
    """Recorded series that no rule kept on the cluster records."""
    catalog: Catalog | None = None

    def missing(self, expr: str) -> set[str]:
        """Names ``expr`` reads that this cluster has not (exporter absent or rule dropped)."""
        catalog = self.catalog or load_catalog()
        out = set()
        for name in metric_names(expr):
            if name in self.lost:
                out.add(name)
                continue
            metric = catalog.metrics.get(name)
            if metric is not None and metric.source not in self.sources:
                out.add(name)
        return out

    def reads_ok(self, expr: str) -> bool:
        return not self.missing(expr)


def _rules(files: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, int, int, Mapping[str, Any]]]:
    return [
        (file, g, r, rule)
        for file, doc in files.items()
        for g, group in enumerate(doc.get("groups", []))
        for r, rule in enumerate(group.get("rules", []))
    ]


def select(
    files: Mapping[str, Mapping[str, Any]],
    sources: frozenset[str],
    catalog: Catalog | None = None,
) -> tuple[dict[str, dict[str, Any]], Availability]:
    """The rule files without the rules that read what ``sources`` do not export.

    A rule reading a series that only dropped rules record is dropped too; groups and
    files left empty go. Returns the kept files and what the cluster can read (for the
    dashboards).
    """
    catalog = catalog or load_catalog()
    rules = _rules(files)
    defined: dict[str, set[tuple[str, int, int]]] = {}
    for file, g, r, rule in rules:
        if "record" in rule:
            defined.setdefault(str(rule["record"]), set()).add((file, g, r))
    dropped: set[tuple[str, int, int]] = set()
    while True:
        lost = frozenset(n for n, ids in defined.items() if ids <= dropped)
        seen = Availability(sources, lost, catalog)
        newly = {
            (file, g, r)
            for file, g, r, rule in rules
            if (file, g, r) not in dropped
            and seen.missing(str(rule.get("expr", ""))) - set(FACT_SERIES)
        }
        if not newly:
            break
        dropped |= newly
    kept: dict[str, dict[str, Any]] = {}
    for file, doc in files.items():
        groups = []
        for g, group in enumerate(doc.get("groups", [])):
            rules_kept = [
                copy.deepcopy(rule)
                for r, rule in enumerate(group.get("rules", []))
                if (file, g, r) not in dropped
            ]
            if rules_kept:
                groups.append({**copy.deepcopy(dict(group)), "rules": rules_kept})
        if groups:
            kept[file] = {**copy.deepcopy(dict(doc)), "groups": groups}
    return kept, seen
