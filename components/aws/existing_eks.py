"""An EKS cluster the stack deploys onto but does not manage (``clusters.<name>.existing``).

Creates no AWS resource: the cluster is read by name (``aws.eks.get_cluster``), its IAM
OIDC provider is read from the cluster's issuer (``aws.iam.get_open_id_connect_provider``)
unless its ARN is given, and a Kubernetes provider is bound to it. GPU capacity, the GPU
Operator and the workloads then deploy onto it as onto a cluster the stack created
(:class:`components.aws.eks.EksCluster` exposes the same attributes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._inputs import invoke_field as field
from components._inputs import node_skew_problem
from components.aws.eks import kubeconfig

TYPE = "llm-inference:aws:ExistingEksCluster"


@dataclass(frozen=True, kw_only=True)
class ExistingEksClusterArgs:
    cluster_name: str
    """The existing cluster's name in AWS."""
    region: str
    kubernetes_version: str
    """The Kubernetes minor version of the nodes the stack adds (``1.33``)."""
    oidc_provider_arn: str | None = None
    """The cluster's IAM OIDC provider; None: looked up from the cluster's issuer."""
    node_role_arn: str | None = None
    """The instance role the floor's node groups run as (needed only with a floor)."""


class ExistingEksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    """The cluster's name in AWS."""
    endpoint: pulumi.Output[str]
    """The Kubernetes API endpoint, as the cluster reports it."""
    certificate_authority: pulumi.Output[str]
    """The cluster CA, base64-encoded PEM."""
    oidc_issuer: pulumi.Output[str]
    """The OIDC issuer host and path, without ``https://`` (IRSA trust conditions)."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider IRSA roles trust."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS created for the control plane and nodes."""
    node_role_arn: pulumi.Output[str]
    """The floor node groups' instance role (empty when none was given)."""
    vpc_id: pulumi.Output[str]
    """The VPC the cluster runs in."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with ``aws eks get-token`` (no stored credentials)."""
    provider: k8s.Provider
    """The Kubernetes provider bound to this cluster."""

    def __init__(
        self, name: str, args: ExistingEksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        # Invokes take the provider of their parent, as child resources do.
        invoke = pulumi.InvokeOutputOptions(parent=self)
        found = aws.eks.get_cluster_output(name=args.cluster_name, opts=invoke)

        # Every node the stack adds runs kubernetes_version: refuse a control plane it
        # cannot join before anything is placed on it.
        self.cluster_name = pulumi.Output.all(found.name, found.version).apply(
            lambda v: _joinable(args.cluster_name, v[0], v[1], args.kubernetes_version)
        )
        self.endpoint = found.endpoint
        self.certificate_authority = found.certificate_authorities.apply(
            lambda cas: str(field(cas[0], "data") or "") if cas else ""
        )
        self.oidc_issuer = found.identities.apply(
            lambda ids: _issuer(args.cluster_name, ids).removeprefix("https://")
        )
        if args.oidc_provider_arn is not None:
            given = args.oidc_provider_arn
            self.oidc_provider_arn = self.oidc_issuer.apply(
                lambda issuer: _matching_provider(args.cluster_name, given, issuer)
            )
        else:
            self.oidc_provider_arn = aws.iam.get_open_id_connect_provider_output(
                url=self.oidc_issuer.apply(lambda issuer: f"https://{issuer}"), opts=invoke
            ).arn
        self.cluster_security_group_id = found.vpc_config.apply(
            lambda vpc: str(field(vpc, "cluster_security_group_id") or "")
        )
        self.vpc_id = found.vpc_config.apply(lambda vpc: str(field(vpc, "vpc_id") or ""))
        self.node_role_arn = pulumi.Output.from_input(args.node_role_arn or "")
        self.kubeconfig = kubeconfig(
            self.cluster_name, self.endpoint, self.certificate_authority, args.region
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_issuer": self.oidc_issuer,
                "oidc_provider_arn": self.oidc_provider_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
                "vpc_id": self.vpc_id,
            }
        )


def _joinable(cluster: str, name: str, version: str | None, nodes: str) -> str:
    problem = node_skew_problem(version, nodes)
    if problem is not None:
        raise ValueError(f"EKS cluster {cluster}: {problem}")
    return name


def _issuer(cluster: str, identities: Sequence[Any]) -> str:
    oidcs = field(identities[0], "oidcs") if identities else None
    issuer = field(oidcs[0], "issuer") if oidcs else None
    if not issuer:
        raise ValueError(f"EKS cluster {cluster} reports no OIDC issuer; IRSA needs one")
    return str(issuer)


def _matching_provider(cluster: str, arn: str, issuer: str) -> str:
    """The given provider ARN, if it is the cluster's: a role trusting another cluster's
    provider would deploy and then fail every AssumeRoleWithWebIdentity."""
    if not arn.endswith(f":oidc-provider/{issuer}"):
        raise ValueError(
            f"OIDC provider {arn} is not EKS cluster {cluster}'s (its issuer is {issuer}); "
            f"give arn:aws:iam::<account>:oidc-provider/{issuer}, or leave it out to look it up"
        )
    return arn
