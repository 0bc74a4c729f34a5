"""NetworkPolicies: every workload namespace denies by default, and allows its real flows.

A namespace the blueprint creates for workloads gets:

- ``default-deny``: every pod, ingress and egress, nothing allowed;
- ``allow-dns``: egress to the cluster DNS (``kube-dns`` in ``kube-system``, UDP and TCP 53);
- where its pods fetch from the cloud (model repositories, weights, STS/IRSA,
  SageMaker): egress on 443 to any address (S3, GCS and the AWS APIs have no stable
  addresses a NetworkPolicy could name), and on GKE the metadata server Workload
  Identity answers on;
- one ``allow-<flow>`` per flow into the namespace: its source (pods of a namespace),
  its destination pods and their container port.

Ports are never written here: each flow takes its port from the constant that the
workload's container and Service are built from (:func:`serving_flows`), so a port
changed in one place changes the rule with it.

Policies are plain dicts (rendered and tested without Pulumi); :func:`create` registers one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from blueprint.modelrepo.llm import SERVED_PORT
from blueprint.triton import HTTP_PORT, METRICS_PORT

NAMESPACE_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (Kubernetes >= 1.22): selects a namespace by name."""
APP_LABEL = "app.kubernetes.io/name"
TRITON_APP = "triton"
VLLM_APP = "vllm"
DNS_PORT = 53
HTTPS_PORT = 443
DEFAULT_DENY = "default-deny"
GKE_METADATA = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))
"""Where GKE's metadata server answers pods (Workload Identity tokens): GKE's network
policy documentation asks for both egress rules on Dataplane V2 clusters."""


@dataclass(frozen=True, kw_only=True)
class Peer:
    """Pods of one namespace (all of them when ``pod_labels`` is empty)."""

    namespace: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)

    def to_k8s(self) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: self.namespace}},
            "podSelector": {"matchLabels": dict(self.pod_labels)},
        }


KUBE_DNS = Peer(namespace="kube-system", pod_labels={"k8s-app": "kube-dns"})


@dataclass(frozen=True, kw_only=True)
class Flow:
    """Traffic into ``pod_labels``'s pods on ``port`` (their container port) from ``source``."""

    name: str
    pod_labels: Mapping[str, str]
    port: int
    source: Peer


def serving_flows(*, gateway: Peer | None, scrapers: Peer | None) -> list[Flow]:
    """The flows into a serving namespace: the gateway to the inference ports of Triton and
    vLLM, Prometheus to their metrics ports. No gateway on the cluster: no inference flow."""
    triton = {APP_LABEL: TRITON_APP}
    vllm = {APP_LABEL: VLLM_APP}
    flows = []
    if gateway is not None:
        flows += [
            Flow(name="gateway-to-triton", pod_labels=triton, port=HTTP_PORT, source=gateway),
            Flow(name="gateway-to-vllm", pod_labels=vllm, port=SERVED_PORT, source=gateway),
        ]
    if scrapers is not None:
        flows += [
            Flow(name="scrape-triton", pod_labels=triton, port=METRICS_PORT, source=scrapers),
            Flow(name="scrape-vllm", pod_labels=vllm, port=SERVED_PORT, source=scrapers),
        ]
    return flows


def _policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def default_deny(namespace: str) -> dict[str, Any]:
    """Every pod of ``namespace``: no ingress, no egress, unless another policy allows it."""
    return _policy(
        DEFAULT_DENY, namespace, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    )


def allow_dns(namespace: str) -> dict[str, Any]:
    return _policy(
        "allow-dns",
        namespace,
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [KUBE_DNS.to_k8s()],
                    "ports": [
                        {"protocol": "UDP", "port": DNS_PORT},
                        {"protocol": "TCP", "port": DNS_PORT},
                    ],
                }
            ],
        },
    )


def allow_cloud_egress(
    namespace: str, *, pod_labels: Mapping[str, str] | None = None, gke_metadata: bool = False
) -> dict[str, Any]:
    """HTTPS to the cloud's APIs and buckets (and GKE's metadata server with ``gke_metadata``)."""
    rules: list[dict[str, Any]] = [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
            "ports": [{"protocol": "TCP", "port": HTTPS_PORT}],
        }
    ]
    if gke_metadata:
        rules += [
            {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}
            for cidr, port in GKE_METADATA
        ]
    return _policy(
        "allow-cloud-egress",
        namespace,
        {
            "podSelector": {"matchLabels": dict(pod_labels or {})},
            "policyTypes": ["Egress"],
            "egress": rules,
        },
    )


def allow_flow(namespace: str, flow: Flow) -> dict[str, Any]:
    return _policy(
        f"allow-{flow.name}",
        namespace,
        {
            "podSelector": {"matchLabels": dict(flow.pod_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [flow.source.to_k8s()],
                    "ports": [{"protocol": "TCP", "port": flow.port}],
                }
            ],
        },
    )


def isolation(
    namespace: str,
    flows: Sequence[Flow],
    *,
    cloud_egress: bool,
    cloud_egress_pods: Mapping[str, str] | None = None,
    gke_metadata: bool = False,
) -> list[dict[str, Any]]:
    """Every NetworkPolicy of one workload namespace, default deny first."""
    docs = [default_deny(namespace), allow_dns(namespace)]
    if cloud_egress:
        docs.append(
            allow_cloud_egress(namespace, pod_labels=cloud_egress_pods, gke_metadata=gke_metadata)
        )
    return docs + [allow_flow(namespace, f) for f in flows]


def create(
    prefix: str, doc: Mapping[str, Any], opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """Register one rendered policy, named ``<prefix>-<policy name>``."""
    return k8s.networking.v1.NetworkPolicy(
        f"{prefix}-{doc['metadata']['name']}",
        metadata=doc["metadata"],
        spec=doc["spec"],
        opts=opts,
    )
