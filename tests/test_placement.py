"""The placement rule's building blocks: quantities, toleration matching, the cluster handle."""

from __future__ import annotations

import json
from fractions import Fraction

import pulumi
import pytest

from blueprint.capacity import AWS_GPU_TAINT, GKE_GPU_TAINT, Taint
from blueprint.placement import quantity, tolerates
from blueprint.schema import Toleration
from components.k8s.handle import ClusterHandle, irsa_trust_policy


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("4", 4),
        ("16Gi", 16 * 2**30),
        ("512Mi", 2**29),
        ("1.5", Fraction(3, 2)),
    ],
)
def test_quantities(text: str, value: Fraction) -> None:
    assert quantity(text) == value


def test_exists_toleration_matches_any_value_of_its_key() -> None:
    tol = [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
    assert tolerates(tol, AWS_GPU_TAINT)
    assert tolerates(tol, GKE_GPU_TAINT)
    assert not tolerates(tol, Taint("nvidia.com/gpu", "true", "NoExecute"))
    assert not tolerates(tol, Taint("other", "x", "NoSchedule"))


def test_equal_toleration_needs_the_value() -> None:
    tol = [Toleration(key="nvidia.com/gpu", operator="Equal", value="true")]
    assert tolerates(tol, AWS_GPU_TAINT)
    assert not tolerates(tol, GKE_GPU_TAINT)


def test_empty_key_with_exists_tolerates_everything() -> None:
    assert tolerates([Toleration(key="", operator="Exists")], Taint("a", "b", "NoExecute"))


def test_irsa_trust_policy_is_scoped_to_one_service_account() -> None:
    doc = json.loads(
        irsa_trust_policy(
            "arn:aws:iam::1:oidc-provider/oidc.eks.x/id/AB", "oidc.eks.x/id/AB", "serving", "triton"
        )
    )
    (stmt,) = doc["Statement"]
    assert stmt["Principal"] == {"Federated": "arn:aws:iam::1:oidc-provider/oidc.eks.x/id/AB"}
    assert stmt["Condition"]["StringEquals"] == {
        "oidc.eks.x/id/AB:sub": "system:serviceaccount:serving:triton",
        "oidc.eks.x/id/AB:aud": "sts.amazonaws.com",
    }


def test_handle_refuses_the_other_clouds_identity() -> None:
    gke = ClusterHandle(
        name="core-gcp",
        cloud="gcp",
        region="us-central1",
        cluster_name=pulumi.Output.from_input("c"),
        provider=None,  # type: ignore[arg-type]
        endpoint=pulumi.Output.from_input("e"),
        workload_pool="p.svc.id.goog",
    )
    assert gke.workload_identity_member("serving", "triton") == (
        "serviceAccount:p.svc.id.goog[serving/triton]"
    )
    with pytest.raises(ValueError, match="not an EKS cluster"):
        gke.irsa_assume_role_policy("serving", "triton")
