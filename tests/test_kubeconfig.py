"""Every cluster exports its kubeconfig, and it stays secret: in the recorded plan, in
the Kubernetes providers' inputs and in the outputs the preview prints."""

from __future__ import annotations

import pytest

from blueprint import outputs as out
from tools.preview.outputs import masked_outputs, show
from tools.preview.recorder import SECRET, Plan
from tools.preview.run import preview_stacks

# Text only a rendered kubeconfig holds: the exec plugins of EKS and GKE.
KUBECONFIG_TEXT = ("get-token", "gke-gcloud-auth-plugin", "client.authentication.k8s.io")


@pytest.fixture(scope="module")
def staging() -> Plan:
    """staging has both an EKS and a GKE cluster."""
    (result,) = preview_stacks(["staging"])
    assert result.plan is not None, result.error
    return result.plan


def test_every_cluster_exports_a_secret_kubeconfig(staging: Plan) -> None:
    clusters = staging.outputs[out.CLUSTERS]
    assert {c["cloud"] for c in clusters.values()} == {"aws", "gcp"}
    for name, cluster in clusters.items():
        assert cluster["kubeconfig"] == SECRET, name
        assert (out.CLUSTERS, name, "kubeconfig") in staging.secret_outputs


def test_no_kubeconfig_text_is_in_the_plan(staging: Plan) -> None:
    text = staging.dumps()
    for fragment in KUBECONFIG_TEXT:
        assert fragment not in text
    providers = staging.by_type("pulumi:providers:kubernetes")
    assert providers, "the clusters' Kubernetes providers are recorded"
    for provider in providers:
        assert provider["inputs"]["kubeconfig"] == SECRET, provider["name"]


def test_printed_outputs_mask_the_kubeconfig(staging: Plan) -> None:
    shown = masked_outputs(staging.outputs, staging.secret_outputs)
    line = show(shown[out.CLUSTERS], limit=100_000)
    assert '"kubeconfig": [secret]' in line
    for fragment in KUBECONFIG_TEXT:
        assert fragment not in line
