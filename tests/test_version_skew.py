"""A staged EKS upgrade: the control plane and its add-ons move first, every node (system
pool, GPU floors, Karpenter's nodes) stays on the release of ``nodeVersion``."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from blueprint.catalog import eks_addons
from components.aws.gpu_capacity import ami_alias
from tests.conftest import REPO
from tools.preview.run import preview_stacks

NODE_RELEASE = "1.33.0-20250715"


def _staged(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", folder, ignore=shutil.ignore_patterns("*.py", "*.json"))
    path = folder / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    cluster = doc["config"]["llm-inference:clusters"]["core-aws"]
    assert cluster["amiReleaseVersion"] == NODE_RELEASE
    cluster.update(kubernetesVersion="1.34", nodeVersion="1.33")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_the_first_up_moves_the_control_plane_and_addons_only(tmp_path: Path) -> None:
    (result,) = preview_stacks(["prod"], stack_dir=_staged(tmp_path))
    assert result.plan is not None, result.error
    plan = result.plan
    (cluster,) = plan.by_type("aws:eks/cluster:Cluster")
    assert cluster["inputs"]["version"] == "1.34"
    addons = {
        r["inputs"]["addonName"]: r["inputs"]["addonVersion"]
        for r in plan.by_type("aws:eks/addon:Addon")
    }
    assert addons == eks_addons().for_version("1.34")
    groups = plan.by_type("aws:eks/nodeGroup:NodeGroup")
    assert len(groups) > 1, "prod has GPU floors as well as the system pool"
    for group in groups:
        assert group["inputs"]["version"] == "1.33", group["name"]
        assert group["inputs"]["releaseVersion"] == NODE_RELEASE, group["name"]
    classes = plan.by_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    assert classes
    for node_class in classes:
        assert node_class["inputs"]["spec"]["amiSelectorTerms"] == [
            {"alias": ami_alias(NODE_RELEASE)}
        ]
