"""The handle other components use to deploy onto a cluster this blueprint created.

A :class:`ClusterHandle` is what the composition root passes to components that
put Kubernetes objects on a cluster (Triton serving, monitoring, routing): the
cluster's names, the ``pulumi_kubernetes.Provider`` bound to it, and what a
workload needs to get a cloud identity without static keys (IRSA on EKS,
Workload Identity on GKE).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from blueprint.capacity import PoolSpec


@dataclass(frozen=True, kw_only=True)
class ClusterHandle:
    name: str
    """The cluster's logical name (its key under ``clusters`` in the stack file)."""
    cloud: str
    """``aws`` or ``gcp``."""
    region: str
    cluster_name: pulumi.Output[str]
    """The cluster's name in the cloud (``<stack>-<name>``)."""
    provider: k8s.Provider
    """Pass as ``opts=ResourceOptions(provider=handle.provider)`` to deploy onto this cluster."""
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str] | None = None
    """A kubeconfig for the cluster (exec-based: no stored credential), marked secret."""
    pools: Mapping[str, PoolSpec] = field(default_factory=dict)
    """The cluster's GPU pools (labels, taints, resources per node, ceilings), by name."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources to wait for before scheduling GPU workloads (node capacity, GPU Operator)."""
    oidc_provider_arn: pulumi.Output[str] | None = None
    """EKS: the IAM OIDC provider for IRSA (a role's trust policy names it)."""
    oidc_issuer: pulumi.Output[str] | None = None
    """EKS: the issuer host and path, without ``https://`` (the trust policy's condition key)."""
    workload_pool: str | None = None
    """GKE: the Workload Identity pool, ``<project>.svc.id.goog``."""
    project: str | None = None
    """GKE: the project the cluster lives in."""

    def irsa_assume_role_policy(self, namespace: str, service_account: str) -> pulumi.Output[str]:
        """EKS: the trust policy that lets one Kubernetes service account assume a role.

        Annotate the service account with ``eks.amazonaws.com/role-arn: <role arn>``.
        """
        if self.oidc_provider_arn is None or self.oidc_issuer is None:
            raise ValueError(f"cluster {self.name} is not an EKS cluster; IRSA applies to EKS")
        return pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(
            lambda args: irsa_trust_policy(args[0], args[1], namespace, service_account)
        )

    def workload_identity_member(self, namespace: str, service_account: str) -> str:
        """GKE: the IAM member to grant ``roles/iam.workloadIdentityUser`` on a GCP
        service account; annotate the Kubernetes service account with
        ``iam.gke.io/gcp-service-account: <email>``."""
        if self.workload_pool is None:
            raise ValueError(
                f"cluster {self.name} is not a GKE cluster; Workload Identity applies to GKE"
            )
        return f"serviceAccount:{self.workload_pool}[{namespace}/{service_account}]"


def irsa_trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    """An IAM trust policy for IRSA, restricted to one service account and audience."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )
