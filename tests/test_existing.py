"""Adopting what a team has: ``aws.existingVpc``, ``gcp.existingNetwork``, ``clusters.*.existing``.

The committed stacks, patched to point at an existing VPC, network and clusters, are
recorded under the offline mocks (which answer the lookups): nothing of the network or
the clusters is created, and the given ids reach everything placed in them. The config
refusals live in ``config_cases/existing-*.yaml`` and ``aws-without-network.yaml``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pulumi
import pytest
import yaml

from blueprint.config import validate_config
from blueprint.config.loader import StackSource
from blueprint.cost.estimate import estimate
from blueprint.network import gcp_network_id, gcp_network_project, gcp_subnetwork_id
from components._inputs import node_skew_problem
from tests.conftest import REPO, set_path, stack_document, unset_path
from tools.preview.mocks import BlueprintMocks
from tools.preview.recorder import Plan, RecordingMonitor, record_program
from tools.preview.run import secrets_needed

VPC = "vpc-0a1b2c3d4e5f60718"
SUBNETS = {
    "us-east-1a": "subnet-0a1b2c3d4e5f60710",
    "us-east-1b": "subnet-0a1b2c3d4e5f60711",
    "us-east-1c": "subnet-0a1b2c3d4e5f60712",
}
EKS_NAME = "team-inference"
NODE_ROLE = "arn:aws:iam::123456789012:role/team-inference-nodes"
GKE_NAME = "team-inference-gke"
NODE_ACCOUNT = "gke-nodes@acme-llm-prod.iam.gserviceaccount.com"
HOST_NETWORK = "projects/acme-shared-vpc/global/networks/shared"

NETWORK_TYPES = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/flowLog:FlowLog",
    "gcp:compute/network:Network",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/router:Router",
    "gcp:compute/routerNat:RouterNat",
}
CLUSTER_TYPES = {
    "aws:eks/cluster:Cluster",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "gcp:container/cluster:Cluster",
}
CREATING_COMPONENTS = {
    "llm-inference:aws:Network",
    "llm-inference:gcp:Network",
    "llm-inference:aws:EksCluster",
    "llm-inference:gcp:GkeCluster",
}


def adopting_prod() -> dict[str, Any]:
    """prod, pointed at an existing VPC, a Shared VPC network and both clusters."""
    doc = stack_document("prod")
    for key in (
        "aws.vpcCidr",
        "aws.natGateways",
        "gcp.networkCidr",
        "gcp.podsCidr",
        "gcp.servicesCidr",
        "clusters.core-aws.privateEndpoint",
        "clusters.core-aws.adminRoleArns",
        "clusters.core-gcp.privateEndpoint",
        "clusters.core-gcp.releaseChannel",
    ):
        unset_path(doc, key)
    set_path(doc, "aws.existingVpc", {"vpcId": VPC, "privateSubnetIds": SUBNETS})
    set_path(
        doc,
        "gcp.existingNetwork",
        {
            "network": HOST_NETWORK,
            "subnetwork": "llm-us-central1",
            "podRange": "gke-pods",
            "serviceRange": "gke-services",
        },
    )
    set_path(doc, "clusters.core-aws.existing", {"name": EKS_NAME, "nodeRoleArn": NODE_ROLE})
    set_path(
        doc, "clusters.core-gcp.existing", {"name": GKE_NAME, "nodeServiceAccount": NODE_ACCOUNT}
    )
    return doc


def record(stack: str, doc: dict[str, Any]) -> Plan:
    raw = doc["config"]
    cfg = validate_config(raw, StackSource(f"Pulumi.{stack}.yaml", None))
    return record_program(stack, raw, placeholders=list(secrets_needed(cfg)))


@pytest.fixture(scope="module")
def adopted() -> Plan:
    return record("prod", adopting_prod())


def test_the_types_checked_are_what_a_created_network_and_cluster_register() -> None:
    """Keeps the absence checks below from passing on a misspelt type."""
    golden = json.loads((REPO / "tests" / "golden" / "prod.json").read_text())
    types = {r["type"] for r in golden["resources"]}
    assert types >= NETWORK_TYPES | CLUSTER_TYPES | CREATING_COMPONENTS


def test_nothing_of_the_network_or_the_clusters_is_created(adopted: Plan) -> None:
    types = {r["type"] for r in adopted.resources}
    assert types & (NETWORK_TYPES | CLUSTER_TYPES) == set()
    assert types & CREATING_COMPONENTS == set()
    assert {"llm-inference:aws:ExistingEksCluster", "llm-inference:gcp:ExistingGkeCluster"} <= types
    # Only the system node group belonged to the cluster; the pools' floors are the stack's.
    assert all(r["name"].endswith("-floor") for r in adopted.by_type("aws:eks/nodeGroup:NodeGroup"))


def test_the_vpc_ids_reach_eks_capacity_and_the_outputs(adopted: Plan) -> None:
    ordered = list(SUBNETS.values())
    floors = adopted.by_type("aws:eks/nodeGroup:NodeGroup")
    assert floors
    for group in floors:
        assert group["inputs"]["clusterName"] == EKS_NAME
        assert group["inputs"]["subnetIds"] == ordered
        assert group["inputs"]["nodeRoleArn"] == NODE_ROLE
    classes = adopted.by_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    assert classes
    for node_class in classes:
        # Karpenter selects the given subnets by id: they need no discovery tag.
        assert node_class["inputs"]["spec"]["subnetSelectorTerms"] == [{"id": s} for s in ordered]
    assert adopted.outputs["awsVpcId"] == VPC
    assert adopted.outputs["awsPrivateSubnetIds"] == ordered


def test_karpenter_and_irsa_use_the_adopted_cluster(adopted: Plan) -> None:
    (karpenter,) = [
        r
        for r in adopted.by_type("kubernetes:helm.sh/v3:Release")
        if r["name"].endswith("-karpenter")
    ]
    settings = karpenter["inputs"]["values"]["settings"]
    assert settings["clusterName"] == EKS_NAME
    assert settings["interruptionQueue"] == f"{EKS_NAME}-karpenter"
    # The mocks answer get_cluster and the OIDC provider lookup from the cluster's issuer.
    trusts = [
        json.loads(r["inputs"]["assumeRolePolicy"])
        for r in adopted.by_type("aws:iam/role:Role")
        if "AssumeRoleWithWebIdentity" in r["inputs"]["assumeRolePolicy"]
    ]
    assert trusts
    for trust in trusts:
        principal = trust["Statement"][0]["Principal"]["Federated"]
        (condition,) = {
            k.rsplit(":", 1)[0] for k in trust["Statement"][0]["Condition"]["StringEquals"]
        }
        assert principal.endswith(f":oidc-provider/{condition}")


def test_kubernetes_providers_point_at_the_adopted_clusters(adopted: Plan) -> None:
    names = {
        json.loads(r["inputs"]["kubeconfig"])["current-context"]
        for r in adopted.by_type("pulumi:providers:kubernetes")
    }
    assert names == {EKS_NAME, GKE_NAME}
    clusters = adopted.outputs["clusters"]
    assert clusters["core-aws"]["clusterName"] == EKS_NAME
    assert clusters["core-gcp"]["clusterName"] == GKE_NAME


def test_the_network_names_reach_gke_pools_and_vertex(adopted: Plan) -> None:
    pools = adopted.by_type("gcp:container/nodePool:NodePool")
    assert pools
    for pool in pools:
        assert pool["inputs"]["cluster"] == GKE_NAME
        assert pool["inputs"]["nodeConfig"]["serviceAccount"] == NODE_ACCOUNT
    (policy,) = adopted.by_type(
        "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy"
    )
    # A Shared VPC: the policy lives in the host project, on the host's subnetwork.
    assert policy["inputs"]["project"] == "acme-shared-vpc"
    assert policy["inputs"]["network"] == HOST_NETWORK
    assert policy["inputs"]["pscConfig"]["subnetworks"] == [
        "projects/acme-shared-vpc/regions/us-central1/subnetworks/llm-us-central1"
    ]
    assert adopted.outputs["gcpNetwork"] == "shared"


def test_an_existing_vpc_alone_keeps_a_created_cluster_in_its_subnets() -> None:
    doc = stack_document("dev")
    unset_path(doc, "aws.vpcCidr")
    unset_path(doc, "aws.natGateways")
    subnets = {z: SUBNETS[z] for z in ("us-east-1a", "us-east-1b")}
    set_path(doc, "aws.existingVpc", {"vpcId": VPC, "privateSubnetIds": subnets})
    plan = record("dev", doc)
    assert {r["type"] for r in plan.resources} & NETWORK_TYPES == set()
    (cluster,) = plan.by_type("aws:eks/cluster:Cluster")
    assert cluster["inputs"]["vpcConfig"]["subnetIds"] == list(subnets.values())


def adopting_dev(**existing: str) -> dict[str, Any]:
    """dev on an existing VPC and an adopted EKS cluster."""
    doc = stack_document("dev")
    for key in (
        "aws.vpcCidr",
        "aws.natGateways",
        "clusters.core-aws.privateEndpoint",
        "clusters.core-aws.adminRoleArns",
    ):
        unset_path(doc, key)
    subnets = {z: SUBNETS[z] for z in ("us-east-1a", "us-east-1b")}
    set_path(doc, "aws.existingVpc", {"vpcId": VPC, "privateSubnetIds": subnets})
    set_path(doc, "clusters.core-aws.existing", {"name": EKS_NAME, **existing})
    return doc


def record_with_another_clusters_oidc_provider() -> None:
    arn = (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
        "0123456789ABCDEF0123456789ABCDEF"
    )
    record("dev", adopting_dev(oidcProviderArn=arn))


class OlderControlPlane(BlueprintMocks):
    """Mocks whose adopted EKS cluster reports Kubernetes 1.30 (dev's nodes are 1.33)."""

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        result, failures = super().call(args)
        if args.token == "aws:eks/getCluster:getCluster":
            result = {**result, "version": "1.30"}
        return result, failures


def record_on_an_older_control_plane() -> None:
    doc = adopting_dev()
    raw = doc["config"]
    cfg = validate_config(raw, StackSource("Pulumi.dev.yaml", None))
    monitor = RecordingMonitor(OlderControlPlane())
    record_program("dev", raw, monitor=monitor, placeholders=list(secrets_needed(cfg)))


def failing_run(function: str) -> str:
    """stderr of ``function`` of this module, run in a process of its own: a program that
    fails half-way leaves Pulumi's runtime with failed registrations that the next
    recording in this process would report."""
    code = f"import tests.test_existing as t; t.{function}()"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode != 0
    return run.stderr


def test_a_given_oidc_provider_of_another_cluster_stops_the_program() -> None:
    stderr = failing_run("record_with_another_clusters_oidc_provider")
    assert f"is not EKS cluster {EKS_NAME}'s (its issuer is oidc.eks.us-east-1" in stderr


def test_nodes_newer_than_the_adopted_control_plane_stop_the_program() -> None:
    stderr = failing_run("record_on_an_older_control_plane")
    assert (
        f"EKS cluster {EKS_NAME}: nodes of Kubernetes 1.33 would be newer than the control "
        "plane (1.30)" in stderr
    )


def test_the_estimate_leaves_out_what_the_stack_does_not_create() -> None:
    doc = adopting_prod()
    cfg = validate_config(doc["config"], StackSource("Pulumi.prod.yaml", None))
    names = {line.name for line in estimate(cfg, "prod").lines}
    assert not {n for n in names if "control plane" in n or n.endswith(" system")}
    assert not {n for n in names if "NAT" in n}
    created = stack_document("prod")
    cfg = validate_config(created["config"], StackSource("Pulumi.prod.yaml", None))
    names = {line.name for line in estimate(cfg, "prod").lines}
    assert {"core-aws control plane", "AWS NAT gateways", "GCP Cloud NAT"} <= names


def test_network_references_normalize_to_ids() -> None:
    assert gcp_network_id("shared", "acme") == "projects/acme/global/networks/shared"
    link = "https://www.googleapis.com/compute/v1/projects/host-prj/global/networks/shared"
    assert gcp_network_id(link, "acme") == "projects/host-prj/global/networks/shared"
    assert gcp_network_project(link, "acme") == "host-prj"
    assert gcp_network_project("shared", "acme") == "acme"
    assert (
        gcp_subnetwork_id("llm", "host-prj", "us-central1")
        == "projects/host-prj/regions/us-central1/subnetworks/llm"
    )


@pytest.mark.parametrize(
    ("control_plane", "nodes", "problem"),
    [
        ("1.33", "1.33", None),
        ("1.33.5-gke.1200", "1.30", None),
        ("v1.33.2-eks-1234", "1.34", "newer than the control plane"),
        ("1.33", "1.29", "more than 3 minor versions"),
        (None, "1.34", None),  # not reported (the offline mocks): nothing to compare
    ],
)
def test_nodes_join_an_adopted_control_plane_within_the_skew_policy(
    control_plane: str | None, nodes: str, problem: str | None
) -> None:
    found = node_skew_problem(control_plane, nodes)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_the_readme_example_is_a_valid_stack() -> None:
    """README's 'Adopting what a team already has' example, put into prod in place of
    what it replaces, validates: the documented keys and values are the schema's."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Adopting what a team already has", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    example = yaml.safe_load(match.group(1))
    doc = stack_document("prod")
    for key in (
        "aws.vpcCidr",
        "aws.natGateways",
        "gcp.networkCidr",
        "gcp.podsCidr",
        "gcp.servicesCidr",
        "clusters.core-aws.privateEndpoint",
        "clusters.core-aws.adminRoleArns",
        "clusters.core-gcp.privateEndpoint",
        "clusters.core-gcp.releaseChannel",
    ):
        unset_path(doc, key)
    config = doc["config"]
    config["llm-inference:aws"].update(example["llm-inference:aws"])
    config["llm-inference:gcp"].update(example["llm-inference:gcp"])
    for name, cluster in example["llm-inference:clusters"].items():
        config["llm-inference:clusters"][name].update(cluster)
    # prod runs in three zones; the example shows two.
    config["llm-inference:aws"]["availabilityZones"] = ["us-east-1a", "us-east-1b"]
    cfg = validate_config(config, StackSource("Pulumi.prod.yaml", None))
    assert cfg.aws is not None
    assert cfg.aws.existing_vpc is not None
    assert cfg.clusters["core-gcp"].existing is not None
