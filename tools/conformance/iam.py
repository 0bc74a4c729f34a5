"""IAM and KMS in the plans: policies that lint, conditions that can match, keys that work.

The mocks accept any policy document, so a condition that can never match, an action
that does not exist or a key its users cannot use shows up only when a real node,
pod or endpoint fails. Three checks:

- ``iam-lint``: every IAM policy document of every plan (identity policies, trust
  policies, bucket, queue, topic and key policies) through ``parliament`` (1.6.4, its
  own IAM definition): unknown actions and prefixes, condition keys an action does not
  take, operators on values of the wrong type, resources of the wrong format. The few
  parliament issues that are no fault of the policy are accepted by name in
  :data:`ACCEPTED`, each with why.
- ``iam-conditions``: condition values parliament cannot judge and that would never
  match a request of the stack: ``kms:ViaService`` must be ``<service>.<region>.<dns
  suffix>`` of the stack's region; ``aws:RequestedRegion`` the stack's region; ``Bool``
  only ``true``/``false``; ``iam:PassedToService`` a service principal; ARNs in
  conditions and resources in the stack's partition, global services (IAM, S3, Route
  53) without a region, accounts of 12 digits; IRSA trust conditions on the issuer of
  the federated provider they trust, with ``aud`` ``sts.amazonaws.com`` and ``sub``
  ``system:serviceaccount:<namespace>:<name>``.
- ``kms-key-usable``: every customer-managed key is usable by the service that must
  use it. An EBS volume a launch template encrypts with a key in the plan is launched
  by the Auto Scaling service-linked role (EKS managed node groups) through EC2, so
  the key policy must allow it (``kms:CreateGrant`` for an AWS resource,
  ``kms:GenerateDataKeyWithoutPlaintext``, ``kms:Decrypt``...) with the request's
  context (``kms:ViaService`` ``ec2.<region>.amazonaws.com``, the account); a key
  without a policy gets KMS's default one, which that role's own policy never
  satisfies. A Karpenter EC2NodeClass naming a key needs the same for its controller.
  GCP: the service agent of GKE (Secrets), GCS (the bucket's default key) and Vertex
  AI (endpoints, models, monitoring) holds ``roles/cloudkms.cryptoKeyEncrypterDecrypter``
  on the key, and the resource waits for that grant.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.gcp.kms import ENCRYPTER_DECRYPTER
from tools.conformance.base import Check, Finding, MissingFacts
from tools.preview.recorder import Plan

POLICY_INPUTS: Mapping[str, tuple[str, ...]] = {
    "aws:iam/role:Role": ("assumeRolePolicy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:kms/key:Key": ("policy",),
}
"""Every input that holds an IAM policy document."""

TRUST = "assumeRolePolicy"


@dataclass(frozen=True)
class Accepted:
    issue: str
    why: str
    applies: str = "any"
    """``any``, ``trust`` (trust policies only) or a regular expression on the detail."""


ACCEPTED: tuple[Accepted, ...] = (
    Accepted(
        "RESOURCE_STAR",
        "style, not a fault: actions without resource-level permissions "
        "(ec2:Describe*, ecr:GetAuthorizationToken) or conditioned instead",
    ),
    Accepted("RESOURCE_EFFECTIVELY_STAR", "style, as RESOURCE_STAR"),
    Accepted("MISMATCHED_TYPE_BUT_USABLE", "parliament says usable"),
    Accepted(
        "MALFORMED",
        "trust policies carry no Resource (parliament reads every document as an identity policy)",
        "trust",
    ),
    Accepted(
        "UNKNOWN_FEDERATION_SOURCE",
        "EKS IRSA trusts the cluster's own OIDC provider, which parliament's list cannot know "
        "(iam-conditions checks the provider and its conditions)",
        r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/oidc\.eks\.",
    ),
    Accepted(
        "RESOURCE_MISMATCH",
        "AWS's public SSM parameters (AMI ids) have no account in their ARN: "
        "arn:aws:ssm:<region>::parameter/aws/service/..., which parliament's format refuses",
        r"ssm:GetParameter",
    ),
    Accepted(
        "RESOURCE_MISMATCH",
        "ec2:RunInstances and ec2:CreateFleet touch several resources per call (image, subnet, "
        "security group, launch template, instance, volume, network interface, fleet); IAM "
        "authorizes each resource against every statement, so Karpenter's reference policy "
        "grants them in statements of their own, each with its tag conditions. Parliament "
        "wants every resource type in each statement, which would drop those conditions",
        r"^\[(\{'action': 'ec2:(RunInstances|CreateFleet)', 'required_format': '[^']*'\}(, )?)+\]$",
    ),
)


def documents(plan: Plan) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    """``(resource, input, parsed document)`` of every policy document in ``plan``."""
    for resource in plan.resources:
        for field in POLICY_INPUTS.get(resource["type"], ()):
            text = resource["inputs"].get(field)
            if isinstance(text, str) and text.strip():
                yield resource, field, json.loads(text)


def _accepted(issue: str, detail: str, field: str) -> Accepted | None:
    for rule in ACCEPTED:
        if rule.issue != issue:
            continue
        if rule.applies == "any" or (rule.applies == "trust" and field == TRUST):
            return rule
        if rule.applies not in {"any", "trust"} and re.search(rule.applies, detail):
            return rule
    return None


class Lint:
    """``iam-lint``: parliament on every policy document."""

    name = "iam-lint"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        from parliament import analyze_policy_string, enhance_finding  # noqa: PLC0415

        findings = []
        for plan in plans.values():
            for resource, field, doc in documents(plan):
                result = analyze_policy_string(json.dumps(doc))
                for f in result.findings:
                    issue = str(f.issue)
                    detail = str(f.detail)
                    if _accepted(issue, detail, field):
                        continue
                    severity = enhance_finding(f).severity
                    findings.append(
                        Finding.at(
                            plan,
                            resource,
                            field,
                            f"parliament {issue} ({severity}): {detail}",
                        )
                    )
        return findings


# ---------------------------------------------------------------------------
# Conditions and ARNs

GLOBAL_SERVICES = frozenset({"iam", "s3", "route53", "cloudfront", "organizations", "sts"})
"""Services whose ARNs have no region (S3 buckets and objects, IAM, Route 53)."""
BOOL_VALUES = frozenset({"true", "false"})
ARN = re.compile(
    r"arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):.+"
)
REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
DNS_SUFFIXES = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}


@dataclass(frozen=True)
class Context:
    """What a request of this stack carries: its partition and region."""

    partition: str
    region: str

    @property
    def suffix(self) -> str:
        return DNS_SUFFIXES.get(self.partition, "amazonaws.com")


def aws_context(plan: Plan, resource: Mapping[str, Any]) -> Context | None:
    """The partition and region of ``resource``'s AWS provider (None for other clouds)."""
    provider = resource.get("provider")
    for r in plan.resources:
        if r["urn"] == provider and r["type"] == "pulumi:providers:aws":
            region = str(r["inputs"].get("region") or "us-east-1")
            partition = "aws-cn" if region.startswith("cn-") else "aws"
            partition = "aws-us-gov" if region.startswith("us-gov-") else partition
            return Context(partition, region)
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in _as_list(doc.get("Statement"))]


def condition_problems(
    statement: Mapping[str, Any], ctx: Context, *, trust: bool
) -> Iterator[tuple[str, str, Any]]:
    """``(path, why it never matches, value)`` for the conditions of ``statement``."""
    conditions = statement.get("Condition") or {}
    for operator, block in conditions.items():
        base = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        base = base.removesuffix("IfExists")
        for key, raw in (block or {}).items():
            where = f"Condition.{operator}.{key}"
            for value in _as_list(raw):
                text = str(value)
                problem = _value_problem(base, key, text, ctx)
                if problem:
                    yield where, problem, value
    if trust:
        yield from _irsa_problems(statement)


def _value_problem(  # noqa: PLR0911 (one return per rule)
    operator: str, key: str, value: str, ctx: Context
) -> str | None:
    lower = key.lower()
    if operator == "Bool" and value.lower() not in BOOL_VALUES:
        return "a Bool condition takes true or false"
    if lower == "kms:viaservice":
        m = re.fullmatch(r"(?P<svc>[a-z0-9-]+)\.(?P<region>[^.]+)\.(?P<suffix>.+)", value)
        if m is None or not REGION.fullmatch(m["region"]):
            return (
                f"never matches: kms:ViaService is the calling service's regional endpoint, "
                f"<service>.{ctx.region}.{ctx.suffix}"
            )
        if m["region"] != ctx.region or m["suffix"] != ctx.suffix:
            return f"never matches a request of this stack (region {ctx.region}, {ctx.suffix})"
    requested = lower == "aws:requestedregion" and operator.startswith("String")
    if requested and "*" not in value and value != ctx.region:
        return f"never matches: the stack runs in {ctx.region}"
    if lower == "iam:passedtoservice" and not re.fullmatch(
        r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", value
    ):
        return "never matches: iam:PassedToService is a service principal (ec2.amazonaws.com)"
    if lower in {
        "kms:calleraccount",
        "aws:sourceaccount",
        "aws:resourceaccount",
    } and not re.fullmatch(r"\d{12}", value):
        return "never matches: an account is 12 digits"
    if value.startswith("arn:"):
        return arn_problem(value, ctx)
    return None


def arn_problem(arn: str, ctx: Context) -> str | None:
    """Why ``arn`` (a resource or a condition value) names nothing of this stack, or None."""
    m = ARN.fullmatch(arn)
    if m is None:
        return "not an ARN (arn:partition:service:region:account:resource)"
    partition, service, region, account = m["partition"], m["service"], m["region"], m["account"]
    if partition not in {ctx.partition, "*"}:
        return f"never matches: the stack's partition is {ctx.partition}, not {partition}"
    if service in GLOBAL_SERVICES and region not in {"", "*"}:
        return f"never matches: {service} ARNs have no region"
    if region and "*" not in region and not REGION.fullmatch(region):
        return f"not a region: {region}"
    if account and "*" not in account and account != "aws" and not re.fullmatch(r"\d{12}", account):
        return f"not an account: {account}"
    return None


def _irsa_problems(statement: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    federated = (
        (statement.get("Principal") or {}).get("Federated")
        if isinstance(statement.get("Principal"), Mapping)
        else None
    )
    if not isinstance(federated, str) or ":oidc-provider/" not in federated:
        return
    issuer = federated.split(":oidc-provider/", 1)[1]
    keys = {
        key: value
        for block in (statement.get("Condition") or {}).values()
        for key, value in (block or {}).items()
    }
    aud, sub = keys.get(f"{issuer}:aud"), keys.get(f"{issuer}:sub")
    for key in keys:
        if key.endswith((":aud", ":sub")) and not key.startswith(f"{issuer}:"):
            yield (
                f"Condition.{key}",
                f"never matches: the condition is on another issuer than the trusted {issuer}",
                key,
            )
    if aud is None:
        yield "Condition", f"no {issuer}:aud condition: any audience may assume the role", None
    elif set(_as_list(aud)) != {"sts.amazonaws.com"}:
        yield (
            f"Condition.{issuer}:aud",
            "never matches: EKS tokens carry aud sts.amazonaws.com",
            aud,
        )
    if sub is None:
        yield "Condition", f"no {issuer}:sub condition: every service account may assume it", None
    else:
        for value in _as_list(sub):
            if not re.fullmatch(r"system:serviceaccount:[a-z0-9*-]+:[a-z0-9.*-]+", str(value)):
                yield (
                    f"Condition.{issuer}:sub",
                    "never matches: a token's sub is system:serviceaccount:<namespace>:<name>",
                    value,
                )


class Conditions:
    """``iam-conditions``: condition values and ARNs that could never match."""

    name = "iam-conditions"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings = []
        for plan in plans.values():
            for resource, field, doc in documents(plan):
                ctx = aws_context(plan, resource)
                if ctx is None:
                    continue
                for i, statement in enumerate(statements(doc)):
                    here = f"{field}.Statement[{i}]"
                    for path, why, value in condition_problems(
                        statement, ctx, trust=field == TRUST
                    ):
                        findings.append(
                            Finding.at(plan, resource, f"{here}.{path}", why, value=value)
                        )
                    for resource_arn in _as_list(statement.get("Resource")):
                        if resource_arn == "*":
                            continue
                        problem = arn_problem(str(resource_arn), ctx)
                        if problem:
                            findings.append(
                                Finding.at(
                                    plan, resource, f"{here}.Resource", problem, value=resource_arn
                                )
                            )
        return findings


# ---------------------------------------------------------------------------
# Keys and who uses them

EBS_ACTIONS = (
    "kms:CreateGrant",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:Decrypt",
    "kms:DescribeKey",
)
"""What EC2 calls on a volume's key when it launches an instance with an encrypted volume."""
AUTOSCALING_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
KMS_KEY = "aws:kms/key:Key"


@dataclass(frozen=True)
class Request:
    """A KMS call as the key policy sees it."""

    principal: str
    action: str
    context: Mapping[str, str]


def allows(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether a key policy allows ``request`` (an Allow matches and no Deny does)."""
    allowed = False
    for statement in statements(policy):
        if not _statement_matches(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _statement_matches(  # noqa: PLR0911 (one return per way a statement fails to match)
    statement: Mapping[str, Any], request: Request
) -> bool:
    principal = statement.get("Principal")
    aws_principals = (
        ["*"]
        if principal == "*"
        else _as_list((principal or {}).get("AWS"))
        if isinstance(principal, Mapping)
        else []
    )
    # The account's root principal delegates to IAM policies, which the service-linked
    # roles' policies never fill with KMS: only "*" or the principal itself match here.
    if not any(p in {"*", request.principal} for p in aws_principals):
        return False
    actions = _as_list(statement.get("Action"))
    if not any(fnmatch.fnmatchcase(request.action.lower(), str(a).lower()) for a in actions):
        return False
    for operator, block in (statement.get("Condition") or {}).items():
        for key, expected in (block or {}).items():
            actual = request.context.get(key)
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            values = [str(v) for v in _as_list(expected)]
            base = operator.removesuffix("IfExists")
            if base in {"StringEquals", "ArnEquals"} and actual not in values:
                return False
            if base == "StringEqualsIgnoreCase" and actual.lower() not in {
                v.lower() for v in values
            }:
                return False
            if base in {"StringLike", "ArnLike"} and not any(
                fnmatch.fnmatchcase(actual, v) for v in values
            ):
                return False
            if base == "Bool" and actual.lower() not in {v.lower() for v in values}:
                return False
            if base not in {
                "StringEquals",
                "ArnEquals",
                "StringEqualsIgnoreCase",
                "StringLike",
                "ArnLike",
                "Bool",
            }:
                return False  # an operator this evaluator does not know: not shown to allow
    return True


def _key_by_arn(plan: Plan, arn: str) -> dict[str, Any] | None:
    name = arn.rsplit("key/", 1)[-1]
    for r in plan.by_type(KMS_KEY):
        if r["name"] == name:
            return r
    return None


def _account_of(arn: str) -> str:
    m = ARN.fullmatch(arn)
    return m["account"] if m else ""


def ebs_keys(plan: Plan) -> Iterator[tuple[dict[str, Any], str, str, str]]:
    """``(resource, path, key ARN, who launches)`` for each volume encrypted with a key."""
    templates = {
        f"{r['name']}-id": r for r in plan.by_type("aws:ec2/launchTemplate:LaunchTemplate")
    }
    launched = {
        str((g["inputs"].get("launchTemplate") or {}).get("id"))
        for g in plan.by_type("aws:eks/nodeGroup:NodeGroup")
    }
    for lt_id, template in templates.items():
        for i, mapping in enumerate(template["inputs"].get("blockDeviceMappings") or []):
            key = (mapping.get("ebs") or {}).get("kmsKeyId")
            if key:
                who = "autoscaling" if lt_id in launched else "ec2-caller"
                yield template, f"blockDeviceMappings[{i}].ebs.kmsKeyId", str(key), who
    for node_class in plan.by_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"):
        spec = node_class["inputs"].get("spec") or {}
        for i, mapping in enumerate(spec.get("blockDeviceMappings") or []):
            key = (mapping.get("ebs") or {}).get("kmsKeyID")
            if key:
                yield (
                    node_class,
                    f"spec.blockDeviceMappings[{i}].ebs.kmsKeyID",
                    str(key),
                    "karpenter",
                )


GCP_AGENTS: Mapping[str, tuple[str, str]] = {
    "gcp:container/cluster:Cluster": ("databaseEncryption.keyName", "container-engine-robot"),
    "gcp:storage/bucket:Bucket": ("encryption.defaultKmsKeyName", "gs-project-accounts"),
    "gcp:vertex/aiEndpoint:AiEndpoint": ("encryptionSpec.kmsKeyName", "gcp-sa-aiplatform"),
    "pulumi-python:dynamic/vertex:Model": ("kmsKeyName", "gcp-sa-aiplatform"),
    "pulumi-python:dynamic/vertex:DriftMonitor": ("kmsKeyName", "gcp-sa-aiplatform"),
}
"""Which Google service agent encrypts with the key each resource names."""
GCP_KEY_ROLES = frozenset({ENCRYPTER_DECRYPTER})


def _get(inputs: Mapping[str, Any], dotted: str) -> Any:
    node: Any = inputs
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _ancestors(plan: Plan, urn: str) -> set[str]:
    """Every resource ``urn`` waits for, directly or through what it waits for."""
    by_urn = {r["urn"]: r for r in plan.resources}
    seen: set[str] = set()
    todo = [urn]
    while todo:
        r = by_urn.get(todo.pop())
        if r is None:
            continue
        for dep in r.get("dependencies") or []:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


class KeysUsable:
    """``kms-key-usable``: every customer-managed key usable by the service that uses it."""

    name = "kms-key-usable"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        for plan in plans.values():
            findings += self._aws(plan)
            findings += self._gcp(plan)
        return findings

    def _aws(self, plan: Plan) -> list[Finding]:
        findings = []
        for resource, path, key_arn, who in ebs_keys(plan):
            key = _key_by_arn(plan, key_arn)
            ctx = aws_context(plan, resource)
            if key is None or ctx is None:
                findings.append(
                    Finding.at(
                        plan,
                        resource,
                        path,
                        "the key is not one of this plan's keys: its policy cannot be read",
                        value=key_arn,
                        not_evaluated=True,
                    )
                )
                continue
            account = _account_of(key_arn)
            principal = (
                f"arn:{ctx.partition}:iam::{account}:{AUTOSCALING_ROLE}"
                if who == "autoscaling"
                else "karpenter-controller"
            )
            context = {
                "kms:ViaService": f"ec2.{ctx.region}.{ctx.suffix}",
                "kms:CallerAccount": account,
                "kms:GrantIsForAWSResource": "true",
            }
            policy_text = key["inputs"].get("policy")
            missing = [
                action
                for action in EBS_ACTIONS
                if not policy_text
                or not allows(json.loads(policy_text), Request(principal, action, context))
            ]
            if missing:
                launcher = (
                    "the Auto Scaling service-linked role (EKS managed node groups)"
                    if who == "autoscaling"
                    else "Karpenter's controller role"
                )
                why = (
                    "the key has no policy, so KMS's default one applies, which lets only IAM "
                    "principals whose own policies allow KMS use it"
                    if not policy_text
                    else "its key policy does not allow it"
                )
                findings.append(
                    Finding.at(
                        plan,
                        resource,
                        path,
                        f"{launcher} launches these volumes through EC2 and cannot use key "
                        f"{key['name']} ({', '.join(missing)}): {why}; every launch fails",
                        value=key_arn,
                        fix="give the key a policy allowing kms:CreateGrant "
                        "(GrantIsForAWSResource), GenerateDataKey*, Decrypt, ReEncrypt*, "
                        "DescribeKey to the account's principals with kms:ViaService "
                        f"ec2.{ctx.region}.{ctx.suffix} "
                        "(components/aws/eks.py node_volume_key_policy)",
                    )
                )
        return findings

    def _gcp(self, plan: Plan) -> list[Finding]:
        findings = []
        members = plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
        for resource in plan.resources:
            rule = GCP_AGENTS.get(resource["type"])
            if rule is None:
                continue
            path, agent = rule
            key_id = _get(resource["inputs"], path)
            if not key_id:
                continue
            grants = [
                m
                for m in members
                if m["inputs"].get("cryptoKeyId") == key_id
                and m["inputs"].get("role") in GCP_KEY_ROLES
                and f"@{agent}." in str(m["inputs"].get("member"))
            ]
            if not grants:
                findings.append(
                    Finding.at(
                        plan,
                        resource,
                        path,
                        f"the {agent} service agent has no {ENCRYPTER_DECRYPTER} on the key: "
                        "the service refuses it",
                        value=key_id,
                    )
                )
                continue
            waits = _ancestors(plan, resource["urn"])
            if not any(g["urn"] in waits for g in grants):
                findings.append(
                    Finding.at(
                        plan,
                        resource,
                        path,
                        f"created without waiting for the {agent} agent's grant on the key "
                        f"({grants[0]['name']}): on a first deployment the service may find "
                        "the key unusable",
                        value=key_id,
                        fix="depend on the CryptoKeyIAMMember (depends_on)",
                    )
                )
        return findings


# ---------------------------------------------------------------------------
# Karpenter's controller against the upstream reference policy

KARPENTER_SUB = "system:serviceaccount:kube-system:karpenter"


def reference_actions(facts: Path, version: str) -> list[str]:
    """The actions of Karpenter's reference controller policy at chart ``version``."""
    path = facts / "derived" / f"karpenter-v{version.removeprefix('v')}.reference-policy.json"
    if not path.is_file():
        raise MissingFacts(facts, f"{path.relative_to(facts)}: Karpenter {version}'s policy")
    return list(json.loads(path.read_text())["facts"]["actions"])


def allowed_actions(doc: Mapping[str, Any]) -> list[str]:
    return [
        str(a)
        for st in statements(doc)
        if st.get("Effect") == "Allow"
        for a in _as_list(st.get("Action"))
    ]


def karpenter_policies(plan: Plan) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(role policy, its document)`` of each role Karpenter's service account assumes."""
    roles = {
        f"{r['name']}-id"
        for r in plan.by_type("aws:iam/role:Role")
        if KARPENTER_SUB in str(r["inputs"].get("assumeRolePolicy"))
    }
    for policy in plan.by_type("aws:iam/rolePolicy:RolePolicy"):
        if policy["inputs"].get("role") in roles:
            yield policy, json.loads(policy["inputs"]["policy"])


class KarpenterActions:
    """``iam-karpenter``: the controller may do every action of Karpenter's reference policy
    at the pinned chart version (a missing one fails at run time with AccessDenied)."""

    name = "iam-karpenter"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings = []
        for plan in plans.values():
            versions = {
                str(r["inputs"].get("version"))
                for r in plan.by_type("kubernetes:helm.sh/v3:Release")
                if r["inputs"].get("name") == "karpenter"
            }
            for policy, doc in karpenter_policies(plan):
                allowed = allowed_actions(doc)
                for version in sorted(versions):
                    for action in reference_actions(facts, version):
                        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in allowed):
                            findings.append(
                                Finding.at(
                                    plan,
                                    resource=policy,
                                    path="policy",
                                    message=f"Karpenter {version}'s reference controller policy "
                                    f"allows {action}; this one does not, so the controller's "
                                    "calls to it fail with AccessDenied",
                                    value=action,
                                    fix="add the action (components/aws/gpu_capacity.py "
                                    "_controller_policy)",
                                )
                            )
        return findings


def checks() -> list[Check]:
    return [Lint(), Conditions(), KeysUsable(), KarpenterActions()]


def coverage(plans: Mapping[str, Plan]) -> dict[str, int]:
    """How much the checks looked at: policy documents, statements, keys' users."""
    docs = [d for plan in plans.values() for d in documents(plan)]
    return {
        "policy documents": len(docs),
        "statements": sum(len(statements(doc)) for _, _, doc in docs),
        "encrypted volumes with a key": sum(len(list(ebs_keys(p))) for p in plans.values()),
        "CMEK users": sum(
            1
            for p in plans.values()
            for r in p.resources
            if r["type"] in GCP_AGENTS and _get(r["inputs"], GCP_AGENTS[r["type"]][0])
        ),
    }


__all__: Sequence[str] = ("ACCEPTED", "POLICY_INPUTS", "allows", "checks", "coverage")
