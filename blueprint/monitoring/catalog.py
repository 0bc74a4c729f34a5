"""The metric names the platform's exporters actually export, with their labels and sources.

One YAML file per exporter under ``monitoring/metrics/``. Every rule expression,
dashboard query and runbook query is checked against this catalog (plus the
series the rules themselves record), so no alert can depend on a metric nothing
exports. Summaries and histograms expand to their ``_count``/``_sum``/``_bucket``
series; CloudWatch metrics are named the way YACE names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from blueprint.monitoring.promql import selectors
from blueprint.paths import MONITORING_DIR

METRICS_DIR = MONITORING_DIR / "metrics"


@dataclass(frozen=True)
class Metric:
    name: str
    exporter: str
    type: str
    labels: frozenset[str]
    """Labels the exporter writes plus the scrape's target labels."""
    seen: bool = True
    """False for names taken from documentation only (e.g. Triton's GPU metrics here)."""
    requires: str | None = None
    """What the exporter needs to export it at all (Triton's cache metrics: a response
    cache), as the catalog's ``requires``."""

    @property
    def source(self) -> str:
        """``exporter``, or ``exporter:requires`` (see blueprint/monitoring/sources.py)."""
        return f"{self.exporter}:{self.requires}" if self.requires else self.exporter


@dataclass
class Catalog:
    metrics: dict[str, Metric] = field(default_factory=dict)
    allowlist: dict[str, list[str]] = field(default_factory=dict)
    """kube-state-metrics label allowlist, by resource (nodes, pods)."""

    def __contains__(self, name: object) -> bool:
        return name in self.metrics

    def exporters(self) -> set[str]:
        return {m.exporter for m in self.metrics.values()}


# ---------------------------------------------------------------------------
# YACE naming, ported from prometheus-community/yet-another-cloudwatch-exporter
# pkg/promutil/prometheus.go (PromString, BuildMetricName).

_YACE_UNDERSCORE = set(" ,\t/\\.-:=@<>()“")


def yace_prom_string(text: str) -> str:
    """YACE's PromString: snake_case on lower->Upper and digit->Upper, lower-cased."""
    out: list[str] = []
    prev = ""
    for c in text:
        if c in _YACE_UNDERSCORE:
            out.append("_")
        elif c == "%":
            out.append("_percent")
        else:
            if c.isupper() and (prev.islower() or prev.isdigit()):
                out.append("_")
            out.append(c.lower())
        prev = c
    return "".join(out)


def yace_metric_name(namespace: str, metric: str, statistic: str) -> str:
    """The Prometheus name YACE gives a CloudWatch metric and statistic."""
    prom_ns = yace_prom_string(namespace.lower()).removeprefix("_")
    prefix = "" if prom_ns.startswith("aws") else "aws_"
    name = yace_prom_string(metric)
    for part in prom_ns.split("_"):
        name = name.removeprefix(part)
    name = name.removeprefix("_")
    return f"{prefix}{prom_ns}_{name}" + (f"_{yace_prom_string(statistic)}" if statistic else "")


def ksm_label(kubernetes_label: str) -> str:
    """The Prometheus label kube-state-metrics writes for an allow-listed Kubernetes label.

    Ported from kube-state-metrics internal/store/utils.go (labelName): characters
    outside [a-zA-Z0-9_] become '_', then snake case ([a-z0-9][A-Z] -> a_Z), lower-cased.
    """
    sanitized = re.sub(r"[^a-zA-Z0-9_]", "_", kubernetes_label)
    return "label_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", sanitized).lower()


# ---------------------------------------------------------------------------


def _expand(name: str, kind: str) -> list[tuple[str, set[str]]]:
    if kind == "summary":
        return [(name, {"quantile"}), (f"{name}_count", set()), (f"{name}_sum", set())]
    if kind == "histogram":
        return [(f"{name}_bucket", {"le"}), (f"{name}_count", set()), (f"{name}_sum", set())]
    return [(name, set())]


def _load_file(path: Path, catalog: Catalog) -> None:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    exporter = doc["exporter"]
    target = set(doc.get("targetLabels", []))
    common = set(doc.get("commonLabels", []))
    allowlist: dict[str, list[str]] = doc.get("allowlist", {})
    catalog.allowlist.update(allowlist)
    entries: dict[str, dict[str, Any]] = dict(doc.get("metrics") or {})
    if "cloudwatch" in doc:
        yace_labels = ["name"] + [f"dimension_{d}" for d in doc["dimensions"]]
        for metric, stats in doc["cloudwatch"].items():
            for stat in stats:
                entries[yace_metric_name(doc["namespace"], metric, stat)] = {
                    "type": "gauge",
                    "labels": yace_labels,
                }
    for name, spec in entries.items():
        labels: set[str] = set(spec.get("labels", [])) | common | target
        if "allowlistOf" in spec:
            labels |= {ksm_label(k) for k in allowlist[spec["allowlistOf"]]}
        for series, extra in _expand(name, spec["type"]):
            if series in catalog.metrics:
                raise ValueError(f"{path}: {series} is already listed by another exporter")
            catalog.metrics[series] = Metric(
                name=series,
                exporter=exporter,
                type=spec["type"],
                labels=frozenset(labels | extra),
                seen=bool(spec.get("seen", True)),
                requires=spec.get("requires"),
            )


@cache
def load_catalog(directory: Path = METRICS_DIR) -> Catalog:
    catalog = Catalog()
    for path in sorted(directory.glob("*.yaml")):
        _load_file(path, catalog)
    return catalog


# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_expression(
    expr: str, where: str, catalog: Catalog, recorded: Mapping[str, frozenset[str]]
) -> list[Problem]:
    """Metric names and matcher labels of ``expr`` that nothing exports or records.

    ``recorded`` maps each recording rule's name to the labels it is known to carry
    (checked only for exporter metrics; a recorded series' labels come from its rule).
    """
    problems: list[Problem] = []
    for sel in selectors(expr):
        if sel.name is None:
            problems.append(Problem(where, f"selector without a metric name in {expr!r}"))
            continue
        if sel.name in recorded:
            continue
        metric = catalog.metrics.get(sel.name)
        if metric is None:
            problems.append(
                Problem(where, f"{sel.name} is not exported by any exporter in monitoring/metrics")
            )
            continue
        unknown = sel.label_names - metric.labels
        if unknown:
            problems.append(
                Problem(
                    where,
                    f"{sel.name} has no label(s) {', '.join(sorted(unknown))} "
                    f"({metric.exporter} writes: {', '.join(sorted(metric.labels))})",
                )
            )
    return problems


_TAIL = r"[a-z0-9_]*[a-z0-9]"
METRIC_NAME_IN_TEXT = re.compile(
    rf"\b(?:nv_{_TAIL}|DCGM_FI_[A-Z0-9_]*[A-Z0-9]|kube_{_TAIL}|karpenter_{_TAIL}"
    rf"|aws_sagemaker_{_TAIL}|vllm:{_TAIL}|llm_inference:[a-z0-9_:]*[a-z0-9])\b"
)
"""Metric-looking words in prose (runbooks), checked besides their PromQL blocks. A name
must end in a letter or digit: ``grep '^nv_cache_'`` is a prefix, not a metric (and
``vllm:*`` or ``grep '^vllm:'`` name none)."""


def names_in_text(text: str) -> set[str]:
    return set(METRIC_NAME_IN_TEXT.findall(text))


def unknown_names(names: Iterable[str], catalog: Catalog, recorded: Mapping[str, Any]) -> list[str]:
    """Names nothing exports or records. Prose may name a histogram by its family
    (``vllm:time_to_first_token_seconds``), whose series are ``_bucket``/``_count``/``_sum``;
    a PromQL query may not (:func:`check_expression`)."""
    return sorted(
        n
        for n in set(names)
        if n not in catalog and f"{n}_bucket" not in catalog and n not in recorded
    )
