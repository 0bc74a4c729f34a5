"""Every Kubernetes object of every plan against the schema the cluster would validate it with.

- ``k8s-schema``: objects of the API server's own groups against the official schemas
  (``kubernetes-validate``, strict: unknown fields are errors) of the Kubernetes version
  of the cluster the object goes to (its provider's cluster, ``kubernetesVersion``).
- ``crd-schema``: custom resources against the ``openAPIV3Schema`` of their CRD at the
  version the cluster pins (the chart release on that cluster that installs the CRD:
  Karpenter, kube-prometheus-stack, Envoy Gateway; GKE's own ComputeClass), with the
  CRD's CEL rules (:mod:`tools.conformance.structural`).
- both: ``metadata`` as the API server checks it (:mod:`tools.conformance.meta`).

:func:`coverage` counts, per stack, the objects a schema was found for: the test suite
asserts it is all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
from kubernetes_validate import utils as kv_utils

from blueprint.secrets import MASK
from tools.conformance import meta, structural, upstream
from tools.conformance.base import Check, Finding, MissingFacts
from tools.conformance.plans import (
    Cluster,
    api_group,
    clusters,
    is_native,
    kubernetes_objects,
    manifest,
    path_text,
    releases,
)
from tools.preview.recorder import Plan

UNKNOWN_FIELD = (
    "unknown field: {where} has no such field, so the API server drops it "
    "(or refuses the object under strict field validation)"
)


# ---------------------------------------------------------------------------
# Native objects: the official schemas


def _schema_version(version: str) -> str:
    """kubernetes-validate's schema folder for Kubernetes ``version`` (its newest <= it)."""
    wanted = tuple(int(p) for p in kv_utils.major_minor(version).split("."))
    candidates = [
        v for v in kv_utils.all_versions() if tuple(int(p) for p in v.split(".")[:2]) <= wanted
    ]
    newest = kv_utils.latest_version()
    if tuple(int(p) for p in newest.split(".")[:2]) < wanted or not candidates:
        raise MissingFacts(
            Path(kubernetes_validate.__file__).parent,
            f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas for "
            f"Kubernetes {version} (newest {newest}); upgrade it in constraints.txt",
        )
    return candidates[-1]


@cache
def _definitions(folder: str) -> Any:
    return kv_utils.schema_contents(f"kubernetes-json-schema/{folder}/_definitions.json", folder)


@cache
def native_validator(version: str, api_version: str, kind: str) -> Any:
    """The strict official schema of ``kind`` for Kubernetes ``version``; None if unserved."""
    folder = f"v{_schema_version(version)}-local-strict"
    group_version = kv_utils.re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{folder}/{kind.lower()}-{group_version}.json", version
        )
    except FileNotFoundError:
        return None
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(_definitions(folder)) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _schema_errors(
    validator: Any, obj: Mapping[str, Any], where: str
) -> list[tuple[str, str, Any]]:
    """``(path, message, value)`` per schema error, one per unknown field."""
    out: list[tuple[str, str, Any]] = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            declared = set((error.schema or {}).get("properties") or {})
            for key in sorted(set(error.instance) - declared):
                out.append(
                    (
                        path_text([*path, key]),
                        UNKNOWN_FIELD.format(where=where),
                        error.instance[key],
                    )
                )
            continue
        value = error.instance if not isinstance(error.instance, dict | list) else None
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        out.append((path_text(path), f"{where}: {message}", value))
    return out


# ---------------------------------------------------------------------------
# Custom resources: the CRD at the version the cluster pins


@dataclass(frozen=True)
class CrdLookup:
    crd: upstream.Crd | None
    problem: str | None = None
    """Why no CRD applies: an error the API server would give."""
    not_evaluated: str | None = None
    """Why it could not be told (a chart version that was never published)."""


def crd_for(plan: Plan, cluster: Cluster | None, obj: Mapping[str, Any], facts: Path) -> CrdLookup:
    """The CRD that validates ``obj`` on ``cluster``, at the version the cluster pins."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.partition("/")
    kind = str(obj.get("kind", ""))
    if group in upstream.MANAGED_CRDS:
        repo, ref, path = upstream.MANAGED_CRDS[group]
        found = upstream.crds_at(facts, repo, ref, (path,))
        what = f"{repo}@{ref}"
        crd_paths: tuple[str, ...] = (path,)
    else:
        installers = [
            (upstream.chart_of(str(r["inputs"].get("chart", "")), _repo(r)), r)
            for r in releases(plan)
            if cluster is not None and r.get("provider") == cluster.provider
        ]
        matching = [(c, r) for c, r in installers if c is not None and group in c.groups]
        if not matching:
            return CrdLookup(
                None,
                problem=f"no Helm release on cluster {cluster.name if cluster else '?'} installs "
                f"the CRDs of API group {group}: the API server has no kind {kind} there",
            )
        chart, release = matching[0]
        assert chart is not None
        chart_version = str(release["inputs"].get("version", ""))
        if chart_version not in upstream.published_versions(facts, chart):
            return CrdLookup(
                None,
                not_evaluated=f"the {chart.name} chart version {chart_version} that installs "
                "this CRD was never published (see the helm-chart finding)",
            )
        ref = chart.tag_of(chart_version)
        found = upstream.crds_at(facts, chart.repo, ref, chart.crds)
        what = f"{chart.name} {chart_version}"
        repo, crd_paths = chart.repo, chart.crds
    entry = found.get((group, kind))
    if entry is None:
        left_out = upstream.trimmed_kinds(facts, repo, ref).get(kind)
        if left_out is not None and any(
            left_out == p or left_out.startswith(p.rstrip("/") + "/") for p in crd_paths
        ):
            return CrdLookup(
                None,
                not_evaluated=f"no CRD in the upstream facts: {what} installs {kind} from "
                f"{repo}@{ref}:{left_out}, which the facts folder left out ({upstream.SOURCES}, "
                f"Trimmed); gather it with `{upstream.FILL_COMMAND}` to check {kind} objects",
            )
        return CrdLookup(None, problem=f"{what} defines no {kind} in API group {group}")
    doc, source = entry
    crd = upstream.crd_version(doc, source, version)
    if crd is None:
        served = [v["name"] for v in doc["spec"]["versions"] if v.get("served", True)]
        return CrdLookup(
            None,
            problem=f"the {kind} CRD of {what} serves {', '.join(served)}, not {version}",
        )
    return CrdLookup(crd)


def _repo(release: Mapping[str, Any]) -> str | None:
    opts = release["inputs"].get("repositoryOpts") or {}
    return opts.get("repo") if isinstance(opts, Mapping) else None


_VALIDATORS: dict[tuple[str, str, str], Any] = {}


def crd_validator(crd: upstream.Crd) -> Any:
    key = (crd.source, crd.kind, crd.version)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = structural.validator(crd.schema)
    return _VALIDATORS[key]


# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one object was checked against, and what was found."""

    schema: str | None
    """The schema it was validated with (None: none applies)."""
    findings: list[Finding]


def check_object(
    plan: Plan, resource: Mapping[str, Any], cluster: Cluster | None, facts: Path
) -> Verdict:
    obj = manifest(resource)
    findings = [
        Finding.at(plan, resource, path, f"invalid metadata: {message}", value=value)
        for path, message, value in meta.problems(obj)
    ]
    if cluster is None or not cluster.kubernetes_version:
        findings.append(
            Finding.at(
                plan,
                resource,
                "",
                "no cluster provider with a Kubernetes version: cannot tell which schema applies",
                not_evaluated=True,
            )
        )
        return Verdict(None, findings)
    kind = str(obj.get("kind"))
    if is_native(obj):
        version = cluster.kubernetes_version
        validator = native_validator(version, str(obj["apiVersion"]), kind)
        if validator is None:
            findings.append(
                Finding.at(
                    plan,
                    resource,
                    "apiVersion",
                    f"Kubernetes {version} serves no {kind} in {obj['apiVersion']}",
                    value=obj["apiVersion"],
                )
            )
            return Verdict(None, findings)
        where = f"Kubernetes {version} {kind}"
        for path, message, value in _schema_errors(validator, obj, where):
            if value == MASK:
                # A Pulumi secret (a Secret's data): the plan keeps [secret], not its shape.
                masked = f"{where}: a Pulumi secret, recorded as {MASK}: its shape is not known"
                findings.append(Finding.at(plan, resource, path, masked, not_evaluated=True))
                continue
            findings.append(Finding.at(plan, resource, path, message, value=value))
        return Verdict(f"kubernetes {version}", findings)

    lookup = crd_for(plan, cluster, obj, facts)
    if lookup.crd is None:
        if lookup.problem:
            findings.append(
                Finding.at(plan, resource, "apiVersion", lookup.problem, value=obj["apiVersion"])
            )
        else:
            findings.append(
                Finding.at(plan, resource, "", str(lookup.not_evaluated), not_evaluated=True)
            )
        return Verdict(None, findings)
    crd = lookup.crd
    where = f"{crd.kind} {crd.version} ({crd.source})"
    for path, message, value in _schema_errors(crd_validator(crd), obj, where):
        findings.append(Finding.at(plan, resource, path, message, value=value))
    for result in structural.cel_findings(crd.schema, obj):
        text = f"CEL rule of {crd.kind} ({crd.source}): {result.message}"
        if not result.evaluated:
            text = f"{result.rule!r} of {crd.kind} ({crd.source}): {result.message}"
        findings.append(
            Finding.at(
                plan,
                resource,
                path_text(list(result.path)),
                text,
                not_evaluated=not result.evaluated,
            )
        )
    return Verdict(crd.source, findings)


def verdicts(plan: Plan, facts: Path) -> list[tuple[dict[str, Any], Verdict]]:
    by_provider = clusters(plan)
    return [
        (r, check_object(plan, r, by_provider.get(r.get("provider") or ""), facts))
        for r in kubernetes_objects(plan)
    ]


def coverage(plans: Mapping[str, Plan], facts: Path) -> dict[str, tuple[int, int]]:
    """Per stack: (objects validated against a schema, Kubernetes objects in the plan)."""
    out = {}
    for stack, plan in plans.items():
        results = verdicts(plan, facts)
        out[stack] = (sum(1 for _, v in results if v.schema), len(results))
    return out


def unvalidated_kinds(plans: Mapping[str, Plan], facts: Path) -> dict[str, dict[str, int]]:
    """Per stack: kind -> how many of its objects no schema validated (coverage's gap, named)."""
    out: dict[str, dict[str, int]] = {}
    for stack, plan in plans.items():
        kinds: dict[str, int] = {}
        for resource, verdict in verdicts(plan, facts):
            if verdict.schema is None:
                kind = str(manifest(resource).get("kind"))
                kinds[kind] = kinds.get(kind, 0) + 1
        out[stack] = dict(sorted(kinds.items()))
    return out


def _dedupe_not_evaluated(findings: list[Finding]) -> list[Finding]:
    """One not-evaluated line per rule (the first object it applies to), not one per object."""
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        if f.not_evaluated:
            key = ("", f.message)
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out


class _ObjectCheck:
    def __init__(self, name: str, native: bool) -> None:
        self.name = name
        self._native = native

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        for _, plan in sorted(plans.items()):
            by_provider = clusters(plan)
            for resource in kubernetes_objects(plan):
                if is_native(manifest(resource)) != self._native:
                    continue
                cluster = by_provider.get(resource.get("provider") or "")
                findings += check_object(plan, resource, cluster, facts).findings
        return _dedupe_not_evaluated(findings)


def checks() -> list[Check]:
    return [_ObjectCheck("k8s-schema", native=True), _ObjectCheck("crd-schema", native=False)]


__all__ = [
    "api_group",
    "checks",
    "coverage",
    "crd_for",
    "native_validator",
    "unvalidated_kinds",
    "verdicts",
]
