"""EKS managed add-ons: pinned from one table per Kubernetes minor, installed in an order
that lets nodes join, the EBS CSI driver with its own IRSA role."""

from __future__ import annotations

import json

import pytest

from blueprint.catalog import EKS_ADDONS, EksAddonTable, eks_addons
from blueprint.config import StackConfig
from blueprint.schema import Cloud
from components.aws.eks import BEFORE_NODES, EBS_CSI, EBS_CSI_POLICY
from tools.preview.recorder import Plan
from tools.preview.run import preview_stacks

ADDON = "aws:eks/addon:Addon"


@pytest.fixture(scope="module")
def dev() -> Plan:
    (result,) = preview_stacks(["dev"])
    assert result.plan is not None, result.error
    return result.plan


def test_every_committed_eks_version_has_a_row(configs: dict[str, StackConfig]) -> None:
    table = eks_addons()
    for stack, cfg in configs.items():
        for name, cluster in cfg.clusters.items():
            if cluster.cloud is Cloud.AWS:
                row = table.for_version(cluster.kubernetes_version)
                assert row is not None, f"{stack}: clusters.{name}"
                assert list(row) == list(EKS_ADDONS)


def test_a_row_missing_an_addon_is_refused() -> None:
    row = dict.fromkeys(EKS_ADDONS[:-1], "v1.0.0-eksbuild.1")
    with pytest.raises(ValueError, match="must pin exactly"):
        EksAddonTable.model_validate({"asOf": "2026-12-03", "addons": {"1.33": row}})
    row = dict.fromkeys(EKS_ADDONS, "latest")
    with pytest.raises(ValueError, match="is not an add-on version"):
        EksAddonTable.model_validate({"asOf": "2026-12-03", "addons": {"1.33": row}})


def test_the_cluster_runs_the_pinned_addons(dev: Plan, configs: dict[str, StackConfig]) -> None:
    expected = eks_addons().for_version(configs["dev"].clusters["core-aws"].kubernetes_version)
    assert expected is not None
    addons = {r["inputs"]["addonName"]: r for r in dev.by_type(ADDON)}
    assert {n: r["inputs"]["addonVersion"] for n, r in addons.items()} == expected
    for record in addons.values():
        assert record["inputs"]["clusterName"] == "dev-core-aws"
        assert record["inputs"]["resolveConflictsOnCreate"] == "OVERWRITE"
        assert record["inputs"]["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_daemonsets_before_nodes_deployments_after(dev: Plan) -> None:
    addons = {r["inputs"]["addonName"]: r for r in dev.by_type(ADDON)}
    (system,) = [
        r for r in dev.by_type("aws:eks/nodeGroup:NodeGroup") if r["name"].endswith("-system")
    ]
    for name, record in addons.items():
        if name in BEFORE_NODES:
            assert record["urn"] in system["dependencies"], name
        else:
            assert system["urn"] in record["dependencies"], name


def test_ebs_csi_has_its_own_irsa_role(dev: Plan) -> None:
    (addon,) = [r for r in dev.by_type(ADDON) if r["inputs"]["addonName"] == EBS_CSI]
    roles = {r["name"]: r for r in dev.by_type("aws:iam/role:Role")}
    role_name = addon["inputs"]["serviceAccountRoleArn"].rsplit("/", 1)[-1]
    trust = json.loads(roles[role_name]["inputs"]["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement["Condition"]["StringEquals"]
    subs = [v for k, v in conditions.items() if k.endswith(":sub")]
    assert subs == ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    attachments = [
        r
        for r in dev.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r["inputs"]["role"] == role_name
    ]
    assert [a["inputs"]["policyArn"] for a in attachments] == [EBS_CSI_POLICY]
    # The controller never starts before its permissions are attached.
    assert attachments[0]["urn"] in addon["dependencies"]
