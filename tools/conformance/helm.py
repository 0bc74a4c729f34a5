"""Every Helm release of every plan against its chart at the pinned version.

``helm-chart``: the version is one the chart's repository published (its ``tags.txt``);
a version upstream never tagged cannot be pulled, so ``pulumi up`` fails on it.

``helm-values``: every value the blueprint sets is one the chart at that version reads.
Helm ignores keys no template reads, so a renamed or removed value silently stops doing
anything. The rule, for each leaf the blueprint sets (a scalar, a list, or an empty map),
at dotted path ``P``:

1. ``P`` is declared in the chart's ``values.yaml``: accepted.
2. Some prefix of ``P`` is declared there as a free-form map (``{}``) or as null (``~``):
   accepted. Such keys (``podAnnotations``, ``extraArgs``, ``additionalLabels``) are
   passed to the templates whole, whatever their keys. So is a map with default keys
   (``nodeSelector: {kubernetes.io/os: linux}``) that the templates read as a whole and
   never key by key (no ``.Values.nodeSelector.<key>`` chain): ``toYaml`` renders it.
3. Otherwise ``P`` is accepted only when the chart's templates read ``P`` or a prefix of
   ``P`` longer than the part ``values.yaml`` declares (``derived/<chart>-<version>
   .values-read.json``: the ``.Values`` chains of every template). A key inside a map
   that ``values.yaml`` declares with keys of its own, and that no template names, is
   reported.

Values of a subchart (a key named as a dependency in the chart's ``Chart.yaml``) are
judged against that subchart at the version the chart depends on; ``global`` is shared by
all charts and always accepted. Where the chart ships a ``values.schema.json`` (in the
facts folder), the merged values are validated against it as Helm does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from tools.conformance import upstream
from tools.conformance.base import Check, Finding, MissingFacts
from tools.conformance.plans import integral, releases
from tools.preview.recorder import Plan

ABSENT = object()


@dataclass(frozen=True)
class ChartAt:
    """A chart at one version, its files in the facts folder."""

    chart: upstream.Chart
    version: str
    ref: str
    path: str
    """The chart's folder inside the repository at ``ref``."""
    derived: str

    def values(self, facts: Path) -> Mapping[str, Any]:
        file = upstream.vendored(
            facts, self.chart.repo, self.ref, f"{self.path}/{self.chart.values}"
        )
        return upstream.load_yaml(file) or {}

    def values_read(self, facts: Path) -> frozenset[str]:
        return frozenset(upstream.derived(facts, f"{self.derived}.values-read")["values_read"])

    def chart_yaml(self, facts: Path) -> Mapping[str, Any]:
        file = upstream.vendored(facts, self.chart.repo, self.ref, f"{self.path}/Chart.yaml")
        return upstream.load_yaml(file) or {}

    def schema(self, facts: Path) -> Mapping[str, Any] | None:
        file = (
            upstream.repo_dir(facts, self.chart.repo) / self.ref / self.path / "values.schema.json"
        )
        return json.loads(file.read_text()) if file.is_file() else None

    @property
    def label(self) -> str:
        return f"{self.chart.name} {self.version}"


def chart_at(chart: upstream.Chart, version: str) -> ChartAt:
    return ChartAt(
        chart=chart,
        version=version,
        ref=chart.tag_of(version),
        path=chart.path,
        derived=chart.derived_of(version),
    )


def subchart(parent: ChartAt, key: str, facts: Path) -> ChartAt | None:
    """The dependency of ``parent`` whose values live under ``key`` (None: not a subchart)."""
    if not (
        upstream.repo_dir(facts, parent.chart.repo) / parent.ref / parent.path / "Chart.yaml"
    ).is_file():
        return None
    for dep in parent.chart_yaml(facts).get("dependencies") or ():
        if (dep.get("alias") or dep["name"]) != key:
            continue
        repository = str(dep.get("repository") or "")
        if not repository or repository.startswith("file://"):
            local = upstream.Chart(
                name=dep["name"],
                source="",
                repo=parent.chart.repo,
                tag=parent.ref,
                path=f"{parent.path}/charts/{dep['name']}",
                derived=f"{parent.derived}.{dep['name']}",
            )
            return ChartAt(local, parent.version, parent.ref, local.path, local.derived)
        chart = upstream.chart_by_dependency(dep["name"], repository)
        if chart is None:
            raise MissingFacts(
                facts,
                f"{parent.label} depends on {dep['name']} from {repository}, which "
                "tools/conformance/upstream.py CHARTS does not list",
            )
        candidates = upstream.version_matching(
            upstream.published_versions(facts, chart), str(dep.get("version", ""))
        )
        vendored = [
            v
            for v in candidates
            if (upstream.repo_dir(facts, chart.repo) / chart.tag_of(v) / chart.path).is_dir()
        ]
        if not vendored:
            raise MissingFacts(
                facts,
                f"{chart.name} {dep.get('version')} (a dependency of {parent.label}) "
                "is not vendored",
            )
        return chart_at(chart, max(vendored, key=upstream.version_key))
    return None


def leaves(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(path, value)`` of every leaf the blueprint sets (lists and empty maps are leaves)."""
    if isinstance(values, Mapping) and values:
        for key, value in values.items():
            yield from leaves(value, (*prefix, str(key)))
    elif prefix:
        yield prefix, values


def _declared(defaults: Any, path: tuple[str, ...]) -> tuple[int, Any]:
    """How many leading parts of ``path`` ``values.yaml`` declares, and the default there."""
    node = defaults
    for depth, part in enumerate(path):
        if not isinstance(node, Mapping) or part not in node:
            return depth, node
        node = node[part]
    return len(path), node


def unread_values(
    chart: ChartAt, values: Mapping[str, Any], facts: Path
) -> list[tuple[str, Any, str]]:
    """``(dotted path, value, why)`` for each value ``chart`` does not read."""
    out: list[tuple[str, Any, str]] = []
    defaults = chart.values(facts)
    read: frozenset[str] | None = None
    for key, subtree in values.items():
        if key == "global":
            continue
        sub = subchart(chart, str(key), facts)
        if sub is not None and isinstance(subtree, Mapping):
            out += [(f"{key}.{d}", v, why) for d, v, why in unread_values(sub, subtree, facts)]
            continue
        for path, value in leaves({key: subtree}):
            depth, default = _declared(defaults, path)
            if depth == len(path):
                continue
            if depth > 0 and (default is None or (isinstance(default, Mapping) and not default)):
                continue
            if read is None:
                read = chart.values_read(facts)
            if any(".".join(path[:n]) in read for n in range(depth + 1, len(path) + 1)):
                continue
            if depth > 0 and _passed_whole(".".join(path[:depth]), read):
                continue
            dotted = ".".join(path)
            declared = ".".join(path[:depth]) or "(top level)"
            out.append(
                (
                    dotted,
                    value,
                    f"{chart.label} does not read it: not in its values.yaml (declared down "
                    f"to {declared}) and no template reads .Values.{dotted}",
                )
            )
    return out


def _passed_whole(declared: str, read: frozenset[str]) -> bool:
    """The templates read the map ``declared`` whole and none of its keys by name.

    That is how a chart hands a map to ``toYaml`` (``nodeSelector``, ``resources``): every
    key reaches the manifest, whatever ``values.yaml`` happens to list as defaults.
    """
    return declared in read and not any(r.startswith(f"{declared}.") for r in read)


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return extra


class _ChartCheck:
    name = "helm-chart"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        for _, plan in sorted(plans.items()):
            for release in releases(plan):
                resolved = _resolve(plan, release, facts)
                if isinstance(resolved, Finding):
                    findings.append(resolved)
        return findings


class _ValuesCheck:
    name = "helm-values"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        for _, plan in sorted(plans.items()):
            for release in releases(plan):
                resolved = _resolve(plan, release, facts)
                if not isinstance(resolved, ChartAt):
                    continue
                values = integral(release["inputs"].get("values") or {})
                for dotted, value, why in unread_values(resolved, values, facts):
                    findings.append(Finding.at(plan, release, f"values.{dotted}", why, value=value))
                schema = resolved.schema(facts)
                if schema is not None:
                    merged = _merge(resolved.values(facts), values)
                    for error in jsonschema.Draft7Validator(schema).iter_errors(merged):
                        where = ".".join(str(p) for p in error.absolute_path)
                        findings.append(
                            Finding.at(
                                plan,
                                release,
                                f"values.{where}" if where else "values",
                                f"{resolved.label} values.schema.json: {error.message}",
                            )
                        )
        return findings


def _resolve(plan: Plan, release: Mapping[str, Any], facts: Path) -> ChartAt | Finding | None:
    inputs = release["inputs"]
    name = str(inputs.get("chart", ""))
    opts = inputs.get("repositoryOpts") or {}
    chart = upstream.chart_of(name, opts.get("repo") if isinstance(opts, Mapping) else None)
    if chart is None:
        raise MissingFacts(
            facts,
            f"chart {name!r} ({opts}) is not in tools/conformance/upstream.py CHARTS: add where "
            "it comes from and gather its facts",
        )
    version = str(inputs.get("version", ""))
    published = upstream.published_versions(facts, chart)
    if version not in published:
        newest = max((v for v in published if "-" not in v), key=upstream.version_key, default="?")
        snapshot = upstream.snapshot_date(facts, chart.repo)
        return Finding.at(
            plan,
            release,
            "version",
            f"{chart.name} {version} was never published: {chart.repo} has no tag "
            f"{chart.tag_of(version)!r} (newest release {newest}"
            + (f", as of {snapshot}" if snapshot else "")
            + "), so the chart cannot be pulled",
            value=version,
        )
    return chart_at(chart, version)


def checks() -> list[Check]:
    return [_ChartCheck(), _ValuesCheck()]
