"""The upstream facts folder: where it is, and what it holds for a chart at a version.

Layout (``/work/shared/upstream``, described by its ``SOURCES.md``; ``make upstream-facts``
writes the same layout): ``<owner>+<name>/tags.txt`` (the versions a repository published),
``<owner>+<name>/<tag>/<path>`` (files at that tag, byte for byte) and ``derived/`` (facts
computed from upstream code: ``.Values`` paths a chart's templates read, image USER and
entrypoint, metric names).

:data:`CHARTS` is the one table from a Helm release's chart reference to its upstream
source. A chart that is not in it, or a published version whose files are not in the folder,
raises :class:`~tools.conformance.base.MissingFacts`: missing data is never a pass.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from blueprint.paths import UPSTREAM_FACTS_DIR
from tools.conformance.base import MissingFacts

ENV_VAR = "UPSTREAM_FACTS"
DEFAULT_FOLDER = UPSTREAM_FACTS_DIR
"""``../shared/upstream`` beside the checkout, where the team keeps the gathered facts."""
FILL_COMMAND = "make upstream-facts"


def facts_folder(explicit: Path | None = None) -> Path:
    """``--facts``, else ``$UPSTREAM_FACTS``, else ``../shared/upstream``; it must exist."""
    if explicit is not None:
        folder = explicit
    elif os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
    else:
        folder = DEFAULT_FOLDER
    if not folder.is_dir():
        raise MissingFacts(
            folder,
            f"no upstream facts folder; fill it with `{FILL_COMMAND}` "
            f"(UPSTREAM_FACTS={folder}) or point {ENV_VAR} or --facts at one",
        )
    return folder


@dataclass(frozen=True)
class Chart:
    """Where a Helm chart comes from upstream."""

    name: str
    source: str
    """Chart repository URL, or the OCI prefix without the chart's name."""
    repo: str
    """GitHub ``owner/name`` the chart's files are taken from."""
    tag: str
    """The git tag of a chart version: ``{version}`` is the release's ``version``."""
    path: str
    """The chart's folder inside the repository."""
    derived: str
    """Stem of its ``derived/<stem>.values-read.json`` (``{version}`` as in :attr:`tag`)."""
    values: str = "values.yaml"
    crds: tuple[str, ...] = ()
    """CRD files or folders (inside the repository, at the tag) the chart installs."""
    groups: tuple[str, ...] = ()
    """API groups of those CRDs."""

    def tag_of(self, version: str) -> str:
        return self.tag.format(version=version)

    def derived_of(self, version: str) -> str:
        return self.derived.format(version=version)


PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
KARPENTER_GROUPS = ("karpenter.sh", "karpenter.k8s.aws")


def _community(name: str, **kw: Any) -> Chart:
    return Chart(
        name=name,
        source=PROMETHEUS_COMMUNITY,
        repo="prometheus-community/helm-charts",
        tag=f"{name}-{{version}}",
        path=f"charts/{name}",
        derived=f"{name}-{{version}}",
        **kw,
    )


CHARTS: tuple[Chart, ...] = (
    _community(
        "kube-prometheus-stack",
        crds=("charts/kube-prometheus-stack/charts/crds/crds",),
        groups=("monitoring.coreos.com",),
    ),
    _community("prometheus-adapter"),
    _community("prometheus-yet-another-cloudwatch-exporter"),
    _community("kube-state-metrics"),
    _community("prometheus-node-exporter"),
    _community("prometheus-windows-exporter"),
    Chart(
        name="grafana",
        source="https://grafana.github.io/helm-charts",
        repo="grafana/helm-charts",
        tag="grafana-{version}",
        path="charts/grafana",
        derived="grafana-{version}",
    ),
    Chart(
        name="gpu-operator",
        source="https://helm.ngc.nvidia.com/nvidia",
        repo="NVIDIA/gpu-operator",
        tag="{version}",
        path="deployments/gpu-operator",
        derived="gpu-operator-{version}",
    ),
    Chart(
        name="karpenter",
        source="oci://public.ecr.aws/karpenter",
        repo="aws/karpenter-provider-aws",
        tag="v{version}",
        path="charts/karpenter",
        derived="karpenter-v{version}",
        crds=("pkg/apis/crds",),
        groups=KARPENTER_GROUPS,
    ),
    Chart(
        name="karpenter-crd",
        source="oci://public.ecr.aws/karpenter",
        repo="aws/karpenter-provider-aws",
        tag="v{version}",
        path="charts/karpenter-crd",
        derived="karpenter-crd-v{version}",
        crds=("pkg/apis/crds",),
        groups=KARPENTER_GROUPS,
    ),
    Chart(
        name="gateway-helm",
        source="oci://docker.io/envoyproxy",
        repo="envoyproxy/gateway",
        tag="{version}",
        path="charts/gateway-helm",
        # The packaged chart's values.yaml is this file with the image placeholders filled.
        values="values.tmpl.yaml",
        derived="gateway-helm-{version}",
        crds=(
            "charts/gateway-helm/crds/gatewayapi-crds.yaml",
            "charts/gateway-helm/crds/generated",
        ),
        groups=("gateway.networking.k8s.io", "gateway.envoyproxy.io"),
    ),
)
"""Every chart the blueprint installs (and the subcharts whose values it sets)."""

MANAGED_CRDS: Mapping[str, tuple[str, str, str]] = {
    # GKE installs and upgrades ComputeClass itself; it publishes no CRD source, so the
    # schema is a dump from a live cluster (SOURCES.md, Notes).
    "cloud.google.com": (
        "tommy351/kubernetes-models-ts",
        "HEAD",
        "third-party/gke/crd/computeclasses.yaml",
    ),
}
"""API groups whose CRDs the cloud installs, not a chart: group -> (repo, ref, path)."""


def chart_of(release_chart: str, repository: str | None) -> Chart | None:
    """The :data:`CHARTS` entry of a Helm release's ``chart`` (and ``repositoryOpts.repo``)."""
    if release_chart.startswith("oci://"):
        source, _, name = release_chart.rpartition("/")
    else:
        source, name = (repository or "").rstrip("/"), release_chart
    for chart in CHARTS:
        if chart.name == name and chart.source == source:
            return chart
    return None


def chart_by_dependency(name: str, repository: str) -> Chart | None:
    for chart in CHARTS:
        if chart.name == name and chart.source == repository.rstrip("/"):
            return chart
    return None


def repo_dir(facts: Path, repo: str) -> Path:
    return facts / repo.replace("/", "+")


@cache
def _tags(facts: Path, repo: str) -> tuple[str, ...]:
    path = repo_dir(facts, repo) / "tags.txt"
    if not path.is_file():
        raise MissingFacts(facts, f"{repo}: no tags.txt (the versions it published)")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def tags(facts: Path, repo: str) -> tuple[str, ...]:
    """The tags ``repo`` had at its snapshot (``<owner>+<name>/tags.txt``)."""
    return _tags(facts, repo)


def snapshot_date(facts: Path, repo: str) -> str:
    """The date of the repository snapshot tags.txt was read from ("" when unknown)."""
    path = repo_dir(facts, repo) / "snapshot.txt"
    first = path.read_text().split("\n", 1)[0].split() if path.is_file() else []
    return first[1] if len(first) > 1 else ""


def family(chart: Chart) -> str:
    """The part of a chart's tags before the version (``grafana-``, ``v``, '')."""
    return chart.tag.split("{version}", 1)[0]


def published_versions(facts: Path, chart: Chart) -> list[str]:
    """The chart versions upstream tagged (for ``{version}`` tags of the chart's family)."""
    prefix = family(chart)
    suffix = chart.tag.split("{version}", 1)[1]
    out = []
    for tag in tags(facts, chart.repo):
        if not (tag.startswith(prefix) and tag.endswith(suffix)):
            continue
        version = tag[len(prefix) : len(tag) - len(suffix)]
        if version.lstrip("v")[:1].isdigit():
            out.append(version)
    if not out:
        raise MissingFacts(
            facts,
            f"{chart.repo}/tags.txt lists no tag of chart {chart.name} ({chart.tag!r}): "
            "the chart's tag family was not gathered",
        )
    return out


def vendored(facts: Path, repo: str, ref: str, path: str) -> Path:
    """``<owner>+<name>/<ref>/<path>``; raises :class:`MissingFacts` when it is absent."""
    full = repo_dir(facts, repo) / ref / path
    if not full.exists():
        raise MissingFacts(facts, f"{repo}@{ref}:{path} is not vendored")
    return full


def load_yaml(path: Path) -> Any:
    return _load_yaml(path)


@cache
def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def _load_yaml_all(path: Path) -> tuple[Any, ...]:
    return tuple(d for d in yaml.safe_load_all(path.read_text()) if d)


def derived(facts: Path, stem: str) -> dict[str, Any]:
    """``derived/<stem>.json``'s ``facts``; raises :class:`MissingFacts` when absent."""
    path = facts / "derived" / f"{stem}.json"
    if not path.is_file():
        raise MissingFacts(facts, f"derived/{stem}.json was never generated")
    return _load_json(path)


@cache
def _load_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return dict(doc["facts"])


def version_matching(versions: list[str], wanted: str) -> list[str]:
    """Versions matching a dependency's ``version`` (exact, or a ``1.2.*`` wildcard)."""
    wanted = wanted.strip().strip('"')
    return [v for v in versions if fnmatch.fnmatchcase(v, wanted)]


def version_key(version: str) -> tuple[int | str, ...]:
    parts: list[int | str] = []
    for piece in version.lstrip("v").replace("-", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


# ---------------------------------------------------------------------------
# CRDs

SOURCES = "SOURCES.md"
_TRIMMED = re.compile(r"^- (?P<repo>[^@\s]+)@(?P<ref>[^:\s]+):(?P<path>[^:\s]+): (?P<what>.+)$")


@cache
def trimmed_kinds(facts: Path, repo: str, ref: str) -> dict[str, str]:
    """Kinds whose CRD the facts folder left out on purpose (its ``SOURCES.md``, section
    ``Trimmed``): kind -> the upstream file that defines it.

    Lines read ``- <repo>@<ref>:<path>: not copied (<Kind> unused)`` or ``...: kept A, B;
    dropped C, D``. A kind listed there is defined upstream but cannot be checked here; a
    kind listed nowhere is not defined by the chart at all.
    """
    path = facts / SOURCES
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    section = False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = line.strip() == "## Trimmed"
            continue
        m = _TRIMMED.match(line.strip()) if section else None
        if m is None or m["repo"] != repo or m["ref"] != ref:
            continue
        what = m["what"]
        if copied := re.fullmatch(r"not copied \((\w+) unused\)", what):
            out[copied.group(1)] = m["path"]
        elif "dropped " in what:
            for kind in what.split("dropped ", 1)[1].split(","):
                out[kind.strip()] = m["path"]
    return out


@dataclass(frozen=True)
class Crd:
    """One served version of a CustomResourceDefinition, at the version a cluster pins."""

    group: str
    kind: str
    version: str
    schema: Mapping[str, Any]
    source: str
    """``owner/name@ref:path`` of the CRD file (for messages)."""
    scope: str = "Namespaced"


def _crd_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


@cache
def crds_at(facts: Path, repo: str, ref: str, paths: tuple[str, ...]) -> dict[tuple[str, str], Any]:
    """Every CRD under ``paths`` of ``repo@ref``: (group, kind) -> (document, source)."""
    out: dict[tuple[str, str], Any] = {}
    for path in paths:
        for file in _crd_files(vendored(facts, repo, ref, path)):
            rel = file.relative_to(repo_dir(facts, repo) / ref)
            for doc in _load_yaml_all(file):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    spec = doc["spec"]
                    out[(spec["group"], spec["names"]["kind"])] = (doc, f"{repo}@{ref}:{rel}")
    return out


def crd_version(doc: Mapping[str, Any], source: str, version: str) -> Crd | None:
    """The served ``version`` of a CRD document, or None when the CRD does not serve it."""
    spec = doc["spec"]
    for v in spec["versions"]:
        if v["name"] == version and v.get("served", True):
            return Crd(
                group=spec["group"],
                kind=spec["names"]["kind"],
                version=version,
                schema=v["schema"]["openAPIV3Schema"],
                source=source,
                scope=spec.get("scope", "Namespaced"),
            )
    return None
