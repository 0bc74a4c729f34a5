"""Alert and recording rules: load the source files, render them for one place of use.

The source is ``monitoring/rules/*.yaml`` (Prometheus rule-file format). Rendering
does three things, the same for every place the rules are used (the clusters'
PrometheusRule objects, the promtool tests, the local Prometheus):

- adds ``runbook_url`` to every alert from one pattern,
  ``<runbook base URL>/<alertname>.md`` (:func:`runbook_url`); the source files
  never set it;
- adds the ``llm-inference-facts`` group (:mod:`blueprint.monitoring.facts`);
- for the local fault drill only, shortens the ``for`` of named alerts
  (:data:`DRILL_FOR`); the file then says so in its first line. Production
  renderings never change ``for``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blueprint.monitoring import RULES_DIR
from blueprint.monitoring.facts import FACT_SERIES, GROUP, Facts, facts_group

DRILL_FOR: Mapping[str, str] = {
    "TritonDown": "10s",
    "TritonBackendFailures": "10s",
    "TritonModelLoadFailed": "20s",
    "LlmEngineDown": "10s",
}
"""``for`` of the alerts the local fault drill exercises, shortened so the drill takes
seconds instead of minutes. Used only by ``tools.local`` with ``--drill``."""

FACTS_FILE = "facts.yaml"
DRILL_HEADER = (
    "# DRILL RENDERING: `for` shortened for the local fault drill (blueprint/monitoring/"
    "rules.py DRILL_FOR). Never deploy this file.\n"
)


class RuleError(ValueError):
    """A rule file breaks a house rule (see :func:`check_source`)."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule as written in a source file."""

    name: str
    file: str
    group: str
    expr: str
    for_: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def runbook_url(base_url: str, alert: str) -> str:
    """The one pattern every alert's ``runbook_url`` follows."""
    return f"{base_url.rstrip('/')}/{alert}.md"


def source_files(directory: Path = RULES_DIR) -> dict[str, dict[str, Any]]:
    """``{file name: parsed rule file}`` for every source rule file, sorted by name."""
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yaml"))}


def _rules(files: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for file, doc in files.items():
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                yield file, group["name"], rule


def alerts(files: Mapping[str, Mapping[str, Any]] | None = None) -> list[Alert]:
    """Every alerting rule (an alert name may have several rules, e.g. by severity)."""
    files = source_files() if files is None else files
    return [
        Alert(
            name=rule["alert"],
            file=file,
            group=group,
            expr=rule["expr"],
            for_=rule.get("for"),
            labels=rule.get("labels", {}),
            annotations=rule.get("annotations", {}),
        )
        for file, group, rule in _rules(files)
        if "alert" in rule
    ]


def alert_names(files: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    return sorted({a.name for a in alerts(files)})


def recorded_series(files: Mapping[str, Mapping[str, Any]] | None = None) -> set[str]:
    """Names the rules record, plus the facts group's series."""
    files = source_files() if files is None else files
    return {rule["record"] for _, _, rule in _rules(files) if "record" in rule} | set(FACT_SERIES)


SEVERITIES = ("critical", "warning", "info", "none")
TEAMS = ("serving", "platform", "finops")
_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")


def check_source(files: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """House rules every source alert keeps; returns the problems found."""
    files = source_files() if files is None else files
    problems = []
    for a in alerts(files):
        where = f"monitoring/rules/{a.file}: alert {a.name}"
        if a.for_ is None or not _DURATION.fullmatch(str(a.for_)):
            problems.append(f"{where}: needs an explicit `for` duration (got {a.for_!r})")
        if a.labels.get("severity") not in SEVERITIES:
            problems.append(f"{where}: severity must be one of {SEVERITIES}")
        if a.labels.get("team") not in TEAMS:
            problems.append(f"{where}: team must be one of {TEAMS}")
        if not a.annotations.get("summary"):
            problems.append(f"{where}: needs a summary annotation")
        if "runbook_url" in a.annotations:
            problems.append(f"{where}: runbook_url is added when rendering; do not set it here")
        if re.search(r"\bDCGM_FI_DEV_GPU_UTIL\b", a.expr):
            problems.append(
                f"{where}: DCGM_FI_DEV_GPU_UTIL is not reported on MIG slices; "
                "use DCGM_FI_PROF_GR_ENGINE_ACTIVE"
            )
    return problems


def render(
    base_url: str,
    facts: Facts,
    *,
    for_overrides: Mapping[str, str] | None = None,
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Rendered rule files ``{file name: document}``, the facts group in ``facts.yaml``."""
    files = source_files() if files is None else files
    problems = check_source(files)
    if problems:
        raise RuleError("\n".join(problems))
    out: dict[str, dict[str, Any]] = {}
    for file, source in files.items():
        doc: dict[str, Any] = copy.deepcopy(dict(source))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                rule["annotations"] = {
                    **rule.get("annotations", {}),
                    "runbook_url": runbook_url(base_url, rule["alert"]),
                }
                if for_overrides and rule["alert"] in for_overrides:
                    rule["for"] = for_overrides[rule["alert"]]
        out[file] = doc
    if FACTS_FILE in out:
        raise RuleError(f"monitoring/rules/{FACTS_FILE} is reserved for the rendered facts")
    out[FACTS_FILE] = {"groups": [facts_group(facts)]}
    return out


def dump(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, width=120, allow_unicode=True)


def write(
    rendered: Mapping[str, Mapping[str, Any]], directory: Path, drill: bool = False
) -> list[Path]:
    """Write rendered files into ``directory`` (created); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in rendered.items():
        path = directory / name
        path.write_text((DRILL_HEADER if drill else "") + dump(doc))
        paths.append(path)
    return paths


__all__ = [
    "DRILL_FOR",
    "GROUP",
    "Alert",
    "RuleError",
    "alert_names",
    "alerts",
    "check_source",
    "recorded_series",
    "render",
    "runbook_url",
    "source_files",
    "write",
]
