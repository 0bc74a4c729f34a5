"""What the checks read from a recorded plan: its clusters, Kubernetes objects, Helm releases.

A Kubernetes resource belongs to the cluster its provider was made for: the provider's
parent is the cluster component (``llm-inference:aws:EksCluster`` or
``llm-inference:gcp:GkeCluster``), whose cluster resource carries the Kubernetes version
the stack file sets (``clusters.<name>.kubernetesVersion``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.preview.recorder import Plan

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER_COMPONENTS = {"llm-inference:aws:EksCluster": "aws", "llm-inference:gcp:GkeCluster": "gcp"}
CLUSTER_RESOURCES = {
    "aws:eks/cluster:Cluster": "version",
    "gcp:container/cluster:Cluster": "minMasterVersion",
}
NATIVE_GROUPS = frozenset(
    {
        "core",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "resource.k8s.io",
    }
)
"""API groups the Kubernetes API server itself serves (checked with its own schemas)."""


@dataclass(frozen=True)
class Cluster:
    provider: str
    """URN of the cluster's Kubernetes provider."""
    name: str
    """The cluster component's name (``prod-core-aws``)."""
    cloud: str
    kubernetes_version: str


def clusters(plan: Plan) -> dict[str, Cluster]:
    """The plan's clusters, by the URN of their Kubernetes provider."""
    by_urn = {r["urn"]: r for r in plan.resources}
    versions: dict[str, str] = {}
    for r in plan.resources:
        key = CLUSTER_RESOURCES.get(r["type"])
        if key and r["parent"] and r["inputs"].get(key):
            versions[r["parent"]] = str(r["inputs"][key])
    out = {}
    for r in plan.resources:
        if r["type"] != "pulumi:providers:kubernetes" or not r["parent"]:
            continue
        parent = by_urn.get(r["parent"])
        if parent is None or parent["type"] not in CLUSTER_COMPONENTS:
            continue
        out[r["urn"]] = Cluster(
            provider=r["urn"],
            name=parent["name"],
            cloud=CLUSTER_COMPONENTS[parent["type"]],
            kubernetes_version=versions.get(parent["urn"], ""),
        )
    return out


def cluster_of(plan: Plan, resource: Mapping[str, Any]) -> Cluster | None:
    return clusters(plan).get(resource.get("provider") or "")


def is_kubernetes_object(resource: Mapping[str, Any]) -> bool:
    """A Kubernetes object the program creates itself (Helm releases are opaque)."""
    return (
        bool(resource["custom"])
        and not resource.get("read")
        and resource["type"].startswith("kubernetes:")
        and resource["type"] != HELM_RELEASE
    )


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    return [r for r in plan.resources if is_kubernetes_object(r)]


def api_group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else "core"


def is_native(obj: Mapping[str, Any]) -> bool:
    return api_group(str(obj.get("apiVersion", ""))) in NATIVE_GROUPS


def manifest(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The object a real ``pulumi up`` sends: its inputs, whole numbers as integers.

    Pulumi carries numbers as floats; the provider sends ``2.0`` as ``2``. A name left
    out is auto-named by Pulumi (``<resource name>-<8 random characters>``).
    """
    obj = integral(dict(resource["inputs"]))
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    obj["metadata"] = dict(obj["metadata"])
    obj["metadata"].setdefault("name", f"{resource['name']}-0a1b2c3d")
    if "apiVersion" not in obj or "kind" not in obj:
        _, api, kind = resource["type"].split(":", 2)
        obj.setdefault("apiVersion", api.removeprefix("core/"))
        obj.setdefault("kind", kind)
    return obj


def integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def releases(plan: Plan) -> list[dict[str, Any]]:
    return [r for r in plan.resources if r["type"] == HELM_RELEASE]


def path_text(parts: list[Any] | tuple[Any, ...]) -> str:
    """``spec.template.spec.containers[0].image`` from path elements."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
