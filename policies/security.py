"""Security guardrails: nodes, buckets, cluster endpoints, identities, pods, Triton's
control API, IAM and images."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pydantic import Field

from policies._lib import (
    NOT_SET,
    WORKLOAD_TYPES,
    Level,
    Named,
    NoConfig,
    PolicyConfig,
    command_line,
    containers,
    get,
    is_list,
    is_triton,
    items,
    json_doc,
    mapping,
    message,
    namespace_of,
    number,
    pod_spec,
    referrers,
    resource_policy,
    stack_policy,
    truthy,
    value_or_unset,
)
from policies._pools import EKS_NODE_GROUP, GKE_NODE_POOL
from policies.cost import GCS_BUCKET, S3_BUCKETS

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EC2_NODE_CLASSES = frozenset(
    {
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        "kubernetes:karpenter.k8s.aws/v1beta1:EC2NodeClass",
    }
)
EKS_CLUSTER = "aws:eks/cluster:Cluster"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 (a type token)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


# ---------------------------------------------------------------------------
# imdsv2-required


class ImdsConfig(PolicyConfig):
    max_hop_limit: float = Field(
        default=1, ge=1, le=64, description="hops a metadata response may travel (1: pods cannot)"
    )


def _imdsv2(args: ResourceValidationArgs, report: ReportViolation, cfg: ImdsConfig) -> None:
    fix = (
        "set metadataOptions {httpTokens: required, httpPutResponseHopLimit: "
        f"{cfg.max_hop_limit:g}}} (pods get credentials from IRSA/Pod Identity, not the node)"
    )
    if args.resource_type in {LAUNCH_TEMPLATE, EC2_INSTANCE}:
        base: tuple[str, ...] = ("metadataOptions",)
        prop = "metadataOptions"
    elif args.resource_type in EC2_NODE_CLASSES:
        base, prop = ("spec", "metadataOptions"), "spec.metadataOptions"
    elif args.resource_type == EKS_NODE_GROUP:
        if get(args.props, "launchTemplate") is None:
            report(
                message(
                    args,
                    "launchTemplate",
                    NOT_SET,
                    "the default launch template of a managed node group leaves IMDSv1 on",
                    "give the node group a launch template with metadataOptions.httpTokens "
                    "= required",
                ),
                None,
            )
        return
    else:
        return
    tokens = get(args.props, *base, "httpTokens")
    if str(tokens) != "required":
        report(
            message(
                args,
                f"{prop}.httpTokens",
                tokens if tokens is not None else NOT_SET,
                "IMDSv1 answers unauthenticated requests, so an SSRF in a pod can read the "
                "node's credentials",
                fix,
            ),
            None,
        )
    hops = number(get(args.props, *base, "httpPutResponseHopLimit"))
    if hops is not None and hops > cfg.max_hop_limit:
        report(
            message(
                args,
                f"{prop}.httpPutResponseHopLimit",
                hops,
                "lets containers reach the node's metadata service",
                fix,
            ),
            None,
        )


IMDSV2_REQUIRED = resource_policy(
    name="imdsv2-required",
    domain="security",
    description="EC2 nodes (launch templates, Karpenter EC2NodeClasses, instances) require "
    "IMDSv2 and keep metadata away from pods.",
    level=Level.MANDATORY,
    fix="Set metadataOptions.httpTokens = required.",
    check=_imdsv2,
    config=ImdsConfig,
)


# ---------------------------------------------------------------------------
# encrypted-volumes


def _encrypted_volumes(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    fix = "set encrypted: true on the volume (with a kmsKeyId for a customer-managed key)"
    checks: list[tuple[str, Any]] = []
    if args.resource_type == LAUNCH_TEMPLATE:
        for i, bdm in enumerate(items(get(args.props, "blockDeviceMappings"))):
            if get(bdm, "ebs") is not None:
                checks.append(
                    (f"blockDeviceMappings[{i}].ebs.encrypted", get(bdm, "ebs", "encrypted"))
                )
    elif args.resource_type in EC2_NODE_CLASSES:
        for i, bdm in enumerate(items(get(args.props, "spec", "blockDeviceMappings"))):
            checks.append(
                (f"spec.blockDeviceMappings[{i}].ebs.encrypted", get(bdm, "ebs", "encrypted"))
            )
    elif args.resource_type == "aws:ebs/volume:Volume":
        checks.append(("encrypted", get(args.props, "encrypted")))
    elif args.resource_type == EC2_INSTANCE:
        checks.append(
            ("rootBlockDevice.encrypted", get(args.props, "rootBlockDevice", "encrypted"))
        )
        for i, dev in enumerate(items(get(args.props, "ebsBlockDevices"))):
            checks.append((f"ebsBlockDevices[{i}].encrypted", get(dev, "encrypted")))
    for prop, value in checks:
        if truthy(value) is not True:
            report(
                message(
                    args,
                    prop,
                    value if value is not None else NOT_SET,
                    "an unencrypted volume exposes model weights and cached data at rest",
                    fix,
                ),
                None,
            )


ENCRYPTED_VOLUMES = resource_policy(
    name="encrypted-volumes",
    domain="security",
    description="EBS volumes of nodes and instances are encrypted.",
    level=Level.MANDATORY,
    fix="Set encrypted: true on every EBS volume.",
    check=_encrypted_volumes,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# Bucket helpers

PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


def _attached(
    args: StackValidationArgs, bucket: Any, types: frozenset[str] | set[str]
) -> list[Any]:
    return [r for r in referrers(args.resources, bucket, "bucket") if r.resource_type in types]


def _statements(doc: Any) -> list[Any]:
    stmts = get(doc, "Statement")
    if isinstance(stmts, dict) or (stmts is not None and not is_list(stmts)):
        return [stmts]
    return items(stmts)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if is_list(value):
        return [str(v) for v in value]
    return [str(value)]


# ---------------------------------------------------------------------------
# private-buckets


def _private_buckets(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in args.resources:
        if bucket.resource_type in S3_BUCKETS:
            blocks = _attached(args, bucket, {PAB})
            if not blocks:
                report(
                    message(
                        bucket,
                        PAB,
                        NOT_SET,
                        "the bucket has no public access block, so an ACL or policy can make "
                        "it public",
                        "add a BucketPublicAccessBlock (bucket=<this bucket>) with all four "
                        "block/ignore/restrict flags true",
                    ),
                    bucket.urn,
                )
            for block in blocks:
                off = [f for f in flags if truthy(get(block.props, f)) is not True]
                if off:
                    report(
                        message(
                            block,
                            ", ".join(off),
                            {f: get(block.props, f) for f in off},
                            "leaves a way to make the bucket public",
                            "set all four flags to true",
                        ),
                        block.urn,
                    )
            acls = [str(get(bucket.props, "acl", default=""))] + [
                str(get(a.props, "acl", default="")) for a in _attached(args, bucket, BUCKET_ACL)
            ]
            if PUBLIC_ACLS & set(acls):
                report(
                    message(
                        bucket,
                        "acl",
                        sorted(PUBLIC_ACLS & set(acls)),
                        "a canned ACL that grants access to everyone",
                        "remove the ACL (buckets are private, owner-enforced)",
                    ),
                    bucket.urn,
                )
            for pol in _attached(args, bucket, {BUCKET_POLICY}):
                for stmt in _statements(json_doc(get(pol.props, "policy"))):
                    principal = get(stmt, "Principal")
                    star = principal == "*" or "*" in _as_list(get(principal, "AWS"))
                    if get(stmt, "Effect") == "Allow" and star and get(stmt, "Condition") is None:
                        report(
                            message(
                                pol,
                                "policy.Statement[].Principal",
                                "*",
                                "allows anyone",
                                "grant named principals (roles) instead of '*'",
                            ),
                            pol.urn,
                        )
        elif bucket.resource_type == GCS_BUCKET:
            pap = get(bucket.props, "publicAccessPrevention")
            if str(pap) != "enforced":
                report(
                    message(
                        bucket,
                        "publicAccessPrevention",
                        pap if pap is not None else NOT_SET,
                        "the bucket can be made public",
                        "set publicAccessPrevention: enforced and uniformBucketLevelAccess: true",
                    ),
                    bucket.urn,
                )
            ubla = get(bucket.props, "uniformBucketLevelAccess")
            if truthy(ubla) is not True:
                report(
                    message(
                        bucket,
                        "uniformBucketLevelAccess",
                        ubla if ubla is not None else NOT_SET,
                        "object ACLs can grant access object by object, outside the bucket's IAM",
                        "set uniformBucketLevelAccess: true (access through IAM only)",
                    ),
                    bucket.urn,
                )
    for member in args.resources:
        if member.resource_type in {
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        }:
            who = set(_as_list(get(member.props, "member"))) | set(
                _as_list(get(member.props, "members"))
            )
            if who & PUBLIC_MEMBERS:
                report(
                    message(
                        member,
                        "member(s)",
                        sorted(who & PUBLIC_MEMBERS),
                        "grants the bucket to everyone",
                        "grant service accounts (workload identity) instead",
                    ),
                    member.urn,
                )


PRIVATE_BUCKETS = stack_policy(
    name="private-buckets",
    domain="security",
    description="S3 and GCS buckets are private: public access blocked, no public ACLs, "
    "policies or IAM members; GCS buckets use uniform bucket-level access (no object ACLs).",
    level=Level.MANDATORY,
    fix="Block public access on the bucket.",
    check=_private_buckets,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# bucket-kms-encryption


def _bucket_kms(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for bucket in args.resources:
        if bucket.resource_type in S3_BUCKETS:
            rules = [
                rule
                for sse in _attached(args, bucket, SSE)
                for rule in items(get(sse.props, "rules"))
            ]
            rules += items(get(bucket.props, "serverSideEncryptionConfiguration", "rules"))
            kms = [
                r
                for r in rules
                if str(
                    get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm", default="")
                ).startswith("aws:kms")
                and get(r, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
            ]
            if not kms:
                algos = [
                    get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules
                ]
                report(
                    message(
                        bucket,
                        "server-side encryption",
                        algos or NOT_SET,
                        "not encrypted with a customer-managed KMS key",
                        "add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms, "
                        "kmsMasterKeyId of the stack's key and bucketKeyEnabled: true",
                    ),
                    bucket.urn,
                )
        elif bucket.resource_type == GCS_BUCKET and not get(
            bucket.props, "encryption", "defaultKmsKeyName"
        ):
            report(
                message(
                    bucket,
                    "encryption.defaultKmsKeyName",
                    NOT_SET,
                    "not encrypted with a customer-managed Cloud KMS key",
                    "set encryption.defaultKmsKeyName to the stack's key",
                ),
                bucket.urn,
            )


BUCKET_KMS_ENCRYPTION = stack_policy(
    name="bucket-kms-encryption",
    domain="security",
    description="Buckets are encrypted with a customer-managed KMS key.",
    level=Level.MANDATORY,
    fix="Encrypt the bucket with the stack's KMS key.",
    check=_bucket_kms,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# bucket-tls-only


def _denies_insecure(doc: Any) -> bool:
    for stmt in _statements(doc):
        if get(stmt, "Effect") != "Deny":
            continue
        cond = mapping(get(stmt, "Condition"))
        for op in ("Bool", "BoolIfExists"):
            value = get(cond, op, "aws:SecureTransport")
            if value is not None and str(value).lower() == "false":
                return True
    return False


def _bucket_tls_only(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for bucket in args.resources:
        if bucket.resource_type not in S3_BUCKETS:
            continue
        docs = [json_doc(get(p.props, "policy")) for p in _attached(args, bucket, {BUCKET_POLICY})]
        docs.append(json_doc(get(bucket.props, "policy")))
        if not any(_denies_insecure(d) for d in docs if d is not None):
            report(
                message(
                    bucket,
                    BUCKET_POLICY,
                    NOT_SET if len(docs) == 1 else "policy without a TLS condition",
                    "plain-HTTP requests are accepted",
                    "add a BucketPolicy statement Deny s3:* when aws:SecureTransport is false",
                ),
                bucket.urn,
            )


BUCKET_TLS_ONLY = stack_policy(
    name="bucket-tls-only",
    domain="security",
    description="S3 buckets refuse requests that do not use TLS (GCS serves only HTTPS).",
    level=Level.MANDATORY,
    fix="Deny aws:SecureTransport=false in the bucket policy.",
    check=_bucket_tls_only,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# private-cluster-endpoint


def _private_endpoint(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    fix = (
        "set clusters.<name>.privateEndpoint: true in the stack file "
        "(reach the API over VPN or a bastion)"
    )
    if args.resource_type == EKS_CLUSTER:
        public = get(args.props, "vpcConfig", "endpointPublicAccess")
        if truthy(public) is not False:
            report(
                message(
                    args,
                    "vpcConfig.endpointPublicAccess",
                    public if public is not None else NOT_SET,
                    "the Kubernetes API is reachable from the internet (EKS defaults to public)",
                    fix,
                ),
                None,
            )
        if truthy(get(args.props, "vpcConfig", "endpointPrivateAccess")) is not True:
            report(
                message(
                    args,
                    "vpcConfig.endpointPrivateAccess",
                    value_or_unset(args.props, "vpcConfig", "endpointPrivateAccess"),
                    "nodes reach the API through the internet",
                    "set vpcConfig.endpointPrivateAccess: true",
                ),
                None,
            )
    elif args.resource_type == GKE_CLUSTER:
        pcc = get(args.props, "privateClusterConfig")
        if truthy(get(pcc, "enablePrivateNodes")) is not True:
            report(
                message(
                    args,
                    "privateClusterConfig.enablePrivateNodes",
                    value_or_unset(args.props, "privateClusterConfig", "enablePrivateNodes"),
                    "nodes get public IP addresses",
                    "set privateClusterConfig.enablePrivateNodes: true",
                ),
                None,
            )
        private = truthy(get(pcc, "enablePrivateEndpoint")) is True
        ip_disabled = (
            truthy(get(args.props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled"))
            is False
        )
        if not (private or ip_disabled):
            report(
                message(
                    args,
                    "privateClusterConfig.enablePrivateEndpoint",
                    value_or_unset(args.props, "privateClusterConfig", "enablePrivateEndpoint"),
                    "the control plane has a public endpoint",
                    fix,
                ),
                None,
            )


PRIVATE_CLUSTER_ENDPOINT = resource_policy(
    name="private-cluster-endpoint",
    domain="security",
    description="EKS and GKE control planes and nodes are reachable only from private networks.",
    level=Level.MANDATORY,
    fix="Make the cluster endpoint private.",
    check=_private_endpoint,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# shielded-nodes


def _shielded_nodes(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type == GKE_CLUSTER:
        value = get(args.props, "enableShieldedNodes")
        if truthy(value) is False:
            report(
                message(
                    args,
                    "enableShieldedNodes",
                    value,
                    "nodes can join without verified boot integrity",
                    "remove the override (GKE enables shielded nodes by default) or set it true",
                ),
                None,
            )
    elif args.resource_type == GKE_NODE_POOL:
        sic = get(args.props, "nodeConfig", "shieldedInstanceConfig")
        for key, default_on in (("enableSecureBoot", False), ("enableIntegrityMonitoring", True)):
            value = truthy(get(sic, key))
            if value is False or (value is None and not default_on):
                report(
                    message(
                        args,
                        f"nodeConfig.shieldedInstanceConfig.{key}",
                        value_or_unset(args.props, "nodeConfig", "shieldedInstanceConfig", key),
                        "nodes boot without verified firmware and kernel modules",
                        f"set {key}: true (GPU pools: keep GKE-managed drivers, "
                        "guestAccelerators.gpuDriverInstallationConfig, which are signed for "
                        "Secure Boot)",
                    ),
                    None,
                )


SHIELDED_NODES = resource_policy(
    name="shielded-nodes",
    domain="security",
    description="GKE nodes are shielded: Secure Boot and integrity monitoring on.",
    level=Level.MANDATORY,
    fix="Enable Secure Boot and integrity monitoring on GKE node pools.",
    check=_shielded_nodes,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# workload-identity


def _workload_identity(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    oidc = [
        r
        for r in args.resources
        if r.resource_type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    ]
    agents = [
        r
        for r in args.resources
        if r.resource_type == "aws:eks/addon:Addon"
        and get(r.props, "addonName") == "eks-pod-identity-agent"
    ]
    for res in args.resources:
        if res.resource_type == EKS_CLUSTER:
            linked = [
                o
                for o in oidc
                if any(d.urn == res.urn for d in o.property_dependencies.get("url") or [])
            ] + [
                a
                for a in agents
                if any(d.urn == res.urn for d in a.property_dependencies.get("clusterName") or [])
            ]
            if not linked:
                report(
                    message(
                        res,
                        "IAM OIDC provider / eks-pod-identity-agent",
                        NOT_SET,
                        "pods can only get AWS credentials from the node role, shared by all",
                        "create an aws.iam.OpenIdConnectProvider from the cluster's issuer URL "
                        "(IRSA) or the eks-pod-identity-agent add-on",
                    ),
                    res.urn,
                )
        elif res.resource_type == GKE_CLUSTER and not get(
            res.props, "workloadIdentityConfig", "workloadPool"
        ):
            report(
                message(
                    res,
                    "workloadIdentityConfig.workloadPool",
                    NOT_SET,
                    "pods can only act as the node's service account",
                    "set workloadIdentityConfig.workloadPool = '<project>.svc.id.goog'",
                ),
                res.urn,
            )
        elif res.resource_type == GKE_NODE_POOL:
            mode = get(res.props, "nodeConfig", "workloadMetadataConfig", "mode")
            if str(mode) != "GKE_METADATA":
                report(
                    message(
                        res,
                        "nodeConfig.workloadMetadataConfig.mode",
                        mode if mode is not None else NOT_SET,
                        "pods can read the node's metadata and credentials",
                        "set nodeConfig.workloadMetadataConfig.mode = GKE_METADATA",
                    ),
                    res.urn,
                )


WORKLOAD_IDENTITY = stack_policy(
    name="workload-identity",
    domain="security",
    description="Pods get cloud credentials through workload identity (IRSA or EKS Pod "
    "Identity; GKE Workload Identity), never from the node.",
    level=Level.MANDATORY,
    fix="Enable workload identity on the cluster and its node pools.",
    check=_workload_identity,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# pod-security-restricted and namespace-pod-security


class PodSecurityConfig(PolicyConfig):
    exempt_namespaces: list[str] = Field(
        default_factory=lambda: ["gpu-operator", "monitoring", "kube-system"],
        description="namespaces whose pods need host access (GPU Operator, DCGM and node "
        "exporters)",
    )


def _pod_violations(spec: Any) -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(get(spec, key)) is True:
            out.append((key, True, f"remove {key}"))
    for i, vol in enumerate(items(get(spec, "volumes"))):
        if get(vol, "hostPath") is not None:
            out.append(
                (f"volumes[{i}].hostPath", get(vol, "hostPath", "path"), "use a PVC or emptyDir")
            )
    pod_sc = mapping(get(spec, "securityContext"))
    for path, c in containers(spec):
        sc = mapping(get(c, "securityContext"))
        name = get(c, "name", default="?")
        where = f"{path}.securityContext (container {name})"
        if truthy(get(sc, "privileged")) is True:
            out.append((f"{where}.privileged", True, "remove privileged"))
        if truthy(get(sc, "allowPrivilegeEscalation")) is not False:
            out.append(
                (
                    f"{where}.allowPrivilegeEscalation",
                    get(sc, "allowPrivilegeEscalation"),
                    "set it false",
                )
            )
        if truthy(get(sc, "runAsNonRoot", default=get(pod_sc, "runAsNonRoot"))) is not True:
            out.append(
                (
                    f"{where}.runAsNonRoot",
                    get(sc, "runAsNonRoot"),
                    "set runAsNonRoot: true and a runAsUser",
                )
            )
        drop = {str(x) for x in items(get(sc, "capabilities", "drop"))}
        if "ALL" not in drop:
            out.append((f"{where}.capabilities.drop", sorted(drop), "drop [ALL]"))
        seccomp = get(sc, "seccompProfile", "type", default=get(pod_sc, "seccompProfile", "type"))
        if str(seccomp) not in {"RuntimeDefault", "Localhost"}:
            out.append(
                (f"{where}.seccompProfile.type", seccomp, "set seccompProfile.type: RuntimeDefault")
            )
    return out


def _pod_security(
    args: ResourceValidationArgs, report: ReportViolation, cfg: PodSecurityConfig
) -> None:
    if args.resource_type not in WORKLOAD_TYPES:
        return
    if namespace_of(args.props) in cfg.exempt_namespaces:
        return
    spec = pod_spec(args.resource_type, args.props) or {}
    for prop, value, fix in _pod_violations(spec):
        report(
            message(
                args,
                f"spec.template.spec.{prop}",
                value if value is not None else NOT_SET,
                "breaks the Kubernetes 'restricted' pod security standard",
                f"{fix} (only {', '.join(cfg.exempt_namespaces)} may run privileged pods)",
            ),
            None,
        )


POD_SECURITY_RESTRICTED = resource_policy(
    name="pod-security-restricted",
    domain="security",
    description="Pods meet the Kubernetes 'restricted' pod security standard, except in the "
    "allowlisted system namespaces (GPU Operator, DCGM exporter).",
    level=Level.MANDATORY,
    fix="Run as non-root, drop all capabilities, no privilege escalation, RuntimeDefault seccomp.",
    check=_pod_security,
    config=PodSecurityConfig,
)


def _namespace_pod_security(
    args: ResourceValidationArgs, report: ReportViolation, cfg: PodSecurityConfig
) -> None:
    if args.resource_type != NAMESPACE:
        return
    name = str(get(args.props, "metadata", "name", default=args.name))
    label = "pod-security.kubernetes.io/enforce"
    value = get(args.props, "metadata", "labels", label)
    if name in cfg.exempt_namespaces:
        return
    if str(value) != "restricted":
        report(
            message(
                args,
                f"metadata.labels.{label}",
                value if value is not None else NOT_SET,
                "the namespace admits pods that break the restricted standard",
                f"label the namespace {label}=restricted (exempt namespaces: "
                f"{', '.join(cfg.exempt_namespaces)})",
            ),
            None,
        )


NAMESPACE_POD_SECURITY = resource_policy(
    name="namespace-pod-security",
    domain="security",
    description="Namespaces enforce the restricted pod security standard, except the "
    "allowlisted system namespaces.",
    level=Level.MANDATORY,
    fix="Label the namespace pod-security.kubernetes.io/enforce=restricted.",
    check=_namespace_pod_security,
    config=PodSecurityConfig,
)


# ---------------------------------------------------------------------------
# triton-model-control


class ModelControlConfig(PolicyConfig):
    allow_poll: bool = Field(default=False, description="model-control-mode=poll allowed here")


def _flag(argv: list[str], name: str) -> list[str]:
    """Every value of ``--name=value`` or ``--name value`` in an argv."""
    out = []
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            out.append(arg.split("=", 1)[1])
        elif arg == f"--{name}" and i + 1 < len(argv):
            out.append(argv[i + 1])
    return out


def _restricts_repository(values: list[str]) -> bool:
    for value in values:
        apis, _, header = value.partition(":")
        if "model-repository" in apis.split(",") and "=" in header:
            return True
    return False


def _triton_model_control(
    args: ResourceValidationArgs, report: ReportViolation, cfg: ModelControlConfig
) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for path, container in containers(spec, init=False):
        if not is_triton(container):
            continue
        argv = command_line(container)
        mode = (_flag(argv, "model-control-mode") or ["none"])[-1].lower()
        where = f"spec.template.spec.{path}.args"
        if mode == "poll" and not cfg.allow_poll:
            report(
                message(
                    args,
                    f"{where} --model-control-mode",
                    "poll",
                    "Triton loads whatever lands in the repository, unreviewed, and polling "
                    "can load a half-synced model",
                    "use --model-control-mode=explicit with reviewed loads (or none)",
                ),
                None,
            )
        if mode not in {"explicit", "poll"}:
            continue
        checks = (
            ("http", "allow-http", "http-restricted-api"),
            ("grpc", "allow-grpc", "grpc-restricted-protocol"),
        )
        for proto, allow, restrict in checks:
            enabled = (_flag(argv, allow) or ["true"])[-1].lower() != "false"
            if enabled and not _restricts_repository(_flag(argv, restrict)):
                report(
                    message(
                        args,
                        f"{where} --{restrict}",
                        _flag(argv, restrict) or NOT_SET,
                        f"with model control '{mode}', anyone who reaches the {proto.upper()} "
                        "port can load or unload models",
                        f"add --{restrict}=model-repository,model-config:<header>=<secret> "
                        f"(or --{allow}=false)",
                    ),
                    None,
                )


TRITON_MODEL_CONTROL = resource_policy(
    name="triton-model-control",
    domain="security",
    description="Triton's model-control API is restricted to an admin header, and POLL mode is "
    "not used where the environment forbids it (prod).",
    level=Level.MANDATORY,
    fix="Restrict model-repository APIs; use explicit or none model control.",
    check=_triton_model_control,
    config=ModelControlConfig,
)


# ---------------------------------------------------------------------------
# no-iam-wildcards

IAM_DOCS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
PRIMITIVE_ROLES = {"roles/owner", "roles/editor"}


def _wild_actions(doc: Any) -> list[str]:
    found = []
    for stmt in _statements(doc):
        if get(stmt, "Effect") != "Allow":
            continue
        if get(stmt, "NotAction") is not None:
            found.append("NotAction")
        for action in _as_list(get(stmt, "Action")):
            if action == "*" or action.endswith(":*"):
                found.append(action)
    return found


def _no_iam_wildcards(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    fix = "list the actions the role needs (e.g. s3:GetObject, s3:ListBucket)"
    docs: list[tuple[str, Any]] = []
    if args.resource_type in IAM_DOCS:
        docs.append(("policy", json_doc(get(args.props, "policy"))))
    elif args.resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(items(get(args.props, "inlinePolicies"))):
            docs.append((f"inlinePolicies[{i}].policy", json_doc(get(inline, "policy"))))
        trust = json_doc(get(args.props, "assumeRolePolicy"))
        for stmt in _statements(trust):
            principal = get(stmt, "Principal")
            star = principal == "*" or "*" in _as_list(get(principal, "AWS"))
            if get(stmt, "Effect") == "Allow" and star and get(stmt, "Condition") is None:
                report(
                    message(
                        args,
                        "assumeRolePolicy.Principal",
                        "*",
                        "anyone may assume the role",
                        "name the service or federated principal and add conditions",
                    ),
                    None,
                )
    elif args.resource_type in {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }:
        arn = str(get(args.props, "policyArn", default=""))
        if arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
            report(
                message(
                    args,
                    "policyArn",
                    arn,
                    "attaches an administrator-level managed policy",
                    "attach a policy with the actions the role needs",
                ),
                None,
            )
    elif args.resource_type in {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
    }:
        role = str(get(args.props, "role", default=""))
        if role in PRIMITIVE_ROLES:
            report(
                message(
                    args,
                    "role",
                    role,
                    "a primitive role grants every permission in the project",
                    "grant a predefined role (e.g. roles/storage.objectViewer)",
                ),
                None,
            )
    for prop, doc in docs:
        wild = _wild_actions(doc)
        if wild:
            report(
                message(
                    args,
                    f"{prop}.Statement[].Action",
                    wild,
                    "allows every action of a service",
                    fix,
                ),
                None,
            )


NO_IAM_WILDCARDS = resource_policy(
    name="no-iam-wildcards",
    domain="security",
    description="IAM policies allow named actions only: no '*' or 'service:*' actions, no "
    "NotAction, no admin managed policies, no primitive GCP roles, no '*' trust.",
    level=Level.MANDATORY,
    fix="List the exact actions and principals.",
    check=_no_iam_wildcards,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# no-static-credentials

SECRET_KEYS = re.compile(
    r"(aws_secret_access_key|aws_access_key_id|private_key|service_account_key|"
    r"google_application_credentials_json)",
    re.IGNORECASE,
)


def _no_static_credentials(
    args: ResourceValidationArgs, report: ReportViolation, _: NoConfig
) -> None:
    fix = (
        "remove the key and grant the workload a role through IRSA/EKS Pod Identity or GKE "
        "Workload Identity"
    )
    if args.resource_type in {"aws:iam/accessKey:AccessKey", "gcp:serviceaccount/key:Key"}:
        owner = get(args.props, "user") or get(args.props, "serviceAccountId")
        report(
            message(args, "(resource)", owner, "creates a long-lived static credential", fix), None
        )
        return
    if args.resource_type == SECRET:
        for field in ("data", "stringData"):
            for key in mapping(get(args.props, field)):
                value = get(args.props, field, key)
                text = str(value)
                if SECRET_KEYS.search(str(key)) or "PRIVATE KEY" in text or '"private_key"' in text:
                    report(
                        message(
                            args,
                            f"{field}.{key}",
                            "<redacted>",
                            "a cloud credential stored in a Kubernetes Secret",
                            fix,
                        ),
                        None,
                    )
        return
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for path, container in containers(spec):
        for i, env in enumerate(items(get(container, "env"))):
            name = str(get(env, "name", default=""))
            if SECRET_KEYS.search(name) and get(env, "value") is not None:
                report(
                    message(
                        args,
                        f"spec.template.spec.{path}.env[{i}] ({name})",
                        "<redacted>",
                        "a cloud credential written into the pod spec",
                        fix,
                    ),
                    None,
                )


NO_STATIC_CREDENTIALS = resource_policy(
    name="no-static-credentials",
    domain="security",
    description="No static cloud credentials: no IAM access keys, no service-account keys, no "
    "keys in Secrets or environment variables.",
    level=Level.MANDATORY,
    fix="Use workload identity instead of keys.",
    check=_no_static_credentials,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# pinned-images


class PinnedConfig(PolicyConfig):
    require_digest: bool = Field(default=False, description="images must carry @sha256 digests")


FLOATING_TAGS = {"latest", "stable", "main", "master", "edge", "nightly", "dev"}
_IMAGE = re.compile(
    r"^(?P<name>[^@]+?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?P<digest>@sha256:[a-f0-9]{64})?$"
)
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


def image_problem(image: str, *, require_digest: bool) -> str | None:
    """Why an image reference is not exactly pinned, or None."""
    m = _IMAGE.match(image)
    if m is None:
        return "is not an image reference"
    name = m.group("name")
    tag = m.group("tag")
    if "/" in name and ":" in name.rsplit("/", 1)[-1]:
        return "is not an image reference"
    if m.group("digest"):
        return None
    if require_digest:
        return "has no @sha256 digest, which this environment requires"
    if tag is None:
        return "has no tag, so it means :latest"
    if tag.lower() in FLOATING_TAGS:
        return f"uses the moving tag :{tag}"
    if not any(ch.isdigit() for ch in tag):
        return f"uses the tag :{tag}, which names no version"
    return None


def _images(args: ResourceValidationArgs) -> list[tuple[str, str]]:
    out = []
    spec = pod_spec(args.resource_type, args.props)
    if spec is not None:
        for path, container in containers(spec):
            out.append(
                (f"spec.template.spec.{path}.image", str(get(container, "image", default="")))
            )
    elif args.resource_type == "aws:sagemaker/model:Model":
        if get(args.props, "primaryContainer", "image") is not None:
            out.append(
                ("primaryContainer.image", str(get(args.props, "primaryContainer", "image")))
            )
        for i, c in enumerate(items(get(args.props, "containers"))):
            out.append((f"containers[{i}].image", str(get(c, "image", default=""))))
    return out


def _pinned_images(
    args: ResourceValidationArgs, report: ReportViolation, cfg: PinnedConfig
) -> None:
    fix = (
        "pin an exact version tag (e.g. nvcr.io/nvidia/tritonserver:24.10-py3) or a @sha256 digest"
    )
    for prop, image in _images(args):
        problem = image_problem(image, require_digest=cfg.require_digest)
        if problem:
            report(message(args, prop, image or NOT_SET, problem, fix), None)
    if args.resource_type == HELM_RELEASE:
        version = get(args.props, "version")
        if version is None or not _EXACT_VERSION.match(str(version)):
            report(
                message(
                    args,
                    "version",
                    version if version is not None else NOT_SET,
                    "the chart version is not exact, so a new chart release changes the cluster "
                    "on the next update",
                    "pin the chart's exact version (e.g. v25.3.0) in the stack file",
                ),
                None,
            )


PINNED_IMAGES = resource_policy(
    name="pinned-images",
    domain="security",
    description="Container images and Helm charts are pinned to exact versions (never latest "
    "or a moving tag).",
    level=Level.MANDATORY,
    fix="Pin exact image tags or digests and exact chart versions.",
    check=_pinned_images,
    config=PinnedConfig,
)


# ---------------------------------------------------------------------------
# cluster-secrets-encryption


def _secrets_encryption(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type == EKS_CLUSTER:
        configs = items(get(args.props, "encryptionConfig")) or (
            [get(args.props, "encryptionConfig")] if get(args.props, "encryptionConfig") else []
        )
        ok = any(
            "secrets" in _as_list(get(c, "resources")) and get(c, "provider", "keyArn")
            for c in configs
        )
        if not ok:
            report(
                message(
                    args,
                    "encryptionConfig",
                    value_or_unset(args.props, "encryptionConfig"),
                    "Kubernetes Secrets are not envelope-encrypted with a KMS key",
                    "set encryptionConfig {resources: [secrets], provider.keyArn: <stack key>}",
                ),
                None,
            )
    elif args.resource_type == GKE_CLUSTER:
        state = get(args.props, "databaseEncryption", "state")
        if str(state) != "ENCRYPTED":
            report(
                message(
                    args,
                    "databaseEncryption.state",
                    state if state is not None else NOT_SET,
                    "Kubernetes Secrets are not encrypted with a Cloud KMS key",
                    "set databaseEncryption {state: ENCRYPTED, keyName: <stack key>}",
                ),
                None,
            )


CLUSTER_SECRETS_ENCRYPTION = resource_policy(
    name="cluster-secrets-encryption",
    domain="security",
    description="Cluster Secrets are envelope-encrypted with a customer-managed KMS key.",
    level=Level.ADVISORY,
    fix="Configure KMS envelope encryption of Secrets on the cluster.",
    check=_secrets_encryption,
    config=NoConfig,
)


POLICIES = [
    IMDSV2_REQUIRED,
    ENCRYPTED_VOLUMES,
    PRIVATE_BUCKETS,
    BUCKET_KMS_ENCRYPTION,
    BUCKET_TLS_ONLY,
    PRIVATE_CLUSTER_ENDPOINT,
    SHIELDED_NODES,
    WORKLOAD_IDENTITY,
    POD_SECURITY_RESTRICTED,
    NAMESPACE_POD_SECURITY,
    TRITON_MODEL_CONTROL,
    NO_IAM_WILDCARDS,
    NO_STATIC_CREDENTIALS,
    PINNED_IMAGES,
    CLUSTER_SECRETS_ENCRYPTION,
]

_ = Named
