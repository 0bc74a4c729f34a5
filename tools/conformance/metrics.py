"""Each cluster's alerts, dashboards and HPA metrics read only metrics that cluster exports.

``metric-sources``: per cluster (Kubernetes provider) of every plan, the metric names read
by its ``PrometheusRule`` objects, its Grafana dashboard ConfigMaps and its
prometheus-adapter rules must be recorded by one of its own rules or exported by an
exporter its Prometheus scrapes:

- kube-prometheus-stack on the cluster: Prometheus itself (``up``, ``ALERTS``),
  kube-state-metrics (names of its version: the chart's subchart ``appVersion``);
- a ServiceMonitor selecting ``app.kubernetes.io/name: triton`` / ``vllm`` / ``karpenter``
  or ``app: nvidia-dcgm-exporter``: that exporter;
- the GPU Operator release with its DCGM exporter and ServiceMonitor on: DCGM (the
  collectors of the dcgm-exporter version the chart pins). GKE's managed DCGM goes to
  Cloud Monitoring, not to the in-cluster Prometheus, so it counts for nothing here;
- a YACE release: exactly the CloudWatch metrics and statistics its config asks for;
- Triton's response-cache metrics (``nv_cache_*``) only where a Triton container of the
  cluster runs with ``--cache-config`` (Triton exports them only with a cache).

Which exporter writes a name comes from the upstream facts where they exist (Triton's,
kube-state-metrics' and Karpenter's metric lists, DCGM's collectors file) and from the
blueprint's metric catalog (``monitoring/metrics/``) for the rest.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from blueprint.monitoring.catalog import load_catalog, yace_metric_name
from blueprint.monitoring.dashboards import expressions
from blueprint.monitoring.facts import FACT_SERIES
from blueprint.monitoring.promql import metric_names
from tools.conformance import upstream
from tools.conformance.base import Check, Finding, MissingFacts
from tools.conformance.helm import chart_at, subchart
from tools.conformance.images import containers, parse_image
from tools.conformance.plans import (
    Cluster,
    clusters,
    integral,
    kubernetes_objects,
    manifest,
    releases,
)
from tools.preview.recorder import Plan

SERVICE_MONITOR_EXPORTERS: Mapping[tuple[str, str], str] = {
    ("app.kubernetes.io/name", "triton"): "triton",
    ("app.kubernetes.io/name", "vllm"): "vllm",
    ("app.kubernetes.io/name", "karpenter"): "karpenter",
    ("app", "nvidia-dcgm-exporter"): "dcgm-exporter",
}
"""A ServiceMonitor's selector label -> the exporter it scrapes."""
ALWAYS = frozenset({"prometheus", "kube-state-metrics"})
"""What a cluster with kube-prometheus-stack always has."""
RESPONSE_CACHE = "triton:response-cache"
CACHE_PREFIX = "nv_cache_"
DASHBOARD_LABEL = "grafana_dashboard"
ADAPTER = "prometheus-adapter"
_TEMPLATE = re.compile(r"<<[^>]*>>")


@dataclass
class ClusterSources:
    """What one cluster's Prometheus can see."""

    cluster: Cluster
    exporters: set[str] = field(default_factory=set)
    yace: set[str] = field(default_factory=set)
    """The YACE series names its config produces."""
    recorded: set[str] = field(default_factory=set)
    triton_images: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Read:
    """One metric name a consumer on the cluster reads."""

    resource: Mapping[str, Any]
    path: str
    metric: str
    what: str


def _release_chart(release: Mapping[str, Any]) -> upstream.Chart | None:
    opts = release["inputs"].get("repositoryOpts") or {}
    repo = opts.get("repo") if isinstance(opts, Mapping) else None
    return upstream.chart_of(str(release["inputs"].get("chart", "")), repo)


def sources(plan: Plan, cluster: Cluster) -> ClusterSources:
    """The exporters, YACE series and recorded series the cluster's Prometheus has."""
    out = ClusterSources(cluster)
    for release in releases(plan):
        if release.get("provider") == cluster.provider:
            _release_sources(release, out)
    for resource in kubernetes_objects(plan):
        if resource.get("provider") == cluster.provider:
            _object_sources(manifest(resource), out)
    return out


def _release_sources(release: Mapping[str, Any], out: ClusterSources) -> None:
    chart = _release_chart(release)
    values = integral(release["inputs"].get("values") or {})
    if chart is None:
        return
    if chart.name == "kube-prometheus-stack":
        out.exporters |= ALWAYS
    elif chart.name == "gpu-operator":
        dcgm = values.get("dcgmExporter") or {}
        monitor = dcgm.get("serviceMonitor") or {}
        if dcgm.get("enabled", True) and monitor.get("enabled"):
            out.exporters.add("dcgm-exporter")
    elif chart.name == "prometheus-yet-another-cloudwatch-exporter":
        out.exporters.add("yace")
        out.yace |= yace_series(str(values.get("config") or ""))


def _object_sources(obj: Mapping[str, Any], out: ClusterSources) -> None:
    kind = obj.get("kind")
    if kind == "ServiceMonitor":
        labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        out.exporters |= {
            SERVICE_MONITOR_EXPORTERS[i] for i in labels.items() if i in SERVICE_MONITOR_EXPORTERS
        }
    elif kind == "PrometheusRule":
        for group in (obj.get("spec") or {}).get("groups") or ():
            out.recorded |= {str(r["record"]) for r in group.get("rules") or () if "record" in r}
    for _, _, container in containers(obj):
        image = str(container.get("image", ""))
        if "tritonserver" in parse_image(image).repository:
            out.triton_images.add(image)
            words = [*(container.get("command") or ()), *(container.get("args") or ())]
            if any("--cache-config" in str(w) for w in words):
                out.exporters.add(RESPONSE_CACHE)


def yace_series(config_text: str) -> set[str]:
    """The Prometheus names YACE gives the metrics and statistics of its config."""
    if not config_text.strip():
        return set()
    config = yaml.safe_load(config_text) or {}
    names = set()
    for job in (config.get("discovery") or {}).get("jobs") or ():
        for metric in job.get("metrics") or ():
            for stat in metric.get("statistics") or ():
                names.add(yace_metric_name(str(job["type"]), str(metric["name"]), str(stat)))
    return names


def reads(plan: Plan, cluster: Cluster) -> Iterator[Read]:
    """Every metric name the cluster's rules, dashboards and HPA adapter read."""
    for resource in kubernetes_objects(plan):
        if resource.get("provider") == cluster.provider:
            yield from _object_reads(resource, manifest(resource))
    for release in releases(plan):
        chart = _release_chart(release)
        if release.get("provider") == cluster.provider and chart and chart.name == ADAPTER:
            yield from _adapter_reads(release)


def _object_reads(resource: Mapping[str, Any], obj: Mapping[str, Any]) -> Iterator[Read]:
    if obj.get("kind") == "PrometheusRule":
        for g, group in enumerate((obj.get("spec") or {}).get("groups") or ()):
            for r, rule in enumerate(group.get("rules") or ()):
                kind = "alert" if "alert" in rule else "rule"
                what = f"{kind} {rule.get('alert') or rule.get('record')}"
                for name in sorted(metric_names(str(rule.get("expr", "")))):
                    yield Read(resource, f"spec.groups[{g}].rules[{r}].expr", name, what)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if obj.get("kind") == "ConfigMap" and labels.get(DASHBOARD_LABEL):
        for key, text in sorted((obj.get("data") or {}).items()):
            for title, expr in expressions(json.loads(text)):
                for name in sorted(metric_names(expr)):
                    yield Read(resource, f"data.{key}", name, f"dashboard panel {title!r}")


def _adapter_reads(release: Mapping[str, Any]) -> Iterator[Read]:
    rules = ((release["inputs"].get("values") or {}).get("rules") or {}).get("custom") or ()
    for i, rule in enumerate(rules):
        for key in ("seriesQuery", "metricsQuery"):
            expr = _TEMPLATE.sub("", str(rule.get(key, "")))
            for name in sorted(metric_names(expr)):
                yield Read(release, f"values.rules.custom[{i}].{key}", name, "HPA metric")


# ---------------------------------------------------------------------------
# Which exporter writes a name


def _listed(name: str, names: set[str]) -> bool:
    if name in names:
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in names:
            return True
    return False


@dataclass
class ExporterFacts:
    """Metric names per exporter: upstream facts first, the blueprint's catalog for the rest."""

    upstream: dict[str, set[str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def exporters_of(self, name: str) -> set[str]:
        found = {e for e, names in self.upstream.items() if _listed(name, names)}
        metric = load_catalog().metrics.get(name)
        if metric is not None:
            found.add(metric.exporter)
        return found


def exporter_facts(plans: Mapping[str, Plan], facts: Path) -> ExporterFacts:
    """The upstream metric lists at the versions the plans pin."""
    out = ExporterFacts()
    for plan in plans.values():
        for release in releases(plan):
            chart = _release_chart(release)
            if chart is None:
                continue
            version = str(release["inputs"].get("version", ""))
            if version not in upstream.published_versions(facts, chart):
                continue  # helm-chart reports it
            values = integral(release["inputs"].get("values") or {})
            if chart.name == "kube-prometheus-stack":
                ksm = subchart(chart_at(chart, version), "kube-state-metrics", facts)
                if ksm is not None:
                    app = str(ksm.chart_yaml(facts).get("appVersion", "")).lstrip("v")
                    _add(out, facts, "kube-state-metrics", f"kube-state-metrics-v{app}")
            elif chart.name in ("karpenter", "karpenter-crd"):
                _add(out, facts, "karpenter", f"karpenter-v{version}")
            elif chart.name == "gpu-operator":
                defaults = chart_at(chart, version).values(facts)
                pinned = str(
                    (values.get("dcgmExporter") or {}).get("version")
                    or defaults["dcgmExporter"]["version"]
                )
                out.upstream.setdefault("dcgm-exporter", set()).update(
                    dcgm_collectors(facts, pinned)
                )
        for resource in kubernetes_objects(plan):
            for _, _, container in containers(manifest(resource)):
                ref = parse_image(str(container.get("image", "")))
                if "tritonserver" in ref.repository and ref.tag:
                    triton = triton_version(facts, ref.tag.split("-", 1)[0])
                    _add(out, facts, "triton", f"triton-v{triton}")
    return out


def _add(out: ExporterFacts, facts: Path, exporter: str, stem: str) -> None:
    names = set(upstream.derived(facts, f"{stem}.metrics")["metrics"])
    out.upstream.setdefault(exporter, set()).update(names)
    out.versions[exporter] = stem


def dcgm_collectors(facts: Path, image_version: str) -> set[str]:
    """The DCGM fields the dcgm-exporter image collects by default (dcp-metrics-included)."""
    tag = re.sub(r"-(ubuntu|ubi|distroless)[0-9.]*$", "", image_version)
    path = upstream.vendored(facts, "NVIDIA/dcgm-exporter", tag, "etc/dcp-metrics-included.csv")
    names = set()
    for row in csv.reader(path.read_text().splitlines()):
        if row and row[0].strip() and not row[0].lstrip().startswith("#"):
            names.add(row[0].strip())
    return names


def triton_version(facts: Path, container_version: str) -> str:
    """Triton's release of an NGC container version (``24.10`` -> ``2.51.0``)."""
    for path in sorted((facts / "derived").glob("triton-v*.version-map.json")):
        found = json.loads(path.read_text())["facts"]
        if str(found.get("container_version")) == container_version:
            return str(found["triton_version"])
    raise MissingFacts(
        facts, f"no derived/triton-*.version-map.json maps container {container_version}"
    )


# ---------------------------------------------------------------------------


def _why_absent(exporter: str, cluster: Cluster) -> str:
    if exporter == "dcgm-exporter" and cluster.cloud == "gcp":
        return (
            "no DCGM exporter is scraped there: GKE's managed DCGM metrics go to Cloud "
            "Monitoring, not to the in-cluster Prometheus"
        )
    if exporter == RESPONSE_CACHE:
        return (
            "Triton exports them only when a response cache is configured, and no Triton "
            "there runs with --cache-config"
        )
    return f"nothing on the cluster runs or scrapes {exporter}"


class _MetricsCheck:
    name = "metric-sources"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        known = exporter_facts(plans, facts)
        findings: list[Finding] = []
        for _, plan in sorted(plans.items()):
            for cluster in clusters(plan).values():
                have = sources(plan, cluster)
                for read in reads(plan, cluster):
                    problem = self._problem(read.metric, have, known)
                    if problem:
                        findings.append(
                            Finding.at(
                                plan,
                                read.resource,
                                read.path,
                                f"{read.what} reads {read.metric}, which cluster "
                                f"{cluster.name} does not have: {problem}",
                                value=read.metric,
                            )
                        )
        return _unique(findings)

    @staticmethod
    def _problem(name: str, have: ClusterSources, known: ExporterFacts) -> str | None:
        # The facts group's constant series: recorded per cluster for what it runs, and
        # rightly absent where it runs none (an expression joining on them matches nothing).
        if name in have.recorded or name in FACT_SERIES:
            return None
        exporters = known.exporters_of(name)
        if not exporters:
            return (
                "no exporter exports it (neither the upstream metric lists nor monitoring/metrics)"
            )
        if "yace" in exporters:
            return _yace_problem(name, have)
        needed = RESPONSE_CACHE if name.startswith(CACHE_PREFIX) and "triton" in exporters else None
        if needed is not None:
            return None if needed in have.exporters else _why_absent(needed, have.cluster)
        if exporters & have.exporters:
            return None
        exporter = sorted(exporters)[0]
        return f"it is exported by {' or '.join(sorted(exporters))}; " + _why_absent(
            exporter, have.cluster
        )


def _yace_problem(name: str, have: ClusterSources) -> str | None:
    if name in have.yace:
        return None
    return "it is a CloudWatch metric YACE exports only when its config asks for it, and " + (
        "no YACE runs there" if "yace" not in have.exporters else "the config does not"
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.source, f.key, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def checks() -> list[Check]:
    return [_MetricsCheck()]
