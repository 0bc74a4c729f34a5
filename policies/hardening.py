"""Security hardening baselines: versioned buckets, rotated keys, control-plane audit
logs, no ingress from the internet, encrypted queues, CMK-encrypted SageMaker endpoints,
IAM writes scoped to named resources, EKS access by access entries only and its VPC CNI
enforcing NetworkPolicy, GKE without legacy ABAC or the default compute service account
and with Dataplane V2 and Binary Authorization, private CMEK Vertex AI endpoints, a
default-deny NetworkPolicy in every workload namespace, and containers with a read-only
root filesystem and an explicit non-root user.

These are the gaps a scanner such as checkov reports on plain Terraform; here they are
CrossGuard rules on the plan, so ``make preview`` and ``pulumi preview`` refuse them
with the same messages. Every rule is strict by default; where a legitimate exception
exists it is a documented property of the policy (``policies/environments.yaml``),
never an ``if`` in the code.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Literal

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pydantic import Field, field_validator

from policies._lib import (
    NOT_SET,
    WORKLOAD_TYPES,
    Level,
    NoConfig,
    PolicyConfig,
    containers,
    get,
    is_list,
    items,
    json_doc,
    mapping,
    message,
    namespace_of,
    number,
    pod_spec,
    pod_spec_path,
    referrers,
    resource_policy,
    stack_policy,
    truthy,
    value_or_unset,
)
from policies._pools import GKE_NODE_POOL
from policies.cost import GCS_BUCKET, S3_BUCKETS
from policies.security import (
    EKS_CLUSTER,
    GKE_CLUSTER,
    IAM_DOCS,
    NAMESPACE,
    PodSecurityConfig,
)

# ---------------------------------------------------------------------------
# bucket-versioning

S3_VERSIONING = frozenset(
    {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    }
)


def _bucket_versioning(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for bucket in args.resources:
        if bucket.resource_type in S3_BUCKETS:
            configs = [
                r
                for r in referrers(args.resources, bucket, "bucket")
                if r.resource_type in S3_VERSIONING
            ]
            # pulumi-aws 7 still accepts the deprecated inline block on the bucket.
            inline = truthy(get(bucket.props, "versioning", "enabled")) is True
            if not configs and not inline:
                report(
                    message(
                        bucket,
                        "aws:s3/bucketVersioning:BucketVersioning",
                        NOT_SET,
                        "an overwrite or delete of a model (or of everything, by a leaked "
                        "credential) cannot be undone",
                        "add a BucketVersioning (bucket=<this bucket's id>) with "
                        "versioningConfiguration.status = Enabled",
                    ),
                    bucket.urn,
                )
            for config in configs:
                status = get(config.props, "versioningConfiguration", "status")
                if str(status) != "Enabled":
                    report(
                        message(
                            config,
                            "versioningConfiguration.status",
                            status if status is not None else NOT_SET,
                            f"versioning of bucket {bucket.name} is off, so an overwrite or "
                            "delete cannot be undone",
                            "set versioningConfiguration.status = Enabled",
                        ),
                        config.urn,
                    )
        elif bucket.resource_type == GCS_BUCKET:
            enabled = get(bucket.props, "versioning", "enabled")
            if truthy(enabled) is not True:
                report(
                    message(
                        bucket,
                        "versioning.enabled",
                        enabled if enabled is not None else NOT_SET,
                        "an overwrite or delete of an object cannot be undone",
                        "set versioning.enabled: true (lifecycleRules expire old versions)",
                    ),
                    bucket.urn,
                )


BUCKET_VERSIONING = stack_policy(
    name="bucket-versioning",
    domain="security",
    description="S3 and GCS buckets keep object versions, so an overwrite or delete can be undone.",
    level=Level.MANDATORY,
    fix="Enable versioning on the bucket.",
    check=_bucket_versioning,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# kms-key-rotation

AWS_KMS_KEY = "aws:kms/key:Key"
GCP_CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


class KeyRotationConfig(PolicyConfig):
    max_rotation_days: float = Field(
        default=365,
        ge=1,
        le=2560,
        description="longest rotation period allowed (AWS's default is 365 days)",
    )


def _kms_rotation(
    args: ResourceValidationArgs, report: ReportViolation, cfg: KeyRotationConfig
) -> None:
    limit = f"{cfg.max_rotation_days:g} days"
    if args.resource_type == AWS_KMS_KEY:
        spec = get(args.props, "customerMasterKeySpec") or get(args.props, "keySpec")
        if spec is not None and str(spec) != "SYMMETRIC_DEFAULT":
            return  # AWS rotates only symmetric encryption keys
        enabled = get(args.props, "enableKeyRotation")
        if truthy(enabled) is not True:
            report(
                message(
                    args,
                    "enableKeyRotation",
                    enabled if enabled is not None else NOT_SET,
                    "the key material never changes, so one exposure lasts for the key's life",
                    "set enableKeyRotation: true (AWS rotates yearly; rotationPeriodInDays "
                    f"shortens it, at most {limit} here)",
                ),
                None,
            )
            return
        period = number(get(args.props, "rotationPeriodInDays"))
        if period is not None and period > cfg.max_rotation_days:
            report(
                message(
                    args,
                    "rotationPeriodInDays",
                    period,
                    f"rotates less often than every {limit}",
                    f"set rotationPeriodInDays to {cfg.max_rotation_days:g} or less",
                ),
                None,
            )
    elif args.resource_type == GCP_CRYPTO_KEY:
        purpose = str(get(args.props, "purpose", default="ENCRYPT_DECRYPT"))
        if purpose != "ENCRYPT_DECRYPT":
            return  # Cloud KMS rotates only symmetric encryption keys automatically
        period = get(args.props, "rotationPeriod")
        match = _DURATION.match(str(period)) if period is not None else None
        fix = (
            f"set rotationPeriod to at most {cfg.max_rotation_days * 86400:.0f}s "
            f"({limit}), e.g. 7776000s (90 days)"
        )
        if match is None:
            report(
                message(
                    args,
                    "rotationPeriod",
                    period if period is not None else NOT_SET,
                    "the key is never rotated automatically",
                    fix,
                ),
                None,
            )
        elif float(match.group(1)) > cfg.max_rotation_days * 86400:
            report(
                message(args, "rotationPeriod", period, f"rotates less often than {limit}", fix),
                None,
            )


KMS_KEY_ROTATION = resource_policy(
    name="kms-key-rotation",
    domain="security",
    description="Customer-managed KMS keys (AWS KMS, Cloud KMS) rotate automatically, at "
    "least as often as the environment requires.",
    level=Level.MANDATORY,
    fix="Turn on automatic key rotation.",
    check=_kms_rotation,
    config=KeyRotationConfig,
)


# ---------------------------------------------------------------------------
# eks-control-plane-logs

EksLogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
REQUIRED_EKS_LOGS: tuple[EksLogType, ...] = ("api", "audit", "authenticator")
"""Who called the API (api), what changed (audit), who authenticated (authenticator)."""


class EksLogsConfig(PolicyConfig):
    required_log_types: list[EksLogType] = Field(
        default_factory=lambda: list(REQUIRED_EKS_LOGS),
        description="control-plane log types every EKS cluster must send to CloudWatch",
    )


def _eks_logs(args: ResourceValidationArgs, report: ReportViolation, cfg: EksLogsConfig) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    enabled = get(args.props, "enabledClusterLogTypes")
    have = {str(t) for t in items(enabled)}
    missing = [t for t in cfg.required_log_types if t not in have]
    if missing:
        report(
            message(
                args,
                "enabledClusterLogTypes",
                enabled if enabled is not None else NOT_SET,
                f"lacks {', '.join(missing)}: nobody can tell who called the Kubernetes API "
                "or changed the cluster",
                f"enable at least {', '.join(cfg.required_log_types)} (the EKS component "
                "enables every type; keep that list)",
            ),
            None,
        )


EKS_CONTROL_PLANE_LOGS = resource_policy(
    name="eks-control-plane-logs",
    domain="security",
    description="EKS clusters send their API, audit and authenticator control-plane logs to "
    "CloudWatch.",
    level=Level.MANDATORY,
    fix="Enable the api, audit and authenticator log types.",
    check=_eks_logs,
    config=EksLogsConfig,
)


# ---------------------------------------------------------------------------
# no-public-ingress

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
GCP_FIREWALL = "gcp:compute/firewall:Firewall"
ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
_PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17"})


class IngressConfig(PolicyConfig):
    allowed_public_ports: list[int] = Field(
        default_factory=list,
        description="TCP/UDP ports that may be open to 0.0.0.0/0 or ::/0 (a public load "
        "balancer's 443); none by default",
    )

    @field_validator("allowed_public_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        bad = [p for p in ports if not 0 < p < 65536]
        if bad:
            raise ValueError(f"ports are 1-65535, got {bad}")
        return ports


def _ports_allowed(protocol: Any, low: Any, high: Any, allowed: set[int]) -> bool:
    """Whether a rule's protocol and port range stay within the allowed ports."""
    if str(protocol).lower() not in _PORT_PROTOCOLS:
        return False  # every protocol (-1, all) or ICMP: no port to allow
    lo, hi = number(low), number(high)
    if lo is None or hi is None or hi < lo or hi - lo + 1 > len(allowed):
        return False
    return all(p in allowed for p in range(int(lo), int(hi) + 1))


def _gcp_ports(ports: list[str]) -> list[tuple[int, int]] | None:
    spans = []
    for text in ports:
        low, _, high = text.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        spans.append((int(low), int(high or low)))
    return spans


def _no_public_ingress(
    args: ResourceValidationArgs, report: ReportViolation, cfg: IngressConfig
) -> None:
    allowed = set(cfg.allowed_public_ports)
    shown_ports = ", ".join(map(str, sorted(allowed))) or "none"
    fix = (
        "allow the VPC's CIDR or a source security group instead (reach the service through "
        "a load balancer); a public load balancer's ports go in no-public-ingress."
        f"allowedPublicPorts of policies/environments.yaml (allowed here: {shown_ports})"
    )
    problem = "admits the whole internet on ports (or protocols) not allowed to be public"
    rules: list[tuple[str, list[str], Any, Any, Any]] = []
    rtype = args.resource_type
    if rtype == SECURITY_GROUP:
        for i, rule in enumerate(items(get(args.props, "ingress"))):
            sources = [str(c) for c in items(get(rule, "cidrBlocks"))] + [
                str(c) for c in items(get(rule, "ipv6CidrBlocks"))
            ]
            rules.append(
                (
                    f"ingress[{i}]",
                    sources,
                    get(rule, "protocol"),
                    get(rule, "fromPort"),
                    get(rule, "toPort"),
                )
            )
    elif rtype == SG_INGRESS_RULE:
        sources = [str(s) for s in (get(args.props, "cidrIpv4"), get(args.props, "cidrIpv6")) if s]
        rules.append(
            (
                "cidrIpv4/cidrIpv6",
                sources,
                get(args.props, "ipProtocol"),
                get(args.props, "fromPort"),
                get(args.props, "toPort"),
            )
        )
    elif rtype == SG_RULE and str(get(args.props, "type")) == "ingress":
        sources = [str(c) for c in items(get(args.props, "cidrBlocks"))] + [
            str(c) for c in items(get(args.props, "ipv6CidrBlocks"))
        ]
        rules.append(
            (
                "cidrBlocks",
                sources,
                get(args.props, "protocol"),
                get(args.props, "fromPort"),
                get(args.props, "toPort"),
            )
        )
    elif rtype == GCP_FIREWALL:
        if str(get(args.props, "direction", default="INGRESS")) != "INGRESS":
            return
        if truthy(get(args.props, "disabled")) is True:
            return
        sources = [str(s) for s in items(get(args.props, "sourceRanges"))]
        if not ANYWHERE & set(sources):
            return
        for i, allow in enumerate(items(get(args.props, "allows"))):
            protocol = get(allow, "protocol")
            spans = _gcp_ports([str(p) for p in items(get(allow, "ports"))])
            ok = bool(spans) and all(
                _ports_allowed(protocol, lo, hi, allowed) for lo, hi in (spans or [])
            )
            if not ok:
                report(
                    message(
                        args,
                        f"sourceRanges + allows[{i}]",
                        {"sourceRanges": sorted(ANYWHERE & set(sources)), "allow": allow},
                        problem,
                        fix,
                    ),
                    None,
                )
        return
    for prop, sources, protocol, low, high in rules:
        open_to = sorted(ANYWHERE & set(sources))
        if open_to and not _ports_allowed(protocol, low, high, allowed):
            report(
                message(
                    args,
                    prop,
                    {"from": open_to, "protocol": protocol, "ports": [low, high]},
                    problem,
                    fix,
                ),
                None,
            )


NO_PUBLIC_INGRESS = resource_policy(
    name="no-public-ingress",
    domain="security",
    description="No security group rule or firewall admits traffic from 0.0.0.0/0 or ::/0, "
    "except on the ports the environment allows for a public load balancer (none by default).",
    level=Level.MANDATORY,
    fix="Restrict the source to private ranges or allow-list the port.",
    check=_no_public_ingress,
    config=IngressConfig,
)


# ---------------------------------------------------------------------------
# queue-encryption

SQS_QUEUE = "aws:sqs/queue:Queue"


def _queue_encryption(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != SQS_QUEUE:
        return
    if get(args.props, "kmsMasterKeyId"):
        return
    managed = get(args.props, "sqsManagedSseEnabled")
    if truthy(managed) is not True:
        report(
            message(
                args,
                "sqsManagedSseEnabled",
                managed if managed is not None else NOT_SET,
                "messages are stored unencrypted, or encrypted only by an account default "
                "that the code does not state",
                "set sqsManagedSseEnabled: true, or kmsMasterKeyId to a customer-managed key",
            ),
            None,
        )


QUEUE_ENCRYPTION = resource_policy(
    name="queue-encryption",
    domain="security",
    description="SQS queues encrypt their messages at rest (SQS-managed SSE or a KMS key), "
    "stated in the code.",
    level=Level.MANDATORY,
    fix="Set sqsManagedSseEnabled: true or a kmsMasterKeyId.",
    check=_queue_encryption,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# iam-scoped-writes

_READ_VERBS = ("describe", "list", "get")
SENSITIVE_READS = (
    "s3:getobject",
    "s3:getobjectversion",
    "secretsmanager:getsecretvalue",
    "ssm:getparameter",
    "ssm:getparameters",
    "ssm:getparametersbypath",
)
"""Reads that return data, not metadata: on Resource '*' they read every object or secret."""


class IamScopeConfig(PolicyConfig):
    unscopable_actions: list[str] = Field(
        default_factory=lambda: ["cloudwatch:PutMetricData"],
        description="write actions AWS cannot scope to a resource ARN (allowed on '*')",
    )
    exempt_statements: dict[str, str] = Field(
        default_factory=dict,
        description="'<resource name glob>#<statement Sid>' -> why it is accepted for now",
    )

    @field_validator("exempt_statements")
    @classmethod
    def _exemptions(cls, value: dict[str, str]) -> dict[str, str]:
        for key, why in value.items():
            name, _, sid = key.partition("#")
            if not name or not sid:
                raise ValueError(f"{key!r}: keys are '<resource name glob>#<statement Sid>'")
            if len(why.strip()) < 20:
                raise ValueError(f"{key!r}: say why the statement is accepted, and until when")
        return value


def _read_only(action: str) -> bool:
    service, _, name = action.lower().partition(":")
    if not service or not name.startswith(_READ_VERBS):
        return False
    return not any(fnmatch.fnmatchcase(s, action.lower()) for s in SENSITIVE_READS)


def exempt(cfg: IamScopeConfig, resource_name: str, sid: Any) -> bool:
    """Whether a statement (by its resource's name and its Sid) is in the exemption list."""
    if not isinstance(sid, str) or not sid:
        return False
    for key in cfg.exempt_statements:
        pattern, _, want = key.partition("#")
        if want == sid and fnmatch.fnmatchcase(resource_name, pattern):
            return True
    return False


def _as_strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if is_list(value) else [str(value)]


def _statements(doc: Any) -> list[Any]:
    stmts = get(doc, "Statement")
    return items(stmts) if is_list(stmts) else ([stmts] if stmts is not None else [])


def _iam_scoped_writes(
    args: ResourceValidationArgs, report: ReportViolation, cfg: IamScopeConfig
) -> None:
    docs: list[tuple[str, Any]] = []
    if args.resource_type in IAM_DOCS:
        docs.append(("policy", json_doc(get(args.props, IAM_DOCS[args.resource_type]))))
    elif args.resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(items(get(args.props, "inlinePolicies"))):
            docs.append((f"inlinePolicies[{i}].policy", json_doc(get(inline, "policy"))))
    unscopable = {a.lower() for a in cfg.unscopable_actions}
    for prop, doc in docs:
        for i, stmt in enumerate(_statements(doc)):
            if get(stmt, "Effect") != "Allow":
                continue
            resources = _as_strings(get(stmt, "Resource"))
            if "*" not in resources and get(stmt, "NotResource") is None:
                continue
            if get(stmt, "NotAction") is not None:
                writes = ["NotAction"]
            else:
                writes = [
                    a
                    for a in _as_strings(get(stmt, "Action"))
                    if not _read_only(a) and a.lower() not in unscopable
                ]
            sid = get(stmt, "Sid")
            if not writes or exempt(cfg, args.name, sid):
                continue
            passrole = any(fnmatch.fnmatchcase("iam:passrole", a.lower()) for a in writes)
            where = f"{prop}.Statement[{i}]" + (f" (Sid {sid})" if sid else "") + ".Action"
            report(
                message(
                    args,
                    where,
                    writes,
                    "writes on Resource '*', every resource of that kind in the account"
                    + (
                        "; iam:PassRole on '*' hands any role, an administrator's too, to a "
                        "service the holder controls"
                        if passrole
                        else ""
                    ),
                    "name the ARNs the role changes (e.g. arn:aws:ec2:<region>:<account>:"
                    "instance/* with an aws:ResourceTag condition; PassRole: the one role "
                    "passed); only Describe/List/Get (metadata reads) may use '*'",
                ),
                None,
            )


IAM_SCOPED_WRITES = resource_policy(
    name="iam-scoped-writes",
    domain="security",
    description="IAM policies grant write actions and iam:PassRole on named resources only; "
    "Resource '*' is for Describe/List/Get metadata reads.",
    level=Level.MANDATORY,
    fix="Scope write actions and PassRole to resource ARNs.",
    check=_iam_scoped_writes,
    config=IamScopeConfig,
)


# ---------------------------------------------------------------------------
# eks-access-entries


def _eks_access_entries(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    mode = get(args.props, "accessConfig", "authenticationMode")
    if mode != "API":
        report(
            message(
                args,
                "accessConfig.authenticationMode",
                mode if mode is not None else NOT_SET,
                "the aws-auth ConfigMap grants cluster access outside the plan, edited by "
                "anyone who can write to kube-system",
                "set authenticationMode: API and grant access with EKS access entries",
            ),
            None,
        )
    bootstrap = get(args.props, "accessConfig", "bootstrapClusterCreatorAdminPermissions")
    if truthy(bootstrap) is not False:
        report(
            message(
                args,
                "accessConfig.bootstrapClusterCreatorAdminPermissions",
                bootstrap if bootstrap is not None else NOT_SET,
                "the identity that creates the cluster keeps a cluster-admin that appears in "
                "no access entry of the plan and cannot be revoked (EKS's default is true)",
                "set it to false and list the role Pulumi runs as in "
                "clusters.<name>.adminRoleArns (an access entry); on an existing cluster this "
                "replaces the cluster",
            ),
            None,
        )


EKS_ACCESS_ENTRIES = resource_policy(
    name="eks-access-entries",
    domain="security",
    description="EKS clusters grant access by access entries only: authentication mode API, "
    "no hidden cluster-admin for the cluster's creator.",
    level=Level.MANDATORY,
    fix="Set accessConfig.authenticationMode API and bootstrapClusterCreatorAdminPermissions "
    "false.",
    check=_eks_access_entries,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# eks-network-policy-enforced

EKS_ADDON = "aws:eks/addon:Addon"


def _eks_network_policy(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for cluster in args.resources:
        if cluster.resource_type != EKS_CLUSTER:
            continue
        cnis = [
            a
            for a in referrers(args.resources, cluster, "clusterName")
            if a.resource_type == EKS_ADDON and get(a.props, "addonName") == "vpc-cni"
        ]
        if any(
            str(get(json_doc(get(a.props, "configurationValues")), "enableNetworkPolicy")).lower()
            == "true"
            for a in cnis
        ):
            continue
        value = get(cnis[0].props, "configurationValues") if cnis else None
        report(
            message(
                cluster,
                "aws:eks/addon:Addon vpc-cni configurationValues.enableNetworkPolicy",
                value if value is not None else NOT_SET,
                "the VPC CNI enforces no NetworkPolicy: the namespaces' default-deny policies "
                "are accepted and ignored",
                "add the managed vpc-cni add-on (pinned addonVersion) with configurationValues "
                '{"enableNetworkPolicy": "true"} (its version: blueprint/catalog/eks_addons.yaml)',
            ),
            cluster.urn,
        )


EKS_NETWORK_POLICY_ENFORCED = stack_policy(
    name="eks-network-policy-enforced",
    domain="security",
    description="EKS clusters run the managed VPC CNI with its network policy agent on, so "
    "NetworkPolicies are enforced.",
    level=Level.MANDATORY,
    fix="Add the vpc-cni add-on with enableNetworkPolicy true.",
    check=_eks_network_policy,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# namespace-default-deny

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


class DefaultDenyConfig(PolicyConfig):
    exempt_namespaces: list[str] = Field(
        default_factory=list,
        description="namespaces the plan creates whose pods need flows a default deny would "
        "cut (say why in policies/environments.yaml)",
    )


def _empty(value: Any) -> bool:
    return value is None or len(value) == 0


def _denies_all(props: Any) -> bool:
    """A NetworkPolicy that selects every pod and allows nothing, in and out."""
    spec = get(props, "spec")
    selector = get(spec, "podSelector")
    selects_all = (
        isinstance(selector, Mapping)
        and _empty(get(selector, "matchLabels"))
        and _empty(get(selector, "matchExpressions"))
    )
    types = {str(t) for t in items(get(spec, "policyTypes"))}
    return (
        selects_all
        and {"Ingress", "Egress"} <= types
        and _empty(get(spec, "ingress"))
        and _empty(get(spec, "egress"))
    )


def _provider_urn(res: Any) -> str | None:
    provider = getattr(res, "provider", None)
    return getattr(provider, "urn", None) if provider is not None else None


def _namespace_default_deny(
    args: StackValidationArgs, report: ReportViolation, cfg: DefaultDenyConfig
) -> None:
    denied = {
        (_provider_urn(r), str(get(r.props, "metadata", "namespace")))
        for r in args.resources
        if r.resource_type == NETWORK_POLICY and _denies_all(r.props)
    }
    for ns in args.resources:
        if ns.resource_type != NAMESPACE:
            continue
        name = str(get(ns.props, "metadata", "name", default=ns.name))
        if name in cfg.exempt_namespaces or (_provider_urn(ns), name) in denied:
            continue
        report(
            message(
                ns,
                f"NetworkPolicy in namespace {name}",
                NOT_SET,
                "no default-deny policy: every pod of the namespace accepts connections from "
                "any pod of the cluster and may connect anywhere",
                "add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and "
                "no rules, then allow the namespace's real flows "
                "(components/k8s/netpol.py isolation())",
            ),
            ns.urn,
        )


NAMESPACE_DEFAULT_DENY = stack_policy(
    name="namespace-default-deny",
    domain="security",
    description="Every namespace the plan creates has a default-deny NetworkPolicy (ingress "
    "and egress), its real flows allowed by name; exempt namespaces are configured.",
    level=Level.MANDATORY,
    fix="Add a default-deny NetworkPolicy to the namespace and allow its flows.",
    check=_namespace_default_deny,
    config=DefaultDenyConfig,
)


# ---------------------------------------------------------------------------
# sagemaker-endpoint-cmk

SAGEMAKER_ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def _sagemaker_cmk(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != SAGEMAKER_ENDPOINT_CONFIG:
        return
    key = get(args.props, "kmsKeyArn")
    if not key:
        report(
            message(
                args,
                "kmsKeyArn",
                key if key is not None else NOT_SET,
                "SageMaker encrypts what it stores for the endpoint with an AWS-owned key, "
                "which no key policy or CloudTrail entry of the account governs",
                "set kmsKeyArn to a customer-managed key (the model store's) whose policy "
                "lets the deploying role use it through SageMaker; on an existing endpoint "
                "this creates a new configuration and updates the endpoint to it",
            ),
            None,
        )


SAGEMAKER_ENDPOINT_CMK = resource_policy(
    name="sagemaker-endpoint-cmk",
    domain="security",
    description="SageMaker endpoint configurations encrypt with a customer-managed KMS key.",
    level=Level.MANDATORY,
    fix="Set kmsKeyArn to a customer-managed KMS key.",
    check=_sagemaker_cmk,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# gke-no-legacy-abac


def _gke_legacy_abac(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != GKE_CLUSTER:
        return
    value = get(args.props, "enableLegacyAbac")
    if truthy(value) is True:
        report(
            message(
                args,
                "enableLegacyAbac",
                value,
                "legacy ABAC grants broad static permissions that bypass Kubernetes RBAC",
                "remove enableLegacyAbac (off by default) and grant access with RBAC roles",
            ),
            None,
        )


GKE_NO_LEGACY_ABAC = resource_policy(
    name="gke-no-legacy-abac",
    domain="security",
    description="GKE clusters authorize with RBAC only: legacy ABAC stays off.",
    level=Level.MANDATORY,
    fix="Turn legacy ABAC off.",
    check=_gke_legacy_abac,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# gke-dataplane-v2 and gke-binary-authorization

ADVANCED_DATAPATH = "ADVANCED_DATAPATH"
BINAUTHZ_ENFORCE = "PROJECT_SINGLETON_POLICY_ENFORCE"


def _gke_dataplane_v2(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != GKE_CLUSTER:
        return
    provider = get(args.props, "datapathProvider")
    if provider != ADVANCED_DATAPATH:
        report(
            message(
                args,
                "datapathProvider",
                provider if provider is not None else NOT_SET,
                "the legacy dataplane enforces no NetworkPolicy: the namespaces' default-deny "
                "policies are accepted and ignored",
                f"set datapathProvider: {ADVANCED_DATAPATH} (GKE Dataplane V2; on an existing "
                "cluster this replaces it)",
            ),
            None,
        )
    addon = get(args.props, "networkPolicy", "enabled")
    if truthy(addon) is True:
        report(
            message(
                args,
                "networkPolicy.enabled",
                addon,
                "the Calico network-policy add-on conflicts with Dataplane V2, which GKE "
                "refuses together",
                "remove networkPolicy: Dataplane V2 enforces NetworkPolicy itself",
            ),
            None,
        )


GKE_DATAPLANE_V2 = resource_policy(
    name="gke-dataplane-v2",
    domain="security",
    description="GKE clusters run Dataplane V2, which enforces Kubernetes NetworkPolicy, "
    "without the conflicting Calico add-on.",
    level=Level.MANDATORY,
    fix="Set datapathProvider ADVANCED_DATAPATH and leave networkPolicy unset.",
    check=_gke_dataplane_v2,
    config=NoConfig,
)


def _gke_binary_authorization(
    args: ResourceValidationArgs, report: ReportViolation, _: NoConfig
) -> None:
    if args.resource_type != GKE_CLUSTER:
        return
    mode = get(args.props, "binaryAuthorization", "evaluationMode")
    # The deprecated boolean means the same as the enforcing mode, and only without a mode.
    legacy = mode is None and truthy(get(args.props, "binaryAuthorization", "enabled")) is True
    if mode != BINAUTHZ_ENFORCE and not legacy:
        report(
            message(
                args,
                "binaryAuthorization.evaluationMode",
                mode if mode is not None else NOT_SET,
                "pods are admitted with any image, from any registry, without the project's "
                "Binary Authorization policy",
                f"set binaryAuthorization.evaluationMode: {BINAUTHZ_ENFORCE} and write the "
                "project's policy (allowed registries or attestors)",
            ),
            None,
        )


GKE_BINARY_AUTHORIZATION = resource_policy(
    name="gke-binary-authorization",
    domain="security",
    description="GKE clusters admit pods only through the project's Binary Authorization "
    "policy (enforcing evaluation mode).",
    level=Level.MANDATORY,
    fix="Set binaryAuthorization.evaluationMode PROJECT_SINGLETON_POLICY_ENFORCE.",
    check=_gke_binary_authorization,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# gke-node-service-account

_DEFAULT_COMPUTE_SA = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")


def _default_sa(value: Any) -> bool:
    return value is None or str(value) == "default" or bool(_DEFAULT_COMPUTE_SA.match(str(value)))


def _gke_node_sa(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    checks: list[tuple[str, Any]] = []
    if args.resource_type == GKE_NODE_POOL:
        checks.append(
            ("nodeConfig.serviceAccount", get(args.props, "nodeConfig", "serviceAccount"))
        )
    elif args.resource_type == GKE_CLUSTER:
        if truthy(get(args.props, "removeDefaultNodePool")) is not True and not truthy(
            get(args.props, "enableAutopilot")
        ):
            checks.append(
                ("nodeConfig.serviceAccount", get(args.props, "nodeConfig", "serviceAccount"))
            )
        for i, pool in enumerate(items(get(args.props, "nodePools"))):
            checks.append(
                (
                    f"nodePools[{i}].nodeConfig.serviceAccount",
                    get(pool, "nodeConfig", "serviceAccount"),
                )
            )
        if truthy(get(args.props, "clusterAutoscaling", "enabled")) is True:
            checks.append(
                (
                    "clusterAutoscaling.autoProvisioningDefaults.serviceAccount",
                    get(
                        args.props,
                        "clusterAutoscaling",
                        "autoProvisioningDefaults",
                        "serviceAccount",
                    ),
                )
            )
    for prop, value in checks:
        if _default_sa(value):
            report(
                message(
                    args,
                    prop,
                    value if value is not None else NOT_SET,
                    "nodes run as the Compute Engine default service account, which has Editor "
                    "on the project",
                    "set it to the cluster's node service account (granted only "
                    "roles/container.defaultNodeServiceAccount)",
                ),
                None,
            )


GKE_NODE_SERVICE_ACCOUNT = resource_policy(
    name="gke-node-service-account",
    domain="security",
    description="GKE nodes run as a dedicated least-privilege service account, never the "
    "Compute Engine default one.",
    level=Level.MANDATORY,
    fix="Give node pools the cluster's node service account.",
    check=_gke_node_sa,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# vertex-private-cmek

VERTEX_ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"


def _vertex_private_cmek(
    args: ResourceValidationArgs, report: ReportViolation, _: NoConfig
) -> None:
    if args.resource_type != VERTEX_ENDPOINT:
        return
    key = get(args.props, "encryptionSpec", "kmsKeyName")
    if not key:
        report(
            message(
                args,
                "encryptionSpec.kmsKeyName",
                value_or_unset(args.props, "encryptionSpec", "kmsKeyName"),
                "the endpoint's data is encrypted with a Google-managed key, outside the "
                "stack's key rotation and revocation",
                "set encryptionSpec.kmsKeyName to the stack's Cloud KMS key",
            ),
            None,
        )
    psc = truthy(get(args.props, "privateServiceConnectConfig", "enablePrivateServiceConnect"))
    if not get(args.props, "network") and psc is not True:
        report(
            message(
                args,
                "network / privateServiceConnectConfig",
                NOT_SET,
                "the endpoint is public: anyone with a token reaches it from the internet",
                "set privateServiceConnectConfig.enablePrivateServiceConnect: true (with "
                "projectAllowlists) or a peered network",
            ),
            None,
        )


VERTEX_PRIVATE_CMEK = resource_policy(
    name="vertex-private-cmek",
    domain="security",
    description="Vertex AI endpoints are private (Private Service Connect or a peered network) "
    "and encrypted with a customer-managed key.",
    level=Level.MANDATORY,
    fix="Make the endpoint private and set its CMEK key.",
    check=_vertex_private_cmek,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# read-only-root-filesystem and non-root-user


def _read_only_root(
    args: ResourceValidationArgs, report: ReportViolation, cfg: PodSecurityConfig
) -> None:
    if args.resource_type not in WORKLOAD_TYPES:
        return
    if namespace_of(args.props) in cfg.exempt_namespaces:
        return
    spec = pod_spec(args.resource_type, args.props) or {}
    base = pod_spec_path(args.resource_type)
    for path, container in containers(spec):
        value = get(container, "securityContext", "readOnlyRootFilesystem")
        if truthy(value) is not True:
            name = get(container, "name", default="?")
            report(
                message(
                    args,
                    f"{base}.{path}.securityContext.readOnlyRootFilesystem (container {name})",
                    value if value is not None else NOT_SET,
                    "an attacker in the container can replace its binaries and libraries",
                    "set readOnlyRootFilesystem: true and mount an emptyDir where the process "
                    "writes (/tmp, caches, HOME)",
                ),
                None,
            )


READ_ONLY_ROOT_FILESYSTEM = resource_policy(
    name="read-only-root-filesystem",
    domain="security",
    description="Every container (init containers too) runs with a read-only root "
    "filesystem, writing only to mounted volumes, except in the allowlisted system "
    "namespaces.",
    level=Level.MANDATORY,
    fix="Set readOnlyRootFilesystem: true and mount emptyDirs for scratch space.",
    check=_read_only_root,
    config=PodSecurityConfig,
)


def _non_root_user(
    args: ResourceValidationArgs, report: ReportViolation, cfg: PodSecurityConfig
) -> None:
    if args.resource_type not in WORKLOAD_TYPES:
        return
    spec = pod_spec(args.resource_type, args.props) or {}
    base = pod_spec_path(args.resource_type)
    pod_sc = mapping(get(spec, "securityContext"))
    exempt_ns = namespace_of(args.props) in cfg.exempt_namespaces
    for path, container in containers(spec):
        sc = mapping(get(container, "securityContext"))
        name = get(container, "name", default="?")
        # A container's securityContext overrides the pod's, key by key.
        non_root = truthy(get(sc, "runAsNonRoot", default=get(pod_sc, "runAsNonRoot")))
        user = get(sc, "runAsUser", default=get(pod_sc, "runAsUser"))
        uid = number(user)
        where = f"{base}.{path}.securityContext.runAsUser (container {name})"
        if uid == 0 and (non_root is True or not exempt_ns):
            report(
                message(
                    args,
                    where,
                    user,
                    "runs as root"
                    + (", which runAsNonRoot then refuses to start" if non_root else ""),
                    "set runAsUser to the image's non-root UID (e.g. 1000) with runAsNonRoot: true",
                ),
                None,
            )
        elif non_root is True and user is None:
            report(
                message(
                    args,
                    where,
                    NOT_SET,
                    "runAsNonRoot without a user leaves the UID to the image: a named USER "
                    "(e.g. triton-server) fails to start and USER 0 is refused at run time, "
                    "not in review",
                    "set runAsUser (and runAsGroup) to the image's non-root UID, on the pod or "
                    "the container",
                ),
                None,
            )


NON_ROOT_USER = resource_policy(
    name="non-root-user",
    domain="security",
    description="Containers that run as non-root name their user: runAsNonRoot comes with a "
    "non-zero runAsUser (the container's overriding the pod's), and no container runs as "
    "UID 0 outside the allowlisted system namespaces.",
    level=Level.MANDATORY,
    fix="Set runAsUser to a non-zero UID wherever runAsNonRoot is set.",
    check=_non_root_user,
    config=PodSecurityConfig,
)


POLICIES = [
    BUCKET_VERSIONING,
    KMS_KEY_ROTATION,
    EKS_CONTROL_PLANE_LOGS,
    NO_PUBLIC_INGRESS,
    QUEUE_ENCRYPTION,
    SAGEMAKER_ENDPOINT_CMK,
    IAM_SCOPED_WRITES,
    EKS_ACCESS_ENTRIES,
    EKS_NETWORK_POLICY_ENFORCED,
    NAMESPACE_DEFAULT_DENY,
    GKE_NO_LEGACY_ABAC,
    GKE_DATAPLANE_V2,
    GKE_BINARY_AUTHORIZATION,
    GKE_NODE_SERVICE_ACCOUNT,
    VERTEX_PRIVATE_CMEK,
    READ_ONLY_ROOT_FILESYSTEM,
    NON_ROOT_USER,
]
