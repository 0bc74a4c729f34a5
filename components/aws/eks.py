"""An EKS cluster for inference: private API, encrypted secrets, IRSA, a system node group.

Creates the control plane (private API endpoint unless told otherwise, Kubernetes
secrets envelope-encrypted with a KMS key that rotates, control-plane logs to a
CloudWatch log group with a retention period), the IAM OIDC provider for IAM
roles for service accounts (IRSA), access entries for the admin roles (the
``API`` authentication mode: no ``aws-auth`` ConfigMap; the identity that creates
the cluster gets no admin of its own, so the role Pulumi runs as must be one of
``admin_role_arns``), the system node group
(on-demand CPU nodes from a launch template with IMDSv2 required and an
encrypted root volume, in private subnets without public IPs), the EKS managed
add-ons at the versions pinned for the control plane's Kubernetes minor (VPC CNI,
kube-proxy, CoreDNS, the EBS CSI driver with its own IRSA role, the Pod Identity
agent), and a Kubernetes provider bound to the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from blueprint.capacity import NodeCounts
from blueprint.limits import IAM_ROLE_NAME, autoname_within
from components._inputs import InputErrors
from components.k8s.handle import irsa_trust_policy

TYPE = "llm-inference:aws:EksCluster"

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
"""Every control-plane log type EKS offers; audit logs answer "who changed this"."""
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
"""What a node's instance role needs to join the cluster, run the VPC CNI and pull images."""
VPC_CNI_CONFIG = {"enableNetworkPolicy": "true"}
"""The vpc-cni add-on's configuration: its network policy agent on (VPC CNI 1.14+)."""
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
"""The EKS-optimized AL2023 NVIDIA AMI: driver and NVIDIA container toolkit preinstalled."""
BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
"""Add-ons (DaemonSets) in place before the first node joins, so nodes start with the pinned
CNI; the others are Deployments that need a node to become ACTIVE."""
EBS_CSI = "aws-ebs-csi-driver"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
"""The EBS CSI controller's service account (namespace, name), as the add-on creates it."""
ADDON_CONFLICTS = "OVERWRITE"
"""The add-ons' settings belong to this program: on create EKS adopts the self-managed
copies it installed with the cluster, and on update a hand edit is overwritten instead
of silently surviving (PRESERVE would keep drift nobody reviewed)."""


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    cluster_name: str
    """The cluster's name in AWS, e.g. ``prod-core-aws``."""
    region: str
    kubernetes_version: str
    """The control plane's Kubernetes minor, such as 1.33 (it keys ``addon_versions``)."""
    node_version: str
    """The system node group's Kubernetes minor: the control plane's, or up to three older
    while an upgrade is staged (the version-skew policy; the config rules hold it)."""
    ami_release_version: str
    """The EKS-optimized AL2023 AMI release of the system node group, built for
    ``node_version``, e.g. 1.33.0-20250715."""
    addon_versions: Mapping[str, str]
    """EKS managed add-on name -> pinned version for ``kubernetes_version``:
    ``blueprint.catalog.eks_addons().for_version(kubernetes_version)``."""
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets for the control plane's network interfaces and the nodes."""
    system_instance_types: Sequence[str]
    system_nodes: NodeCounts
    private_endpoint: bool = True
    authorized_networks: Sequence[str] = ()
    """With a public endpoint: the CIDR ranges allowed to reach it."""
    admin_role_arns: Sequence[str] = ()
    """IAM roles given cluster-admin by access entries; the role Pulumi runs as must be one
    (the cluster creator gets no admin of its own, and Pulumi installs the cluster's
    software through the Kubernetes API)."""
    log_retention_days: int = 30
    system_disk_gb: int = 100
    system_labels: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect the stateful resources (the cluster, the secrets key) from deletion: a
    ``pulumi destroy`` or a replacing change stops instead of deleting them."""


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


KEY_USER_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
"""What EC2 does with a customer-managed key to create and attach an encrypted volume."""


def node_volume_key_policy(
    *, partition: str, dns_suffix: str, account: str, region: str
) -> dict[str, object]:
    """The key policy of a key that encrypts node root volumes (and EKS secrets).

    Without a key policy KMS applies the default one, which lets only IAM principals
    whose own policies grant KMS use the key. Managed node groups launch through the
    Auto Scaling service-linked role (``AWSServiceRoleForAutoScaling``), whose policy
    grants no KMS: every launch fails with ``Client.InternalError`` and the node group
    never gets a node. The policy lets any principal of the account use the key *through
    EC2 in this region* (the pattern of the AWS-managed ``aws/ebs`` key), which covers
    that service-linked role, EC2 Fleet's and Karpenter's controller, without naming a
    service-linked role that may not exist yet (KMS refuses a policy naming an unknown
    principal).
    """
    through_ec2 = {
        "kms:CallerAccount": account,
        "kms:ViaService": f"ec2.{region}.{dns_suffix}",
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "VolumesThroughEc2",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(KEY_USER_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": through_ec2},
            },
            {
                "Sid": "VolumeGrantsThroughEc2",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {
                    "StringEquals": through_ec2,
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            },
        ],
    }


def node_launch_template(
    name: str,
    *,
    disk_gb: int,
    kms_key_arn: pulumi.Input[str] | None,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.LaunchTemplate:
    """A launch template for managed node groups: IMDSv2 only, encrypted gp3 root volume.

    The hop limit of 1 keeps pods (one hop away) off the node's instance
    credentials: workloads get AWS credentials through IRSA instead.
    """
    return aws.ec2.LaunchTemplate(
        name,
        description=f"{name}: IMDSv2 required, encrypted root volume",
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
        },
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {
                    "volume_size": disk_gb,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "kms_key_id": kms_key_arn,
                    "delete_on_termination": "true",
                },
            }
        ],
        tag_specifications=[
            {"resource_type": "instance", "tags": {**tags, "Name": name}},
            {"resource_type": "volume", "tags": {**tags, "Name": name}},
        ],
        update_default_version=True,
        tags={**tags, "Name": name},
        opts=opts,
    )


class EksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    """The cluster's name in AWS."""
    endpoint: pulumi.Output[str]
    """The Kubernetes API endpoint (private unless ``private_endpoint`` is false)."""
    certificate_authority: pulumi.Output[str]
    """The cluster CA, base64-encoded PEM."""
    oidc_issuer: pulumi.Output[str]
    """The OIDC issuer host and path, without ``https://`` (IRSA trust conditions)."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider IRSA roles trust."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS creates for the control plane and nodes."""
    node_role_arn: pulumi.Output[str]
    """The instance role of managed node groups (system and GPU floor)."""
    kms_key_arn: pulumi.Output[str]
    """The key that envelope-encrypts secrets and node volumes."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with ``aws eks get-token`` (no stored credentials),
    marked secret: it names the private endpoint and CA, and state and outputs keep it so."""
    provider: k8s.Provider
    """The Kubernetes provider bound to this cluster (waits for the system nodes)."""
    system_node_group: aws.eks.NodeGroup
    """The on-demand CPU node group the cluster's own services run on."""
    addons: dict[str, aws.eks.Addon]
    """The EKS managed add-ons, by add-on name."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        errors = InputErrors(TYPE, name)
        errors.check(
            bool(args.admin_role_arns),
            "admin_role_arns",
            "empty: the cluster creator gets no admin of its own "
            "(bootstrap_cluster_creator_admin_permissions is off), so list the IAM role "
            "Pulumi runs as, or nothing can install Karpenter, the GPU Operator or workloads",
        )
        errors.raise_if_any()
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        key = self._create_key()
        logs = self._create_log_group()
        cluster = self._create_cluster(key, logs)
        oidc = self._create_oidc_provider(cluster)
        admin_access = self._create_admin_access(cluster)
        node_role = self._create_node_role()
        early = self._create_addons(cluster, oidc, BEFORE_NODES, after=[])
        self.system_node_group = self._create_system_nodes(
            cluster, node_role, key, after=list(early.values())
        )
        late = [a for a in args.addon_versions if a not in BEFORE_NODES]
        self.addons = {
            **early,
            **self._create_addons(cluster, oidc, late, after=[self.system_node_group]),
        }

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.apply(lambda ca: ca.data or "")
        self.oidc_issuer = cluster.identities.apply(
            lambda ids: _issuer(ids).removeprefix("https://")
        )
        self.oidc_provider_arn = oidc.arn
        self.cluster_security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id or ""
        )
        self.node_role_arn = node_role.arn
        self.kms_key_arn = key.arn
        self.kubeconfig = pulumi.Output.secret(
            kubeconfig(cluster.name, self.endpoint, self.certificate_authority, args.region)
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            # Pulumi's own access to the API is an access entry (not the creator's
            # bootstrap admin): nothing goes through the provider before it exists.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.system_node_group, *admin_access]
            ),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_issuer": self.oidc_issuer,
                "oidc_provider_arn": self.oidc_provider_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
                "node_role_arn": self.node_role_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _tags(self, name: str) -> dict[str, str]:
        return {**self._args.tags, "Name": name}

    def _create_key(self) -> aws.kms.Key:
        invoke = pulumi.InvokeOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke)
        region = self._args.region
        return aws.kms.Key(
            f"{self._name}-secrets",
            description=f"EKS secrets envelope encryption and node volumes of "
            f"{self._args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(partition.partition, partition.dns_suffix, account).apply(
                lambda v: json.dumps(
                    node_volume_key_policy(
                        partition=v[0], dns_suffix=v[1], account=v[2], region=region
                    ),
                    sort_keys=True,
                )
            ),
            tags=self._tags(f"{self._name}-secrets"),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )

    def _create_log_group(self) -> aws.cloudwatch.LogGroup:
        # EKS writes to this exact name; creating it first sets the retention
        # (EKS would otherwise create it with logs kept forever).
        return aws.cloudwatch.LogGroup(
            f"{self._name}-control-plane",
            name=f"/aws/eks/{self._args.cluster_name}/cluster",
            retention_in_days=self._args.log_retention_days,
            tags=self._tags(f"{self._name}-control-plane"),
            opts=self._child,
        )

    def _create_cluster(self, key: aws.kms.Key, logs: aws.cloudwatch.LogGroup) -> aws.eks.Cluster:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-cluster",
            name=autoname_within(f"{self._name}-cluster", IAM_ROLE_NAME),
            assume_role_policy=assume_role_policy("eks.amazonaws.com"),
            tags=self._tags(f"{self._name}-cluster"),
            opts=self._child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-cluster",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=self._child,
        )
        public = not args.private_endpoint
        return aws.eks.Cluster(
            f"{self._name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": args.subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                "public_access_cidrs": list(args.authorized_networks) if public else None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            access_config={
                "authentication_mode": "API",
                # No hidden admin for whoever created the cluster: every admin,
                # the role Pulumi runs as included, is an access entry in the plan
                # (admin_role_arns), which can be reviewed and revoked. Changing this
                # on an existing cluster replaces it (components/aws/README.md).
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            upgrade_policy={"support_type": "STANDARD"},
            tags=self._tags(args.cluster_name),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[logs, attachment], protect=args.protect
            ),
        )

    def _create_oidc_provider(self, cluster: aws.eks.Cluster) -> aws.iam.OpenIdConnectProvider:
        issuer = cluster.identities.apply(_issuer)
        return aws.iam.OpenIdConnectProvider(
            f"{self._name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            tags=self._tags(f"{self._name}-oidc"),
            opts=self._child,
        )

    def _create_admin_access(
        self, cluster: aws.eks.Cluster
    ) -> list[aws.eks.AccessPolicyAssociation]:
        associations = []
        for i, arn in enumerate(self._args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{self._name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=arn,
                type="STANDARD",
                tags=self._tags(f"{self._name}-admin-{i}"),
                opts=self._child,
            )
            associations.append(
                aws.eks.AccessPolicyAssociation(
                    f"{self._name}-admin-{i}",
                    cluster_name=cluster.name,
                    principal_arn=arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
                )
            )
        return associations

    def _create_node_role(self) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-node",
            name=autoname_within(f"{self._name}-node", IAM_ROLE_NAME),
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=self._tags(f"{self._name}-node"),
            opts=self._child,
        )
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{self._name}-node-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=policy,
                opts=self._child,
            )
        return role

    def _create_addons(
        self,
        cluster: aws.eks.Cluster,
        oidc: aws.iam.OpenIdConnectProvider,
        names: Sequence[str],
        *,
        after: Sequence[pulumi.Resource],
    ) -> dict[str, aws.eks.Addon]:
        addons: dict[str, aws.eks.Addon] = {}
        for addon in names:
            version = self._args.addon_versions.get(addon)
            if version is None:
                continue
            role, ready = (
                self._create_ebs_csi_role(cluster, oidc) if addon == EBS_CSI else (None, None)
            )
            addons[addon] = aws.eks.Addon(
                f"{self._name}-{addon}",
                cluster_name=cluster.name,
                addon_name=addon,
                addon_version=version,
                resolve_conflicts_on_create=ADDON_CONFLICTS,
                resolve_conflicts_on_update=ADDON_CONFLICTS,
                # vpc-cni: its network policy agent on; without it, NetworkPolicies are
                # accepted and never enforced.
                configuration_values=(
                    json.dumps(VPC_CNI_CONFIG, sort_keys=True) if addon == "vpc-cni" else None
                ),
                service_account_role_arn=role.arn if role is not None else None,
                tags=self._tags(f"{self._name}-{addon}"),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*after, *([ready] if ready else [])]
                ),
            )
        return addons

    def _create_ebs_csi_role(
        self, cluster: aws.eks.Cluster, oidc: aws.iam.OpenIdConnectProvider
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The EBS CSI controller's IRSA role: AWS's managed driver policy, trusted only by
        the controller's service account on this cluster's issuer (and the attachment the
        add-on waits for, so the controller never starts without its permissions)."""
        namespace, account = EBS_CSI_SERVICE_ACCOUNT
        name = f"{self._name}-ebs-csi"
        role = aws.iam.Role(
            name,
            name=autoname_within(name, IAM_ROLE_NAME),
            assume_role_policy=pulumi.Output.all(oidc.arn, cluster.identities.apply(_issuer)).apply(
                lambda v: irsa_trust_policy(v[0], v[1].removeprefix("https://"), namespace, account)
            ),
            tags=self._tags(name),
            opts=self._child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            name, role=role.name, policy_arn=EBS_CSI_POLICY, opts=self._child
        )
        return role, attachment

    def _create_system_nodes(
        self,
        cluster: aws.eks.Cluster,
        role: aws.iam.Role,
        key: aws.kms.Key,
        *,
        after: Sequence[pulumi.Resource] = (),
    ) -> aws.eks.NodeGroup:
        args = self._args
        template = node_launch_template(
            f"{self._name}-system",
            disk_gb=args.system_disk_gb,
            kms_key_arn=key.arn,
            tags=args.tags,
            opts=self._child,
        )
        return aws.eks.NodeGroup(
            f"{self._name}-system",
            cluster_name=cluster.name,
            node_group_name="system",
            node_role_arn=role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=list(args.system_instance_types),
            capacity_type="ON_DEMAND",
            ami_type=SYSTEM_AMI_TYPE,
            version=args.node_version,
            release_version=args.ami_release_version,
            scaling_config={
                "min_size": args.system_nodes.min,
                "desired_size": args.system_nodes.desired,
                "max_size": args.system_nodes.max,
            },
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=dict(args.system_labels),
            update_config={"max_unavailable": 1},
            tags=self._tags(f"{self._name}-system"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )


def kubeconfig(
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    certificate_authority: pulumi.Input[str],
    region: str,
) -> pulumi.Output[str]:
    """A kubeconfig that gets a short-lived token from ``aws eks get-token``."""

    def render(values: list[str]) -> str:
        name, server, ca = values
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": name,
                        "cluster": {"server": server, "certificate-authority-data": ca},
                    }
                ],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
                "current-context": name,
                "users": [
                    {
                        "name": name,
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "aws",
                                "args": [
                                    "eks",
                                    "get-token",
                                    "--cluster-name",
                                    name,
                                    "--region",
                                    region,
                                    "--output",
                                    "json",
                                ],
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(cluster_name, endpoint, certificate_authority).apply(render)


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    """The cluster's OIDC issuer URL (``https://oidc.eks...``)."""
    oidcs = identities[0].oidcs or []
    return oidcs[0].issuer or ""
