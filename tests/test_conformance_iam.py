"""tools/conformance/iam.py: policies lint, conditions can match, keys are usable by their users.

The committed plans must be clean, and each deploy-breaking kind the plans held must be
found when it comes back (planted in a copy of a real plan).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from components.aws.eks import node_volume_key_policy
from tests.conftest import REPO
from tools.conformance import iam
from tools.conformance.base import Finding, MissingFacts
from tools.preview.recorder import Plan

FACTS = Path(os.environ.get("UPSTREAM_FACTS") or REPO.parent / "shared" / "upstream")
"""The upstream facts folder (Karpenter's reference policy), as make conformance finds it."""


def run(plans: dict[str, Plan]) -> list[Finding]:
    return [f for check in iam.checks() for f in check.run(plans, FACTS)]


def resource(plan: Plan, name: str, type_: str) -> dict[str, Any]:
    (found,) = [r for r in plan.resources if r["name"] == name and r["type"] == type_]
    return found


def with_statement(
    plans: dict[str, Plan], stack: str, name: str, statement: dict[str, Any]
) -> Plan:
    """A copy of ``stack``'s plan where policy ``name`` carries ``statement`` too."""
    plan = copy.deepcopy(plans[stack])
    policy = resource(plan, name, "aws:iam/rolePolicy:RolePolicy")
    doc = json.loads(policy["inputs"]["policy"])
    doc["Statement"].append(statement)
    policy["inputs"]["policy"] = json.dumps(doc)
    return plan


def test_the_committed_plans_pass(plans: dict[str, Plan]) -> None:
    assert [f.render() for f in run(plans)] == []


def test_every_policy_document_is_read(plans: dict[str, Plan]) -> None:
    covered = iam.coverage(plans)
    assert covered["policy documents"] >= 70
    assert covered["encrypted volumes with a key"] == 4  # each EKS system node group
    assert covered["CMEK users"] == 7


ARTIFACT_KEY = "arn:aws:kms:us-east-1:123456789012:key/prod-models-aws-key"


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        # What the SageMaker execution role held: kms:ViaService is regional.
        (
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": ARTIFACT_KEY,
                "Condition": {"StringEquals": {"kms:ViaService": "s3.amazonaws.com"}},
            },
            "regional endpoint",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": ARTIFACT_KEY,
                "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
            },
            "never matches a request of this stack",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws-cn:s3:::prod-model-repo/*",
            },
            "partition is aws, not aws-cn",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:us-east-1::prod-model-repo/*",
            },
            "s3 ARNs have no region",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "ec2:DescribeImages",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-west-2"}},
            },
            "the stack runs in us-east-1",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2"}},
            },
            "service principal",
        ),
        (
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::prod-model-repo/*",
                "Condition": {"Bool": {"aws:SecureTransport": "no"}},
            },
            "Bool",
        ),
        # parliament: a condition key the action does not take, a Bool on a string key
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::prod-model-repo/*",
                "Condition": {"StringLike": {"s3:prefix": ["model_repo/*"]}},
            },
            "UNKNOWN_CONDITION_FOR_ACTION",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::prod-model-repo",
                "Condition": {"Bool": {"s3:prefix": "true"}},
            },
            "MISMATCHED_TYPE",
        ),
        (
            {"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "arn:aws:s3:::b/*"},
            "UNKNOWN_ACTION",
        ),
    ],
)
def test_a_condition_that_never_matches_is_found(
    plans: dict[str, Plan], statement: dict[str, Any], message: str
) -> None:
    plan = with_statement(plans, "prod", "prod-guardrail-execution", statement)
    findings = run({"prod": plan})
    assert any(message in f.message for f in findings), [f.render() for f in findings]
    assert all(f.key.startswith("prod-guardrail-execution.policy") for f in findings)


def test_irsa_trust_on_another_issuer_or_subject_is_found(plans: dict[str, Plan]) -> None:
    plan = copy.deepcopy(plans["prod"])
    role = resource(plan, "prod-models-aws-reader-embed-guard", "aws:iam/role:Role")
    doc = json.loads(role["inputs"]["assumeRolePolicy"])
    conditions = doc["Statement"][0]["Condition"]["StringEquals"]
    sub = next(k for k in conditions if k.endswith(":sub"))
    conditions[sub] = "llm-serving:embed-guard"
    role["inputs"]["assumeRolePolicy"] = json.dumps(doc)
    (finding,) = run({"prod": plan})
    assert "system:serviceaccount:<namespace>:<name>" in finding.message
    conditions["oidc.eks.us-east-1.amazonaws.com/id/OTHER:sub"] = conditions.pop(sub)
    role["inputs"]["assumeRolePolicy"] = json.dumps(doc)
    messages = sorted(f.message for f in run({"prod": plan}))
    assert any("another issuer" in m for m in messages)
    assert any("every service account may assume it" in m for m in messages)


def test_a_node_volume_key_without_a_policy_is_unusable(plans: dict[str, Plan]) -> None:
    """What the plans held: the system node groups' launch template encrypted the root
    volume with the cluster's key, which had no key policy."""
    plan = copy.deepcopy(plans["prod"])
    key = resource(plan, "prod-core-aws-secrets", "aws:kms/key:Key")
    del key["inputs"]["policy"]
    (finding,) = run({"prod": plan})
    assert finding.key == "prod-core-aws-system.blockDeviceMappings[0].ebs.kmsKeyId"
    assert "Auto Scaling service-linked role" in finding.message
    assert "default one applies" in finding.message


def test_a_key_policy_for_another_region_is_unusable(plans: dict[str, Plan]) -> None:
    plan = copy.deepcopy(plans["prod"])
    key = resource(plan, "prod-core-aws-secrets", "aws:kms/key:Key")
    key["inputs"]["policy"] = json.dumps(
        node_volume_key_policy(
            partition="aws", dns_suffix="amazonaws.com", account="123456789012", region="eu-west-1"
        )
    )
    *conditions, volume = sorted(run({"prod": plan}), key=lambda f: f.key)
    assert "its key policy does not allow it" in volume.message
    assert [c.key.split(".")[2] for c in conditions] == ["Statement[1]", "Statement[2]"]
    assert all("never matches a request of this stack" in c.message for c in conditions)


def test_the_node_volume_key_policy_lets_ec2_launch_and_nothing_else() -> None:
    policy = node_volume_key_policy(
        partition="aws", dns_suffix="amazonaws.com", account="123456789012", region="us-east-1"
    )
    slr = f"arn:aws:iam::123456789012:{iam.AUTOSCALING_ROLE}"
    through_ec2 = {
        "kms:ViaService": "ec2.us-east-1.amazonaws.com",
        "kms:CallerAccount": "123456789012",
        "kms:GrantIsForAWSResource": "true",
    }
    for action in (*iam.EBS_ACTIONS, "kms:ReEncryptFrom", "kms:GenerateDataKey"):
        assert iam.allows(policy, iam.Request(slr, action, through_ec2)), action
    direct = {k: v for k, v in through_ec2.items() if k != "kms:ViaService"}
    assert not iam.allows(policy, iam.Request(slr, "kms:Decrypt", direct))
    other_account = {**through_ec2, "kms:CallerAccount": "210987654321"}
    assert not iam.allows(policy, iam.Request(slr, "kms:Decrypt", other_account))
    no_resource = {**through_ec2, "kms:GrantIsForAWSResource": "false"}
    assert not iam.allows(policy, iam.Request(slr, "kms:CreateGrant", no_resource))
    assert not iam.allows(policy, iam.Request(slr, "kms:ScheduleKeyDeletion", through_ec2))


def test_a_cmek_user_that_does_not_wait_for_its_grant_is_found(plans: dict[str, Plan]) -> None:
    """What the plans held: the Vertex endpoint, model and monitor did not wait for the
    AI Platform agent's grant on their key."""
    plan = copy.deepcopy(plans["prod"])
    endpoint = resource(plan, "prod-embeddings-vertex-endpoint", "gcp:vertex/aiEndpoint:AiEndpoint")
    endpoint["dependencies"] = [d for d in endpoint["dependencies"] if "key-vertex" not in d]
    (finding,) = run({"prod": plan})
    assert "without waiting for the gcp-sa-aiplatform agent's grant" in finding.message
    grant = resource(
        plan, "prod-embeddings-vertex-key-vertex", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
    )
    grant["inputs"]["role"] = "roles/cloudkms.viewer"
    messages = [f.message for f in run({"prod": plan})]
    assert sum("has no roles/cloudkms.cryptoKeyEncrypterDecrypter" in m for m in messages) == 3


def test_accepted_parliament_issues_say_why() -> None:
    assert {a.issue for a in iam.ACCEPTED} >= {"RESOURCE_STAR", "MALFORMED"}
    assert all(len(a.why) > 20 for a in iam.ACCEPTED)


def test_the_karpenter_controller_may_do_what_its_reference_policy_does(
    plans: dict[str, Plan],
) -> None:
    plan = copy.deepcopy(plans["prod"])
    policy = resource(plan, "prod-core-aws-gpu-karpenter", "aws:iam/rolePolicy:RolePolicy")
    doc = json.loads(policy["inputs"]["policy"])
    describe = next(st for st in doc["Statement"] if st.get("Sid") == "AllowRegionalReadActions")
    describe["Action"].remove("ec2:DescribeImages")
    policy["inputs"]["policy"] = json.dumps(doc)
    (finding,) = run({"prod": plan})
    assert finding.value == "ec2:DescribeImages"
    assert "Karpenter 1.6.5's reference controller policy" in finding.message
    release = next(
        r
        for r in plan.by_type("kubernetes:helm.sh/v3:Release")
        if r["inputs"].get("name") == "karpenter"
    )
    release["inputs"]["version"] = "1.0.0"
    with pytest.raises(MissingFacts, match=r"karpenter-v1\.0\.0\.reference-policy\.json"):
        iam.KarpenterActions().run({"prod": plan}, FACTS)


def test_split_launch_statements_are_accepted_but_other_resource_mismatches_are_not(
    plans: dict[str, Plan],
) -> None:
    """Karpenter's reference policy grants RunInstances/CreateFleet per resource type with
    its own conditions (accepted); a write on a resource type it does not take still fails."""
    plan = with_statement(
        plans,
        "prod",
        "prod-core-aws-gpu-karpenter",
        {
            "Effect": "Allow",
            "Action": "ec2:TerminateInstances",
            "Resource": "arn:aws:ec2:us-east-1:*:volume/*",
        },
    )
    (finding,) = iam.Lint().run({"prod": plan}, FACTS)
    assert "RESOURCE_MISMATCH" in finding.message
    assert "ec2:TerminateInstances" in finding.message
