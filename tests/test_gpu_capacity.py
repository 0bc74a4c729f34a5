"""GPU capacity under mocks, for every stack: pools, taints, labels, MIG, ceilings, spot.

Each test reads the recorded plan (what ``pulumi preview`` would create) and
compares it with what the stack file and the catalog say, so a change to either
side that the other does not follow fails here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint import outputs as out
from blueprint import tags
from blueprint.capacity import (
    MIG_CONFIG_LABEL,
    PoolSpec,
    gke_node_pool_plans,
    mig_layout_name,
    mig_parted_config,
    pool_specs,
)
from blueprint.catalog import eks_addons, load_catalog
from blueprint.config import StackConfig
from blueprint.schema import Cloud, Fallback, MigConfig, Tier
from components.aws.gpu_capacity import RESTRICTED_NODECLASS_TAGS, ami_alias, controller_policy
from tests.conftest import REPO, STACKS
from tools.preview.mocks import resource_id
from tools.preview.recorder import Plan

UPSTREAM = Path(os.environ.get("UPSTREAM_FACTS") or REPO.parent / "shared" / "upstream")
"""The upstream facts folder, as make conformance finds it."""
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODEGROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_POOL = "gcp:container/nodePool:NodePool"
COMPUTE_CLASS = "kubernetes:cloud.google.com/v1:ComputeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"


def by_name(plan: Plan, type_: str) -> dict[str, dict[str, Any]]:
    """Resources of a type keyed by their Kubernetes name (CRs) or cloud name."""
    found = {}
    for res in plan.by_type(type_):
        inputs = res["inputs"]
        key = (
            inputs.get("metadata", {}).get("name")
            or inputs.get("nodeGroupName")
            or inputs.get("name")
            or res["name"]
        )
        found[key] = res
    return found


def aws_pools(cfg: StackConfig) -> dict[str, PoolSpec]:
    return {n: s for n, s in pool_specs(cfg).items() if s.cloud is Cloud.AWS}


def gcp_pools(cfg: StackConfig) -> dict[str, PoolSpec]:
    return {n: s for n, s in pool_specs(cfg).items() if s.cloud is Cloud.GCP}


def test_mig_gpus_carry_pci_ids_and_gcp_gpus_an_accelerator_name() -> None:
    catalog = load_catalog()
    seen: set[str] = set()
    for gpu in catalog.gpus.values():
        if gpu.supports_mig:
            assert gpu.pci_device_ids, f"{gpu.name}: mig-parted needs its PCI device IDs"
        for pci in gpu.pci_device_ids:
            assert re.fullmatch(r"0x[0-9A-F]{4}10DE", pci), pci
            assert pci not in seen, f"{pci} claimed by two GPU models"
            seen.add(pci)
    for inst in catalog.instances.values():
        if inst.cloud == "gcp" and inst.gpu:
            assert catalog.gpus[inst.gpu].gke_accelerator, f"{inst.name}: no GKE accelerator"


def test_every_configured_pool_resolves(configs: dict[str, StackConfig]) -> None:
    for stack, cfg in configs.items():
        assert set(pool_specs(cfg)) == set(cfg.gpu_pools), stack


# ---------------------------------------------------------------------------
# EKS: floor node groups and Karpenter burst


@pytest.mark.parametrize("stack", STACKS)
def test_eks_floor_is_an_on_demand_node_group_of_fixed_size(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    groups = by_name(plans[stack], NODEGROUP)
    for name, spec in aws_pools(configs[stack]).items():
        group = groups.get(f"{name}-floor")
        if spec.floor == 0:
            assert group is None, f"{stack}/{name}: no floor configured, yet a node group exists"
            continue
        assert group is not None, f"{stack}/{name}: floor {spec.floor} but no node group"
        inputs = group["inputs"]
        assert inputs["capacityType"] == "ON_DEMAND"
        sizes = inputs["scalingConfig"]
        assert sizes == {"minSize": spec.floor, "desiredSize": spec.floor, "maxSize": spec.floor}
        assert inputs["labels"] == dict(spec.labels)
        assert inputs["instanceTypes"] == list(configs[stack].gpu_pools[name].instance_types)
        want_ami = "AL2023_x86_64_NVIDIA" if spec.gpu else "AL2023_x86_64_STANDARD"
        assert inputs["amiType"] == want_ami
        cluster = configs[stack].clusters[spec.cluster]
        assert inputs["releaseVersion"] == cluster.ami_release_version


@pytest.mark.parametrize("stack", STACKS)
def test_eks_burst_is_a_karpenter_nodepool_with_a_gpu_ceiling(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    nodepools = by_name(plans[stack], NODEPOOL)
    catalog = load_catalog()
    for name, pool in aws_pools(configs[stack]).items():
        cfg_pool = configs[stack].gpu_pools[name]
        burst = cfg_pool.nodes.max - cfg_pool.on_demand_floor
        if burst == 0:
            assert name not in nodepools
            continue
        spec = nodepools[name]["inputs"]["spec"]
        per_node = max(catalog.instances[t].gpus for t in cfg_pool.instance_types)
        if pool.gpu is not None:
            assert spec["limits"] == {"nvidia.com/gpu": str(burst * per_node)}
        else:
            vcpus = max(catalog.instances[t].vcpus for t in cfg_pool.instance_types)
            assert spec["limits"] == {"cpu": str(burst * vcpus)}
        reqs = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
        assert reqs["node.kubernetes.io/instance-type"] == list(cfg_pool.instance_types)
        want = (
            ["spot", "on-demand"]
            if cfg_pool.spot and cfg_pool.fallback is Fallback.ON_DEMAND
            else ["spot"]
            if cfg_pool.spot
            else ["on-demand"]
        )
        assert reqs["karpenter.sh/capacity-type"] == want
        assert spec["template"]["metadata"]["labels"] == dict(pool.labels)
        assert spec["template"]["spec"]["nodeClassRef"] == {
            "group": "karpenter.k8s.aws",
            "kind": "EC2NodeClass",
            "name": name,
        }


def _minutes(duration: str) -> float:
    units = {"s": 1 / 60, "m": 1, "h": 60}
    return float(duration[:-1]) * units[duration[-1]]


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_nodes_are_never_consolidated_within_minutes_of_going_idle(
    plans: dict[str, Plan], stack: str
) -> None:
    for name, res in by_name(plans[stack], NODEPOOL).items():
        disruption = res["inputs"]["spec"]["disruption"]
        assert disruption["consolidationPolicy"] == "WhenEmpty", name
        assert _minutes(disruption["consolidateAfter"]) >= 30, name
    for name, res in by_name(plans[stack], COMPUTE_CLASS).items():
        policy = res["inputs"]["spec"]["autoscalingPolicy"]
        assert policy["consolidationDelayMinutes"] >= 30, name
        assert policy["gpuConsolidationThreshold"] == 0, name


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_nodes_are_tainted_and_cpu_nodes_are_not(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    nodepools = by_name(plans[stack], NODEPOOL)
    groups = by_name(plans[stack], NODEGROUP)
    gpu_taint = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    for name, spec in aws_pools(configs[stack]).items():
        if name in nodepools:
            taints = nodepools[name]["inputs"]["spec"]["template"]["spec"]["taints"]
            assert (gpu_taint in taints) == (spec.gpu is not None), name
        if f"{name}-floor" in groups:
            taints = groups[f"{name}-floor"]["inputs"]["taints"]
            eks = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
            assert (eks in taints) == (spec.gpu is not None), name
    assert "taints" not in groups["system"]["inputs"] or not groups["system"]["inputs"]["taints"]


@pytest.mark.parametrize("stack", STACKS)
def test_ec2nodeclass_pins_the_ami_requires_imdsv2_encrypts_and_has_no_public_ip(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    classes = by_name(plans[stack], NODECLASS)
    assert set(classes) == set(by_name(plans[stack], NODEPOOL))
    for name, res in classes.items():
        spec = res["inputs"]["spec"]
        cluster = configs[stack].clusters[configs[stack].gpu_pools[name].cluster]
        assert cluster.ami_release_version is not None
        (term,) = spec["amiSelectorTerms"]
        assert term == {"alias": ami_alias(cluster.ami_release_version)}
        assert "latest" not in term["alias"]
        assert spec["metadataOptions"]["httpTokens"] == "required"
        assert spec["associatePublicIPAddress"] is False
        for device in spec["blockDeviceMappings"]:
            assert device["ebs"]["encrypted"] is True
        disk = configs[stack].gpu_pools[name].disk_gb
        assert spec["blockDeviceMappings"][0]["ebs"]["volumeSize"] == f"{disk}Gi"
        private = {
            resource_id(s["type"], s["name"])
            for s in plans[stack].by_type("aws:ec2/subnet:Subnet")
            if s["name"].startswith(f"{stack}-aws-private-")
        }
        assert {term["id"] for term in spec["subnetSelectorTerms"]} == private
        # Exactly one of role and instanceProfile (the CRD's CEL rule): the nodes' role.
        (node_role,) = [
            r
            for r in plans[stack].by_type("aws:iam/role:Role")
            if r["name"].endswith("-karpenter-node")
        ]
        assert spec["role"] == node_role["name"]
        assert "instanceProfile" not in spec


def test_ami_alias_is_derived_from_the_release() -> None:
    assert ami_alias("1.33.0-20250715") == "al2023@v20250715"


@pytest.mark.parametrize("stack", STACKS)
def test_launch_templates_require_imdsv2_and_encrypt_volumes(
    plans: dict[str, Plan], stack: str
) -> None:
    templates = plans[stack].by_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for lt in templates:
        inputs = lt["inputs"]
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        for device in inputs["blockDeviceMappings"]:
            assert device["ebs"]["encrypted"] == "true"
        assert "networkInterfaces" not in inputs or all(
            not ni.get("associatePublicIpAddress") for ni in inputs["networkInterfaces"]
        )


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_is_pinned_and_fed_by_interruption_events(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    plan = plans[stack]
    releases = [r for r in plan.by_type(RELEASE) if r["inputs"]["name"] == "karpenter"]
    (release,) = releases
    cluster = configs[stack].clusters[next(iter(aws_pools(configs[stack]).values())).cluster]
    assert release["inputs"]["version"] == cluster.karpenter_version
    assert release["inputs"]["skipCrds"] is True
    (crds,) = [r for r in plan.by_type(RELEASE) if r["inputs"]["name"] == "karpenter-crd"]
    assert crds["inputs"]["version"] == cluster.karpenter_version
    assert crds["urn"] in release["dependencies"]
    (queue,) = plan.by_type("aws:sqs/queue:Queue")
    assert release["inputs"]["values"]["settings"]["interruptionQueue"] == queue["inputs"]["name"]
    patterns = [
        json.loads(r["inputs"]["eventPattern"])
        for r in plan.by_type("aws:cloudwatch/eventRule:EventRule")
    ]
    kinds = {p["detail-type"][0] for p in patterns}
    assert kinds == {
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "AWS Health Event",
    }
    targets = plan.by_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 4
    region = configs[stack].aws.region  # type: ignore[union-attr]
    assert {t["inputs"]["arn"] for t in targets} == {
        f"arn:aws:sqs:{region}:123456789012:{queue['inputs']['name']}"
    }


def test_dev_gpu_pools_are_spot_only_and_scale_to_zero(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    cfg = configs["dev"]
    assert cfg.gpu_pools
    nodepools = by_name(plans["dev"], NODEPOOL)
    groups = by_name(plans["dev"], NODEGROUP)
    for name in cfg.gpu_pools:
        reqs = nodepools[name]["inputs"]["spec"]["template"]["spec"]["requirements"]
        capacity = next(r for r in reqs if r["key"] == "karpenter.sh/capacity-type")
        assert capacity["values"] == ["spot"], name
        assert f"{name}-floor" not in groups, f"dev pool {name} keeps nodes up"


def test_prod_has_on_demand_floors_and_spot_burst_on_both_clouds(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    plan = plans["prod"]
    groups = by_name(plan, NODEGROUP)
    gpu_floors = [
        g
        for n, g in groups.items()
        if n.endswith("-floor") and g["inputs"]["amiType"].endswith("NVIDIA")
    ]
    assert gpu_floors, "prod has no on-demand GPU floor on AWS"
    nodepools = by_name(plan, NODEPOOL)
    assert any(
        "spot" in r["values"]
        for np in nodepools.values()
        for r in np["inputs"]["spec"]["template"]["spec"]["requirements"]
        if r["key"] == "karpenter.sh/capacity-type"
    )
    gke = by_name(plan, GKE_POOL)
    assert any(p["inputs"]["nodeConfig"]["spot"] for n, p in gke.items() if n != "system")
    od = [p for n, p in gke.items() if n.endswith("-od")]
    assert od
    assert all(p["inputs"]["autoscaling"]["totalMinNodeCount"] >= 1 for p in od)


# ---------------------------------------------------------------------------
# MIG


def test_mig_parted_config_matches_the_catalog() -> None:
    config = mig_parted_config()
    catalog = load_catalog()
    layouts = config["mig-configs"]
    assert config["version"] == "v1"
    assert layouts["all-disabled"] == [{"devices": "all", "mig-enabled": False}]
    for gpu in catalog.gpus.values():
        for profile, row in gpu.mig.items():
            entries = layouts[f"all-{profile}"]
            matching = [
                e
                for e in entries
                if "device-filter" not in e or set(gpu.pci_device_ids) <= set(e["device-filter"])
            ]
            assert matching, f"{gpu.name} {profile}: no entry applies to this GPU"
            assert matching[0]["mig-devices"] == {profile: row.instances}, (gpu.name, profile)


def test_one_profile_name_with_different_counts_is_split_by_device() -> None:
    """1g.10gb is 4 per A100 40GB but 7 per A100 80GB or H100: NVIDIA's config filters by device."""
    entries = mig_parted_config()["mig-configs"]["all-1g.10gb"]
    counts = {e["mig-devices"]["1g.10gb"]: set(e["device-filter"]) for e in entries}
    catalog = load_catalog()
    assert set(catalog.gpus["A100-40GB"].pci_device_ids) <= counts[4]
    assert set(catalog.gpus["H100-80GB"].pci_device_ids) <= counts[7]
    assert not counts[4] & counts[7]


def test_no_layout_offers_a_profile_that_does_not_exist() -> None:
    """The B200 2g.40gb that a published blueprint shipped must not appear anywhere."""
    catalog = load_catalog()
    every = {p for g in catalog.gpus.values() for p in g.mig}
    for entries in mig_parted_config()["mig-configs"].values():
        for entry in entries:
            assert set(entry.get("mig-devices", {})) <= every
    assert "all-2g.40gb" not in mig_parted_config()["mig-configs"]


def test_mixed_layouts_are_named_and_filtered_to_their_gpu() -> None:
    h100 = load_catalog().gpus["H100-80GB"]
    mig = MigConfig(mixed={"1g.10gb": 2, "3g.40gb": 1})
    name = mig_layout_name(mig)
    assert name == "mixed-1x3g.40gb-2x1g.10gb"
    (entry,) = mig_parted_config(extra={name: [(h100, mig)]})["mig-configs"][name]
    assert entry["device-filter"] == list(h100.pci_device_ids)
    assert entry["mig-devices"] == {"1g.10gb": 2, "3g.40gb": 1}


@pytest.mark.parametrize("stack", STACKS)
def test_mig_layouts_on_nodes_exist_in_the_operator_config(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    plan = plans[stack]
    maps = [r for r in plan.by_type("kubernetes:core/v1:ConfigMap") if "mig-parted" in r["name"]]
    if not any(s.gpu and s.gpu.supports_mig for s in aws_pools(configs[stack]).values()):
        return
    (config_map,) = maps
    layouts = yaml.safe_load(config_map["inputs"]["data"]["config.yaml"])["mig-configs"]
    for name, spec in aws_pools(configs[stack]).items():
        layout = spec.labels.get(MIG_CONFIG_LABEL)
        if spec.gpu is not None and spec.gpu.supports_mig:
            assert layout in layouts, f"{stack}/{name}: {layout} is not in the mig-parted config"
        else:
            assert layout is None, f"{stack}/{name}: a MIG label on a GPU without MIG"


def test_prod_h100_pool_is_split_into_3g_40gb_slices(configs: dict[str, StackConfig]) -> None:
    spec = pool_specs(configs["prod"])["heavy-h100"]
    assert spec.labels[MIG_CONFIG_LABEL] == "all-3g.40gb"
    by_type = {s.instance_type: dict(s.resources) for s in spec.shapes}
    assert by_type == {
        "p5.48xlarge": {"nvidia.com/mig-3g.40gb": 16},
        "p5.4xlarge": {"nvidia.com/mig-3g.40gb": 2},
    }


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gpu_operator_is_pinned_with_mig_manager_and_dcgm_exporter(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    (release,) = [r for r in plans[stack].by_type(RELEASE) if r["inputs"]["name"] == "gpu-operator"]
    assert release["inputs"]["version"] == configs[stack].clusters["core-aws"].gpu_operator_version
    values = release["inputs"]["values"]
    assert values["migManager"]["enabled"] is True
    assert values["migManager"]["config"]["name"] == "llm-inference-mig-parted"
    assert values["mig"]["strategy"] == "mixed"
    assert values["dcgmExporter"]["enabled"] is True
    assert values["dcgmExporter"]["serviceMonitor"]["enabled"] is True
    assert values["driver"]["enabled"] is False  # the AL2023 NVIDIA AMI ships it


# ---------------------------------------------------------------------------
# GKE


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gke_gpu_node_pools_partition_mig_and_carry_labels_and_taints(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    gke = by_name(plans[stack], GKE_POOL)
    classes = by_name(plans[stack], COMPUTE_CLASS)
    for name, spec in gcp_pools(configs[stack]).items():
        assert {p.name for p in spec.gke_node_pools} <= set(gke)
        for plan in spec.gke_node_pools:
            node = gke[plan.name]["inputs"]
            config = node["nodeConfig"]
            assert config["machineType"] == plan.machine_type
            assert config["spot"] is plan.spot
            assert config["shieldedInstanceConfig"] == {
                "enableSecureBoot": True,
                "enableIntegrityMonitoring": True,
            }
            assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
            assert node["autoscaling"]["totalMinNodeCount"] == plan.min_nodes
            assert node["autoscaling"]["totalMaxNodeCount"] == plan.max_nodes
            assert config["labels"][tags.POOL_LABEL] == name
            assert config["labels"]["cloud.google.com/compute-class"] == name
            taints = {(t["key"], t["value"], t["effect"]) for t in config["taints"]}
            assert ("cloud.google.com/compute-class", name, "NO_SCHEDULE") in taints
            if spec.gpu is not None:
                assert ("nvidia.com/gpu", "present", "NO_SCHEDULE") in taints
                (acc,) = config["guestAccelerators"]
                assert acc["type"] == spec.gpu.gke_accelerator
                assert acc["count"] == load_catalog().instances[plan.machine_type].gpus
                cfg_pool = configs[stack].gpu_pools[name]
                assert acc.get("gpuPartitionSize") == (
                    cfg_pool.mig.profile if cfg_pool.mig else None
                )
        priorities = classes[name]["inputs"]["spec"]["priorities"]
        order = [p["nodepools"] for p in priorities]
        spot = [[p.name] for p in spec.gke_node_pools if p.spot]
        assert order[: len(spot)] == spot, "spot node pools come first"
        if spec.fallback is Fallback.ON_DEMAND:
            assert order[len(spot) :] == [[f"{name}-od"]]
        assert classes[name]["inputs"]["spec"]["whenUnsatisfiable"] == "DoNotScaleUp"


def test_gke_spot_pools_share_the_burst_and_on_demand_holds_the_floor() -> None:
    plans = gke_node_pool_plans(
        "p", ["a", "b"], floor=1, max_nodes=4, spot=True, fallback=Fallback.ON_DEMAND
    )
    assert [(p.name, p.machine_type, p.spot, p.min_nodes, p.max_nodes) for p in plans] == [
        ("p-od", "a", False, 1, 4),
        ("p-spot-0", "a", True, 0, 2),
        ("p-spot-1", "b", True, 0, 1),
    ]
    no_fallback = gke_node_pool_plans(
        "p", ["a", "b"], floor=0, max_nodes=2, spot=True, fallback=Fallback.NONE
    )
    assert [p.name for p in no_fallback] == ["p-spot-0", "p-spot-1"]
    assert sum(p.max_nodes for p in no_fallback) == 2


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gke_cluster_is_private_with_workload_identity_and_shielded_nodes(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    (cluster,) = plans[stack].by_type("gcp:container/cluster:Cluster")
    inputs = cluster["inputs"]
    cfg = configs[stack]
    assert cfg.gcp is not None
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert (
        inputs["privateClusterConfig"]["enablePrivateEndpoint"]
        is cfg.clusters["core-gcp"].private_endpoint
    )
    assert inputs["workloadIdentityConfig"] == {"workloadPool": f"{cfg.gcp.project}.svc.id.goog"}
    assert inputs["enableShieldedNodes"] is True
    assert inputs["releaseChannel"] == {"channel": cfg.clusters["core-gcp"].release_channel}
    assert inputs["deletionProtection"] is (stack == "prod")
    assert inputs["removeDefaultNodePool"] is True
    assert "DCGM" in inputs["monitoringConfig"]["enableComponents"]
    # NetworkPolicy enforced by Dataplane V2, without the Calico add-on it conflicts with.
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in inputs
    assert inputs["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}


# ---------------------------------------------------------------------------
# EKS cluster


@pytest.mark.parametrize("stack", STACKS)
def test_eks_cluster_is_private_encrypted_logged_and_uses_access_entries(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    (cluster,) = plans[stack].by_type("aws:eks/cluster:Cluster")
    inputs = cluster["inputs"]
    cfg_cluster = next(c for c in configs[stack].clusters.values() if c.cloud is Cloud.AWS)
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["endpointPublicAccess"] is (not cfg_cluster.private_endpoint)
    assert inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert set(inputs["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
    assert inputs["accessConfig"]["authenticationMode"] == "API"
    # No hidden admin for the creator: every admin is an access entry of the plan, the
    # role Pulumi runs as among them, and the Kubernetes provider waits for them.
    assert inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    assert cfg_cluster.admin_role_arns
    entries = {
        e["inputs"]["principalArn"]: e
        for e in plans[stack].by_type("aws:eks/accessEntry:AccessEntry")
        if e["inputs"]["type"] == "STANDARD"
    }
    admins = {
        a["inputs"]["principalArn"]: a
        for a in plans[stack].by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert set(entries) == set(admins) == set(cfg_cluster.admin_role_arns)
    (provider,) = [
        p
        for p in plans[stack].by_type("pulumi:providers:kubernetes")
        if ":EksCluster::" in (p["parent"] or "")
    ]
    assert {a["urn"] for a in admins.values()} <= set(provider["dependencies"])
    # The managed VPC CNI, pinned, with its network policy agent on: NetworkPolicies hold.
    (cni,) = [
        a
        for a in plans[stack].by_type("aws:eks/addon:Addon")
        if a["inputs"]["addonName"] == "vpc-cni"
    ]
    pinned = eks_addons().for_version(cfg_cluster.kubernetes_version)
    assert pinned is not None
    assert cni["inputs"]["addonVersion"] == pinned["vpc-cni"]
    assert json.loads(cni["inputs"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cluster["urn"] in cni["propertyDependencies"]["clusterName"]
    (key,) = [  # the cluster's key (the model store has its own)
        k for k in plans[stack].by_type("aws:kms/key:Key") if ":EksCluster::" in (k["parent"] or "")
    ]
    assert key["inputs"]["enableKeyRotation"] is True
    groups = {
        g["inputs"]["name"]: g
        for g in plans[stack].by_type("aws:cloudwatch/logGroup:LogGroup")
        if "name" in g["inputs"]
    }
    logs = groups[f"/aws/eks/{inputs['name']}/cluster"]
    assert logs["inputs"]["retentionInDays"] > 0
    (oidc,) = plans[stack].by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    system = by_name(plans[stack], NODEGROUP)["system"]["inputs"]
    assert system["capacityType"] == "ON_DEMAND"
    nodes = cfg_cluster.system_pool.nodes
    assert system["scalingConfig"]["minSize"] == nodes.min
    assert system["scalingConfig"]["maxSize"] == nodes.max


# ---------------------------------------------------------------------------
# Outputs


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_pool_outputs_report_ceilings_from_the_catalog(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    exported = plans[stack].outputs[out.GPU_POOLS]
    specs = pool_specs(configs[stack])
    assert set(exported) == set(specs)
    for name, spec in specs.items():
        row = exported[name]
        assert row["ceilingGpus"] == spec.ceiling_gpus
        assert row["tier"] == spec.tier.value
        if spec.tier is not Tier.CPU:
            assert row["ceilingGpus"] >= spec.max_nodes * spec.max_gpus_per_node > 0


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_outputs_carry_what_workload_identity_needs(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    clusters = plans[stack].outputs[out.CLUSTERS]
    for name, cluster in configs[stack].clusters.items():
        row = clusters[name]
        assert row["clusterName"] == f"{stack}-{name}"
        if cluster.cloud is Cloud.AWS:
            assert row["oidcProviderArn"].startswith("arn:aws:iam::")
            assert not row["oidcIssuer"].startswith("https://")
        else:
            assert row["workloadPool"].endswith(".svc.id.goog")


# ---------------------------------------------------------------------------
# Karpenter's controller: least privilege (Karpenter's reference policy)

_READS = ("ec2:Describe", "pricing:Get", "ssm:Get", "iam:Get", "eks:Describe", "sqs:Get")
_SHARED_INPUTS = re.compile(
    r"arn:aws:ec2:[a-z0-9-]+:(\*)?:(image|snapshot|security-group|subnet|capacity-reservation)/\*"
)
"""What RunInstances/CreateFleet read to launch (AMIs, the VPC's subnets and groups): not
created, changed or deleted by the call, so upstream leaves them unconditioned."""


def _karpenter_policy(plan: Plan) -> dict[str, Any]:
    (policy,) = [
        r
        for r in plan.by_type("aws:iam/rolePolicy:RolePolicy")
        if r["name"].endswith("-gpu-karpenter")
    ]
    return json.loads(policy["inputs"]["policy"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tag_conditions(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for block in statement.get("Condition", {}).values()
        for key, value in block.items()
    }


def _cluster_name(plan: Plan) -> str:
    (cluster,) = plan.by_type("aws:eks/cluster:Cluster")
    return str(cluster["inputs"]["name"])


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_writes_are_conditioned_on_the_cluster_tag(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    plan = plans[stack]
    cluster = _cluster_name(plan)
    owned = f"kubernetes.io/cluster/{cluster}"
    (queue,) = plan.by_type("aws:sqs/queue:Queue")
    region = configs[stack].aws.region  # type: ignore[union-attr]
    queue_arn = f"arn:aws:sqs:{region}:123456789012:{queue['inputs']['name']}"
    for statement in _karpenter_policy(plan)["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _as_list(statement["Action"])
        writes = [a for a in actions if not a.startswith(_READS)]
        resources = _as_list(statement["Resource"])
        if not writes:
            continue
        sid = statement["Sid"]
        assert "*" not in resources, f"{sid}: writes {writes} on '*'"
        if writes == ["iam:PassRole"] or resources == [queue_arn]:
            continue  # the node role and the cluster's own queue, by ARN (next tests)
        if all(_SHARED_INPUTS.fullmatch(r) for r in resources):
            assert set(writes) == {"ec2:RunInstances", "ec2:CreateFleet"}, sid
            continue
        conditions = _tag_conditions(statement)
        tagged = {
            conditions.get(f"aws:ResourceTag/{owned}"),
            conditions.get(f"aws:RequestTag/{owned}"),
        }
        assert "owned" in tagged, f"{sid}: {writes} not conditioned on {owned}=owned"
        assert any(
            k.endswith(("karpenter.sh/nodepool", "karpenter.k8s.aws/ec2nodeclass"))
            for k in conditions
        ), f"{sid}: no Karpenter tag condition"


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_passes_only_its_node_role_to_ec2(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    (node_role,) = [
        r for r in plan.by_type("aws:iam/role:Role") if r["name"].endswith("-karpenter-node")
    ]
    passing = [
        s
        for s in _karpenter_policy(plan)["Statement"]
        if any(a.lower().startswith("iam:pass") or a == "*" for a in _as_list(s["Action"]))
    ]
    (statement,) = passing
    assert statement["Resource"] == f"arn:aws:iam::123456789012:role/{node_role['name']}"
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
    }


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_tags_its_resources_with_what_its_policy_expects(
    plans: dict[str, Plan], stack: str
) -> None:
    """The conditions name the cluster Karpenter is told it runs in (it tags with that
    name), and no EC2NodeClass sets a tag Karpenter reserves (the CRD would refuse it)."""
    plan = plans[stack]
    cluster = _cluster_name(plan)
    (release,) = [r for r in plan.by_type(RELEASE) if r["inputs"]["name"] == "karpenter"]
    assert release["inputs"]["values"]["settings"]["clusterName"] == cluster
    keys = {k for s in _karpenter_policy(plan)["Statement"] for k in _tag_conditions(s)}
    assert f"aws:ResourceTag/kubernetes.io/cluster/{cluster}" in keys
    for name, res in by_name(plan, NODECLASS).items():
        for key in res["inputs"]["spec"].get("tags", {}):
            assert not any(fnmatch.fnmatchcase(key, r) for r in RESTRICTED_NODECLASS_TAGS), (
                f"{name}: tag {key} is Karpenter's own"
            )


def test_karpenter_policy_statements_follow_the_reference_policy() -> None:
    doc = controller_policy(
        partition="aws",
        region="eu-west-1",
        account="123456789012",
        cluster="c1",
        queue_arn="arn:aws:sqs:eu-west-1:123456789012:c1",
        node_role_arn="arn:aws:iam::123456789012:role/c1-node",
    )
    assert [s["Sid"] for s in doc["Statement"]] == [
        "AllowScopedEC2InstanceAccessActions",
        "AllowScopedEC2LaunchTemplateAccessActions",
        "AllowScopedEC2InstanceActionsWithTags",
        "AllowScopedResourceCreationTagging",
        "AllowScopedResourceTagging",
        "AllowScopedDeletion",
        "AllowRegionalReadActions",
        "AllowSSMReadActions",
        "AllowPricingReadActions",
        "AllowInterruptionQueueActions",
        "AllowPassingInstanceRole",
        "AllowScopedInstanceProfileCreationActions",
        "AllowScopedInstanceProfileTagActions",
        "AllowScopedInstanceProfileActions",
        "AllowInstanceProfileReadActions",
        "AllowAPIServerEndpointDiscovery",
    ]
    deletion = next(s for s in doc["Statement"] if s["Sid"] == "AllowScopedDeletion")
    assert deletion["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/c1": "owned"
    }


def test_the_reserved_tags_are_the_ec2nodeclass_crds_restricted_tags() -> None:
    """The tags the component refuses are those Karpenter v1.6.5's CRD refuses in
    ``spec.tags`` (its CEL rules), the ones the controller policy's conditions rest on."""
    crd_file = (
        UPSTREAM
        / "aws+karpenter-provider-aws/v1.6.5/pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml"
    )
    if not crd_file.exists():
        pytest.skip(f"no upstream facts at {crd_file}")
    crd = yaml.safe_load(crd_file.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    tags = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tags"]
    prefix = "tag contains a restricted tag matching "
    restricted = {
        rule["message"].removeprefix(prefix).strip()
        for rule in tags["x-kubernetes-validations"]
        if rule["message"].startswith(prefix)
    }
    assert restricted == {t.replace("/*", "/") for t in RESTRICTED_NODECLASS_TAGS}
