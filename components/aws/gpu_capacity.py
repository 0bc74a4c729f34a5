"""GPU capacity on EKS: an on-demand floor per pool, Karpenter burst, spot interruption handling.

For every pool (see :class:`blueprint.capacity.PoolSpec`):

- the *floor* (``onDemandFloor`` nodes) is an EKS managed node group, on-demand,
  fixed at that size, from a launch template with IMDSv2 required and an
  encrypted root volume, on the EKS-optimized AL2023 NVIDIA AMI for GPU pools;
- the *burst* (up to ``nodes.max - onDemandFloor`` nodes) is a Karpenter
  ``NodePool`` with its ``EC2NodeClass``: the pool's instance types, spot first
  and on-demand when spot runs out (``fallback: on-demand``), a ``limits`` entry
  that caps the burst's GPUs (nodes times GPUs per node of the largest type),
  nodes removed only when empty and only after ``consolidate_after`` (30 minutes
  by default: a GPU node and its model take minutes to come back).

Both carry the pool's labels (pool, tier, GPU model, ``nvidia.com/mig.config``)
and taints (``nvidia.com/gpu=true:NoSchedule`` on GPU nodes). Karpenter itself
is installed from its pinned Helm chart with an IRSA role, and reads spot
interruption warnings, rebalance recommendations, instance state changes and
scheduled maintenance from an SQS queue that EventBridge rules feed, so it
drains a node within the 2-minute spot notice instead of losing its pods.

NodePools and EC2NodeClasses are Kubernetes custom resources registered as such
(not inside a Helm chart), so policies and reviewers see their fields.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from blueprint.capacity import (
    ARCH_LABEL,
    GPU_RESOURCE,
    INSTANCE_TYPE_LABEL,
    KARPENTER_CAPACITY_LABEL,
    SYSTEM_POOL,
    ZONE_LABEL,
    PoolSpec,
)
from blueprint.tags import POOL_LABEL
from components._inputs import InputErrors
from components.aws.eks import (
    GPU_AMI_TYPE,
    NODE_POLICIES,
    SYSTEM_AMI_TYPE,
    assume_role_policy,
    node_launch_template,
)
from components.k8s.handle import irsa_trust_policy

TYPE = "llm-inference:aws:GpuCapacity"

KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"
"""Helm installs a chart's CRDs only once and never upgrades them; Karpenter ships
its CRDs as a chart of their own so that a version bump upgrades them too."""
KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"

INTERRUPTION_EVENTS: Mapping[str, Mapping[str, list[str]]] = {
    "spot-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    },
    "rebalance": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance Rebalance Recommendation"],
    },
    "state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}
"""The EventBridge patterns Karpenter's interruption handling consumes (Karpenter docs)."""

EKS_CLUSTER_NAME_TAG = "eks:eks-cluster-name"
RESTRICTED_NODECLASS_TAGS = (
    EKS_CLUSTER_NAME_TAG,
    "kubernetes.io/cluster/*",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.k8s.aws/ec2nodeclass",
)
"""Tags Karpenter applies itself to what it launches (its controller policy's conditions
rest on them); the EC2NodeClass CRD refuses them in ``spec.tags`` (CEL rules, v1.6.5)."""


def karpenter_owner_tag(cluster: str) -> str:
    """The ownership tag key Karpenter puts on every instance, template and profile it makes."""
    return f"kubernetes.io/cluster/{cluster}"


@dataclass(frozen=True, kw_only=True)
class AwsGpuCapacityArgs:
    cluster_name: str
    """The EKS cluster's name (plain: it names the interruption queue)."""
    region: str
    node_version: str
    """The Kubernetes minor of the pools' nodes (may lag the control plane's, within skew)."""
    ami_release_version: str
    """E.g. 1.33.0-20250715: the floor node groups' release, and Karpenter's AMI alias."""
    karpenter_version: str | None
    """The Karpenter chart version; required when some pool bursts."""
    cluster_endpoint: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    """The managed node groups' instance role (from the cluster)."""
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    pools: Mapping[str, PoolSpec]
    consolidate_after: str = "30m"
    """How long a GPU node stays empty before Karpenter removes it."""
    expire_after: str = "720h"
    """Karpenter replaces nodes older than this (security patches, fresh AMIs)."""
    tags: Mapping[str, str] = field(default_factory=dict)


def ami_alias(release: str) -> str:
    """Karpenter's pinned AL2023 alias for an EKS AMI release: 1.33.0-20250715 -> al2023@v20250715.

    Karpenter resolves the alias to the NVIDIA variant for GPU instance types.
    """
    return f"al2023@v{release.rsplit('-', 1)[1]}"


def node_pool_limits(spec: PoolSpec) -> dict[str, str]:
    """The NodePool's ceiling for the burst: GPUs for GPU pools, vCPUs for CPU pools."""
    if spec.gpu is not None:
        return {GPU_RESOURCE: str(spec.burst * spec.max_gpus_per_node)}
    return {"cpu": str(spec.burst * max(s.vcpus for s in spec.shapes))}


def node_pool_spec(spec: PoolSpec, *, consolidate_after: str, expire_after: str) -> dict[str, Any]:
    """The Karpenter v1 NodePool spec of a pool's burst capacity."""
    return {
        "template": {
            "metadata": {"labels": dict(spec.labels)},
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": spec.name,
                },
                "taints": [t.to_k8s() for t in spec.taints],
                "requirements": [
                    {
                        "key": INSTANCE_TYPE_LABEL,
                        "operator": "In",
                        "values": [s.instance_type for s in spec.shapes],
                    },
                    {
                        "key": KARPENTER_CAPACITY_LABEL,
                        "operator": "In",
                        "values": list(spec.capacity_types),
                    },
                    {
                        "key": ZONE_LABEL,
                        "operator": "In",
                        "values": list(spec.zones),
                    },
                    {"key": ARCH_LABEL, "operator": "In", "values": ["amd64"]},
                ],
                "expireAfter": expire_after,
            },
        },
        "disruption": {
            # Only empty nodes are removed, and only after they stayed empty for
            # consolidate_after: a GPU node and its model take minutes to return.
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": consolidate_after,
            "budgets": [{"nodes": "1"}],
        },
        "limits": node_pool_limits(spec),
    }


def node_class_spec(
    spec: PoolSpec,
    *,
    role: str,
    ami_release: str,
    subnet_ids: Sequence[str],
    security_group_id: str,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The Karpenter v1 EC2NodeClass spec: pinned AMI, IMDSv2, encrypted disk, no public IP."""
    return {
        "role": role,
        "amiSelectorTerms": [{"alias": ami_alias(ami_release)}],
        "subnetSelectorTerms": [{"id": s} for s in subnet_ids],
        "securityGroupSelectorTerms": [{"id": security_group_id}],
        "associatePublicIPAddress": False,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volumeSize": f"{spec.disk_gb}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": {**tags, POOL_LABEL: spec.name},
    }


def controller_policy(
    *,
    partition: str,
    region: str,
    account: str,
    cluster: str,
    queue_arn: str,
    node_role_arn: str,
) -> dict[str, Any]:
    """What the Karpenter controller may do: Karpenter v1.6.5's reference policy.

    Every write is scoped to resources that carry the cluster's ownership tag
    (``kubernetes.io/cluster/<cluster>: owned``) and a Karpenter tag, or that the
    request creates with those tags; Karpenter applies them itself (the EC2NodeClass
    CRD refuses them in ``spec.tags``). PassRole names the nodes' role only. Source:
    aws/karpenter-provider-aws@v1.6.5, website/content/en/docs/getting-started/
    getting-started-with-karpenter/cloudformation.yaml (KarpenterControllerPolicy).
    """
    ec2 = f"arn:{partition}:ec2:{region}"
    profiles = f"arn:{partition}:iam::{account}:instance-profile/*"
    owned_key = karpenter_owner_tag(cluster)
    owned = {f"aws:ResourceTag/{owned_key}": "owned"}
    requested = {
        f"aws:RequestTag/{owned_key}": "owned",
        f"aws:RequestTag/{EKS_CLUSTER_NAME_TAG}": cluster,
    }
    created = [
        f"{ec2}:*:fleet/*",
        f"{ec2}:*:instance/*",
        f"{ec2}:*:volume/*",
        f"{ec2}:*:network-interface/*",
        f"{ec2}:*:launch-template/*",
        f"{ec2}:*:spot-instances-request/*",
    ]
    nodepool_tag = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    nodeclass_tag = {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}
    in_region = {"aws:ResourceTag/topology.kubernetes.io/region": region}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Resource": [
                    f"{ec2}::image/*",
                    f"{ec2}::snapshot/*",
                    f"{ec2}:*:security-group/*",
                    f"{ec2}:*:subnet/*",
                    f"{ec2}:*:capacity-reservation/*",
                ],
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Resource": f"{ec2}:*:launch-template/*",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Condition": {"StringEquals": owned, "StringLike": nodepool_tag},
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Resource": [*created, f"{ec2}:*:capacity-reservation/*"],
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Condition": {
                    "StringEquals": requested,
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Resource": created,
                "Action": "ec2:CreateTags",
                "Condition": {
                    "StringEquals": {
                        **requested,
                        "ec2:CreateAction": [
                            "RunInstances",
                            "CreateFleet",
                            "CreateLaunchTemplate",
                        ],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Resource": f"{ec2}:*:instance/*",
                "Action": "ec2:CreateTags",
                "Condition": {
                    "StringEquals": owned,
                    "StringLike": nodepool_tag,
                    "StringEqualsIfExists": {
                        f"aws:RequestTag/{EKS_CLUSTER_NAME_TAG}": cluster,
                    },
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": [EKS_CLUSTER_NAME_TAG, "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Condition": {"StringEquals": owned, "StringLike": nodepool_tag},
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
                "Action": "ssm:GetParameter",
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Resource": "*",
                "Action": "pricing:GetProducts",
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Resource": queue_arn,
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Resource": node_role_arn,
                "Action": "iam:PassRole",
                "Condition": {
                    "StringEquals": {
                        "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]
                    }
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Resource": profiles,
                "Action": ["iam:CreateInstanceProfile"],
                "Condition": {
                    "StringEquals": {
                        **requested,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Resource": profiles,
                "Action": ["iam:TagInstanceProfile"],
                "Condition": {
                    "StringEquals": {
                        **owned,
                        **in_region,
                        **requested,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {
                        **nodeclass_tag,
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Resource": profiles,
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:DeleteInstanceProfile",
                ],
                "Condition": {"StringEquals": {**owned, **in_region}, "StringLike": nodeclass_tag},
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Resource": profiles,
                "Action": "iam:GetInstanceProfile",
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Resource": f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}",
                "Action": "eks:DescribeCluster",
            },
        ],
    }


class AwsGpuCapacity(pulumi.ComponentResource):
    floor_node_groups: dict[str, aws.eks.NodeGroup]
    """The on-demand floor node group of each pool that has one, by pool."""
    node_pools: dict[str, k8s.apiextensions.CustomResource]
    """The Karpenter NodePool of each pool that bursts, by pool."""
    interruption_queue_url: pulumi.Output[str] | None
    """The SQS queue Karpenter reads interruption events from (None without Karpenter)."""

    def __init__(
        self,
        name: str,
        args: AwsGpuCapacityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``opts.providers`` names the AWS provider and the cluster's Kubernetes provider."""
        errors = InputErrors(TYPE, name)
        burst_pools = sorted(p for p, spec in args.pools.items() if spec.burst > 0)
        errors.check(
            not burst_pools or args.karpenter_version is not None,
            "karpenter_version",
            f"pools {burst_pools} burst above their floor through Karpenter; pin its chart version",
        )
        reserved = sorted(
            key
            for key in args.tags
            if any(fnmatch.fnmatchcase(key, r) for r in RESTRICTED_NODECLASS_TAGS)
        )
        errors.check(
            not reserved,
            "tags",
            f"{reserved} are Karpenter's own tags (its controller policy's conditions rest "
            "on them, and the EC2NodeClass CRD refuses them); rename them",
        )
        for pool, spec in sorted(args.pools.items()):
            errors.check(spec.cloud.value == "aws", f"pools.{pool}", "is not an AWS pool")
            errors.check(
                spec.floor <= spec.max_nodes, f"pools.{pool}", "its floor exceeds nodes.max"
            )
        errors.raise_if_any()
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.floor_node_groups = {
            pool: self._create_floor(spec) for pool, spec in args.pools.items() if spec.floor > 0
        }
        bursting = {pool: spec for pool, spec in args.pools.items() if spec.burst > 0}
        self.node_pools = {}
        self.interruption_queue_url = None
        if bursting and args.karpenter_version is not None:
            queue = self._create_interruption_queue()
            node_role = self._create_karpenter_node_role()
            release = self._install_karpenter(args.karpenter_version, queue, node_role)
            for pool, spec in bursting.items():
                self.node_pools[pool] = self._create_burst(spec, node_role, release)
            self.interruption_queue_url = queue.url
        self.register_outputs(
            {
                "floor_node_groups": {p: g.id for p, g in self.floor_node_groups.items()},
                "node_pools": list(self.node_pools),
                "interruption_queue_url": self.interruption_queue_url,
            }
        )

    # -- floor --------------------------------------------------------------

    def _create_floor(self, spec: PoolSpec) -> aws.eks.NodeGroup:
        args = self._args
        template = node_launch_template(
            f"{self._name}-{spec.name}",
            disk_gb=spec.disk_gb,
            kms_key_arn=None,
            tags={**args.tags, POOL_LABEL: spec.name},
            opts=self._child,
        )
        return aws.eks.NodeGroup(
            f"{self._name}-{spec.name}-floor",
            cluster_name=args.cluster_name,
            node_group_name=f"{spec.name}-floor",
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            instance_types=[s.instance_type for s in spec.shapes],
            capacity_type="ON_DEMAND",
            ami_type=GPU_AMI_TYPE if spec.gpu is not None else SYSTEM_AMI_TYPE,
            version=args.node_version,
            release_version=args.ami_release_version,
            scaling_config={
                "min_size": spec.floor,
                "desired_size": spec.floor,
                "max_size": spec.floor,
            },
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=dict(spec.labels),
            taints=[aws.eks.NodeGroupTaintArgs(**t.to_node_pool()) for t in spec.taints],
            update_config={"max_unavailable": 1},
            tags={**args.tags, "Name": f"{self._name}-{spec.name}-floor"},
            opts=self._child,
        )

    # -- Karpenter ----------------------------------------------------------

    def _create_interruption_queue(self) -> aws.sqs.Queue:
        queue = aws.sqs.Queue(
            f"{self._name}-interruptions",
            name=f"{self._args.cluster_name}-karpenter",
            # Interruption notices are only useful for the 2 minutes they announce.
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            tags={**self._args.tags, "Name": f"{self._args.cluster_name}-karpenter"},
            opts=self._child,
        )
        aws.sqs.QueuePolicy(
            f"{self._name}-interruptions",
            queue_url=queue.url,
            policy=queue.arn.apply(_queue_policy),
            opts=self._child,
        )
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{self._name}-{event}",
                description=f"Karpenter interruption handling of {self._args.cluster_name}: "
                f"{pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=self._args.tags,
                opts=self._child,
            )
            aws.cloudwatch.EventTarget(
                f"{self._name}-{event}",
                rule=rule.name,
                arn=queue.arn,
                opts=self._child,
            )
        return queue

    def _create_karpenter_node_role(self) -> aws.iam.Role:
        # A role of its own: EKS already made an access entry for the managed node
        # groups' role, and Karpenter's nodes need one of type EC2_LINUX.
        role = aws.iam.Role(
            f"{self._name}-karpenter-node",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=self._args.tags,
            opts=self._child,
        )
        for policy in (*NODE_POLICIES, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"):
            aws.iam.RolePolicyAttachment(
                f"{self._name}-karpenter-node-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=policy,
                opts=self._child,
            )
        aws.eks.AccessEntry(
            f"{self._name}-karpenter-node",
            cluster_name=self._args.cluster_name,
            principal_arn=role.arn,
            type="EC2_LINUX",
            tags=self._args.tags,
            opts=self._child,
        )
        return role

    def _install_karpenter(
        self, version: str, queue: aws.sqs.Queue, node_role: aws.iam.Role
    ) -> k8s.helm.v3.Release:
        args = self._args
        invoke = pulumi.InvokeOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        controller = aws.iam.Role(
            f"{self._name}-karpenter",
            assume_role_policy=pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
                lambda v: irsa_trust_policy(
                    v[0], v[1], KARPENTER_NAMESPACE, KARPENTER_SERVICE_ACCOUNT
                )
            ),
            tags=args.tags,
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-karpenter",
            role=controller.id,
            policy=pulumi.Output.all(partition, account, queue.arn, node_role.arn).apply(
                lambda v: json.dumps(
                    controller_policy(
                        partition=v[0],
                        region=args.region,
                        account=v[1],
                        cluster=args.cluster_name,
                        queue_arn=v[2],
                        node_role_arn=v[3],
                    ),
                    sort_keys=True,
                )
            ),
            opts=self._child,
        )
        crds = k8s.helm.v3.Release(
            f"{self._name}-karpenter-crd",
            name="karpenter-crd",
            chart=KARPENTER_CRD_CHART,
            version=version,
            namespace=KARPENTER_NAMESPACE,
            opts=self._child,
        )
        return k8s.helm.v3.Release(
            f"{self._name}-karpenter",
            name="karpenter",
            chart=KARPENTER_CHART,
            version=version,
            namespace=KARPENTER_NAMESPACE,
            skip_crds=True,
            values={
                "settings": {
                    "clusterName": args.cluster_name,
                    "clusterEndpoint": args.cluster_endpoint,
                    "interruptionQueue": queue.name,
                },
                "serviceAccount": {
                    "name": KARPENTER_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": controller.arn},
                },
                "replicas": 2,
                # The controller runs on the system nodes, never on nodes it manages.
                "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
                "controller": {
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                        "limits": {"memory": "1Gi"},
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds]),
        )

    def _create_burst(
        self, spec: PoolSpec, node_role: aws.iam.Role, release: k8s.helm.v3.Release
    ) -> k8s.apiextensions.CustomResource:
        args = self._args
        after_karpenter = pulumi.ResourceOptions(parent=self, depends_on=[release])
        node_class = k8s.apiextensions.CustomResource(
            f"{self._name}-{spec.name}-nodeclass",
            api_version=NODECLASS_API,
            kind="EC2NodeClass",
            metadata={"name": spec.name},
            spec=pulumi.Output.all(node_role.name, args.subnet_ids, args.security_group_id).apply(
                lambda v: node_class_spec(
                    spec,
                    role=v[0],
                    ami_release=args.ami_release_version,
                    subnet_ids=v[1],
                    security_group_id=v[2],
                    tags=args.tags,
                )
            ),
            opts=after_karpenter,
        )
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{spec.name}-nodepool",
            api_version=NODEPOOL_API,
            kind="NodePool",
            metadata={"name": spec.name},
            spec=node_pool_spec(
                spec, consolidate_after=args.consolidate_after, expire_after=args.expire_after
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release, node_class]),
        )


def _queue_policy(queue_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EventBridgeWrites",
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                },
                {
                    "Sid": "DenyHTTP",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )
