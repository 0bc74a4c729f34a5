"""The hardening policies (policies/hardening.py) on real plans and on unknown values.

- each gap of the security review, introduced into a committed stack's plan the way a
  careless edit would, fails the pack with a mandatory violation naming the resource;
- a value unknown at preview (another resource's output) makes each policy report
  "cannot check during preview", never a false pass or a crash;
- the documented exemptions of iam-scoped-writes still match a statement of a shipped
  plan (an entry whose statement is gone, or fixed, must be removed);
- the policies' floors agree with what the components create.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.config import PolicySetting, load
from policies.engine import evaluate
from policies.hardening import EksLogsConfig, IamScopeConfig, exempt
from policies.registry import BY_NAME
from tests.conftest import STACKS
from tests.policy_cases import providers, rec
from tests.policy_cases_hardening import (
    crypto_key,
    deployment,
    eks_with_cni,
    endpoint_config,
    gcs_bucket,
    gke_cluster,
    gke_pool,
    hardened,
    kms_key,
    namespace,
    network_policy,
    queue,
    security_group,
    versioned_bucket,
    vertex,
)
from tools.preview.recorder import Plan

Resources = list[dict[str, Any]]


def first(resources: Resources, rtype: str, name_part: str = "") -> dict[str, Any]:
    return next(r for r in resources if r["type"] == rtype and name_part in r["name"])


def workloads(resources: Resources) -> Resources:
    return [r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment"]


def _versioning_off(rs: Resources) -> None:
    v = first(rs, "aws:s3/bucketVersioning:BucketVersioning")
    v["inputs"]["versioningConfiguration"]["status"] = "Suspended"


def _versioning_gone(rs: Resources) -> None:
    rs.remove(first(rs, "aws:s3/bucketVersioning:BucketVersioning"))


def _aws_rotation_off(rs: Resources) -> None:
    first(rs, "aws:kms/key:Key")["inputs"]["enableKeyRotation"] = False


def _gcp_rotation_gone(rs: Resources) -> None:
    first(rs, "gcp:kms/cryptoKey:CryptoKey")["inputs"].pop("rotationPeriod")


def _eks_logs_emptied(rs: Resources) -> None:
    first(rs, "aws:eks/cluster:Cluster")["inputs"]["enabledClusterLogTypes"] = []


def _open_security_group(rs: Resources) -> None:
    vpc = first(rs, "aws:ec2/vpc:Vpc")
    rs.append(
        {
            **rec(
                "aws:ec2/securityGroup:SecurityGroup",
                "debug-ssh",
                {
                    "vpcId": "vpc-id",
                    "ingress": [
                        {
                            "protocol": "tcp",
                            "fromPort": 22,
                            "toPort": 22,
                            "cidrBlocks": ["0.0.0.0/0"],
                        }
                    ],
                    "tags": {"Name": "debug-ssh"},
                },
                provider=vpc["provider"],
            ),
            "parent": vpc["parent"],
        }
    )


def _queue_unencrypted(rs: Resources) -> None:
    first(rs, "aws:sqs/queue:Queue")["inputs"]["sqsManagedSseEnabled"] = False


def _passrole_on_star(rs: Resources) -> None:
    pol = first(rs, "aws:iam/rolePolicy:RolePolicy", "flow-logs")
    doc = json.loads(pol["inputs"]["policy"])
    doc["Statement"].append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    pol["inputs"]["policy"] = json.dumps(doc)


def _new_karpenter_write(rs: Resources) -> None:
    """The exemptions name statements; a new one on '*' in the same policy still fails."""
    pol = first(rs, "aws:iam/rolePolicy:RolePolicy", "gpu-karpenter")
    doc = json.loads(pol["inputs"]["policy"])
    doc["Statement"].append(
        {"Sid": "Volumes", "Effect": "Allow", "Action": "ec2:DeleteVolume", "Resource": "*"}
    )
    pol["inputs"]["policy"] = json.dumps(doc)


def _creator_admin(rs: Resources) -> None:
    access = first(rs, "aws:eks/cluster:Cluster")["inputs"]["accessConfig"]
    access["bootstrapClusterCreatorAdminPermissions"] = True


def _no_default_deny(rs: Resources) -> None:
    rs[:] = [
        r
        for r in rs
        if not (
            r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
            and r["inputs"]["metadata"]["name"] == "default-deny"
            and r["inputs"]["metadata"]["namespace"] == "llm-gateway"
        )
    ]


def _legacy_dataplane(rs: Resources) -> None:
    first(rs, "gcp:container/cluster:Cluster")["inputs"].pop("datapathProvider")


def _binauthz_off(rs: Resources) -> None:
    cluster = first(rs, "gcp:container/cluster:Cluster")
    cluster["inputs"]["binaryAuthorization"] = {"evaluationMode": "DISABLED"}


def _endpoint_without_cmk(rs: Resources) -> None:
    first(rs, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")["inputs"].pop(
        "kmsKeyArn"
    )


def _cni_without_agent(rs: Resources) -> None:
    first(rs, "aws:eks/addon:Addon", "vpc-cni")["inputs"]["configurationValues"] = "{}"


def _legacy_abac(rs: Resources) -> None:
    first(rs, "gcp:container/cluster:Cluster")["inputs"]["enableLegacyAbac"] = True


def _default_node_sa(rs: Resources) -> None:
    pool = first(rs, "gcp:container/nodePool:NodePool", "gpu")
    pool["inputs"]["nodeConfig"].pop("serviceAccount")


def _public_vertex(rs: Resources) -> None:
    ep = first(rs, "gcp:vertex/aiEndpoint:AiEndpoint")
    ep["inputs"].pop("privateServiceConnectConfig")


def _vertex_without_cmek(rs: Resources) -> None:
    first(rs, "gcp:vertex/aiEndpoint:AiEndpoint")["inputs"].pop("encryptionSpec")


def _gcs_object_acls(rs: Resources) -> None:
    first(rs, "gcp:storage/bucket:Bucket")["inputs"]["uniformBucketLevelAccess"] = False


def _writable_root(rs: Resources) -> None:
    spec = workloads(rs)[0]["inputs"]["spec"]["template"]["spec"]
    spec["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"] = False


def _non_root_without_user(rs: Resources) -> None:
    spec = workloads(rs)[0]["inputs"]["spec"]["template"]["spec"]
    spec["securityContext"].pop("runAsUser")


def _container_root_over_pod(rs: Resources) -> None:
    spec = workloads(rs)[0]["inputs"]["spec"]["template"]["spec"]
    spec["containers"][0]["securityContext"]["runAsUser"] = 0


Mutation = Callable[[Resources], None]
GAPS: dict[str, tuple[Mutation, str, str]] = {
    "1-s3-versioning-suspended": (_versioning_off, "bucket-versioning", '"Suspended"'),
    "1-s3-without-versioning": (
        _versioning_gone,
        "bucket-versioning",
        "BucketVersioning is not set",
    ),
    "2-aws-key-rotation-off": (_aws_rotation_off, "kms-key-rotation", "enableKeyRotation = false"),
    "2-gcp-key-without-rotation": (
        _gcp_rotation_gone,
        "kms-key-rotation",
        "rotationPeriod is not set",
    ),
    "3-eks-logs-emptied": (
        _eks_logs_emptied,
        "eks-control-plane-logs",
        "lacks api, audit, authenticator",
    ),
    "4-ssh-open-to-the-world": (_open_security_group, "no-public-ingress", "debug-ssh"),
    "5-sqs-unencrypted": (_queue_unencrypted, "queue-encryption", "sqsManagedSseEnabled = false"),
    "6-passrole-on-star": (_passrole_on_star, "iam-scoped-writes", "iam:PassRole on '*'"),
    "6-new-karpenter-write-on-star": (_new_karpenter_write, "iam-scoped-writes", "(Sid Volumes)"),
    "6-eks-creator-admin": (
        _creator_admin,
        "eks-access-entries",
        "bootstrapClusterCreatorAdminPermissions = true",
    ),
    "13-gateway-namespace-without-default-deny": (
        _no_default_deny,
        "namespace-default-deny",
        "NetworkPolicy in namespace llm-gateway is not set",
    ),
    "7-gke-legacy-dataplane": (
        _legacy_dataplane,
        "gke-dataplane-v2",
        "datapathProvider is not set",
    ),
    "7-gke-binary-authorization-off": (
        _binauthz_off,
        "gke-binary-authorization",
        'binaryAuthorization.evaluationMode = "DISABLED"',
    ),
    "9-sagemaker-endpoint-without-cmk": (
        _endpoint_without_cmk,
        "sagemaker-endpoint-cmk",
        "kmsKeyArn is not set",
    ),
    "13-eks-cni-without-network-policy": (
        _cni_without_agent,
        "eks-network-policy-enforced",
        "configurationValues.enableNetworkPolicy",
    ),
    "7-gke-legacy-abac": (_legacy_abac, "gke-no-legacy-abac", "enableLegacyAbac = true"),
    "8-gke-default-node-sa": (
        _default_node_sa,
        "gke-node-service-account",
        "serviceAccount is not set",
    ),
    "9-public-vertex-endpoint": (_public_vertex, "vertex-private-cmek", "the endpoint is public"),
    "9-vertex-without-cmek": (_vertex_without_cmek, "vertex-private-cmek", "kmsKeyName is not set"),
    "10-gcs-object-acls": (_gcs_object_acls, "private-buckets", "uniformBucketLevelAccess = false"),
    "11-writable-root-filesystem": (
        _writable_root,
        "read-only-root-filesystem",
        "initContainers[0]",
    ),
    "12-non-root-without-user": (_non_root_without_user, "non-root-user", "runAsUser (container"),
    "12-container-root-over-pod": (
        _container_root_over_pod,
        "non-root-user",
        "= 0.0: runs as root",
    ),
}


@pytest.mark.parametrize("gap", sorted(GAPS))
def test_each_gap_introduced_into_the_prod_plan_fails_the_pack(
    plans: dict[str, Plan], gap: str
) -> None:
    mutate, policy, fragment = GAPS[gap]
    doc = copy.deepcopy(plans["prod"].to_json())
    mutate(doc["resources"])
    report = evaluate(doc, load()["prod"], "prod")
    hits = [v.message for v in report.mandatory if v.policy == policy]
    assert hits, f"{policy} did not fire: {[v.policy for v in report.verdicts]}"
    assert any(fragment in m for m in hits), hits


# ---------------------------------------------------------------------------
# Values unknown at preview

U = UNKNOWN_STRING_VALUE


def _unknown_pod(field: str) -> Resources:
    """A deployment whose container securityContext field is another resource's output."""
    return [deployment(container=hardened(**{field: U}))]


UNKNOWN: dict[str, Resources] = {
    "bucket-versioning": [
        *versioned_bucket(U),
        gcs_bucket(versioning={"enabled": U}),
    ],
    "kms-key-rotation": [kms_key(enableKeyRotation=U), crypto_key(rotationPeriod=U)],
    "eks-control-plane-logs": [
        rec("aws:eks/cluster:Cluster", "core", {"enabledClusterLogTypes": U, "tags": {}})
    ],
    "no-public-ingress": [
        security_group({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": U})
    ],
    "queue-encryption": [queue(sqsManagedSseEnabled=U)],
    "iam-scoped-writes": [
        rec("aws:iam/rolePolicy:RolePolicy", "controller", {"role": "r", "policy": U})
    ],
    "gke-no-legacy-abac": [gke_cluster(enableLegacyAbac=U)],
    "eks-network-policy-enforced": eks_with_cni(U),
    "sagemaker-endpoint-cmk": [endpoint_config(kmsKeyArn=U)],
    "gke-dataplane-v2": [gke_cluster(datapathProvider=U)],
    "gke-binary-authorization": [gke_cluster(binaryAuthorization={"evaluationMode": U})],
    "namespace-default-deny": [
        namespace("llm-serving"),
        network_policy("llm-serving", podSelector=U),
    ],
    "eks-access-entries": [
        rec(
            "aws:eks/cluster:Cluster",
            "core",
            {
                "accessConfig": {
                    "authenticationMode": U,
                    "bootstrapClusterCreatorAdminPermissions": U,
                }
            },
        )
    ],
    "gke-node-service-account": [gke_pool(serviceAccount=U)],
    "vertex-private-cmek": [vertex(encryptionSpec={"kmsKeyName": U})],
    "read-only-root-filesystem": _unknown_pod("readOnlyRootFilesystem"),
    "non-root-user": _unknown_pod("runAsUser"),
    "private-buckets": [gcs_bucket(uniformBucketLevelAccess=U)],
}


@pytest.mark.parametrize("policy", sorted(UNKNOWN))
def test_a_value_unknown_at_preview_is_reported_as_unknown(policy: str) -> None:
    """The property the policy decides on is an Output not yet known: the engine must say
    it cannot check (Pulumi re-runs the policy at `up`), with no verdict either way."""
    settings = {policy: PolicySetting(EnforcementLevel.MANDATORY, {})}
    plan = {"stack": "test", "resources": [*providers(), *UNKNOWN[policy]]}
    report = evaluate(plan, settings, "test", policies=[BY_NAME[policy]])
    assert report.unknown, f"{policy}: the unknown value was not noticed"
    assert [v.message for v in report.verdicts] == []


def test_every_hardening_policy_has_an_unknown_input_case() -> None:
    from policies import hardening  # noqa: PLC0415

    assert {p.name for p in hardening.POLICIES} <= set(UNKNOWN)


# ---------------------------------------------------------------------------
# The exemption list stays true


def test_every_iam_exemption_matches_a_statement_of_a_shipped_plan(
    plans: dict[str, Plan],
) -> None:
    """An exemption whose statement was fixed or renamed must go: each entry must still
    exempt some statement that writes on '*' in some stack's plan."""
    used: set[str] = set()
    for stack in STACKS:
        env = plans[stack].outputs.get("environment", stack)
        cfg = IamScopeConfig.model_validate(load()[env]["iam-scoped-writes"].properties)
        without = IamScopeConfig.model_validate(
            {**cfg.model_dump(by_alias=True), "exemptStatements": {}}
        )
        bare = evaluate(
            plans[stack].to_json(),
            {
                "iam-scoped-writes": PolicySetting(
                    EnforcementLevel.MANDATORY, without.model_dump(by_alias=True)
                )
            },
            env,
            policies=[BY_NAME["iam-scoped-writes"]],
        )
        for verdict in bare.verdicts:
            for key in cfg.exempt_statements:
                single = IamScopeConfig(exempt_statements={key: cfg.exempt_statements[key]})
                sid = verdict.message.split("(Sid ", 1)[-1].split(")", 1)[0]
                if "(Sid " in verdict.message and exempt(single, verdict.resource or "", sid):
                    used.add(key)
    all_keys = {
        k
        for env_settings in load().values()
        for k in env_settings["iam-scoped-writes"].properties["exemptStatements"]
    }
    assert all_keys - used == set(), f"stale exemptions: {sorted(all_keys - used)}"


# ---------------------------------------------------------------------------
# The policies' floors and what the components create


def test_the_eks_component_enables_at_least_the_required_log_types() -> None:
    from components.aws.eks import CONTROL_PLANE_LOGS  # noqa: PLC0415

    assert set(EksLogsConfig().required_log_types) <= set(CONTROL_PLANE_LOGS)


def test_gcp_key_rotation_of_the_components_is_within_every_environments_limit() -> None:
    from components.gcp.kms import KEY_ROTATION  # noqa: PLC0415

    seconds = float(KEY_ROTATION.removesuffix("s"))
    for env, settings in load().items():
        limit = settings["kms-key-rotation"].properties["maxRotationDays"] * 86400
        assert seconds <= limit, env
