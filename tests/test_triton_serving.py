"""Triton serving and model stores under Pulumi's mocks: rendered Kubernetes
manifests pass the official schemas (kubernetes-validate), no static keys, no
latest tags, restricted model control; buckets private, versioned, encrypted,
TLS-only, with content-addressed object keys."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pytest

from blueprint.modelrepo.snapshot import snapshot
from components.k8s.triton import (
    RESTRICTED_APIS,
    TritonServingArgs,
    queue_time_target_us,
    triton_command,
    validate_args,
)
from tests.conftest import REPO
from tools.preview.recorder import Plan, record_program

K8S_VERSION = "1.33.0"

PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_kubernetes as k8s
    from components.k8s.triton import Toleration, TritonServing, TritonServingArgs

    provider = k8s.Provider("cluster", kubeconfig="{}")
    TritonServing(
        "embed-guard",
        TritonServingArgs(
            namespace="inference",
            image="nvcr.io/nvidia/tritonserver:24.10-py3",
            models=["text_embedding", "prompt_guard"],
            variant="gpu",
            repository_uri="s3://acme-model-repo/model_repo/0123456789abcdef",
            tenant="shared",
            replicas_min=MIN,
            replicas_max=12,
            requests={"cpu": "2", "memory": "8Gi"},
            limits={"nvidia.com/gpu": "1"},
            node_selector={"llm-inference/pool": "light-l4"},
            tolerations=[Toleration(key="nvidia.com/gpu", effect="NoSchedule")],
            queue_time_target_us=20000,
            exit_timeout_s=30,
            env={"AWS_DEFAULT_REGION": "us-east-1"},
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    """
)


def render(tmp_path: Path, replicas_min: int = 2) -> Plan:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM.replace("MIN", str(replicas_min)))
    return record_program("test", {}, program=program)


def manifests(plan: Plan) -> list[dict[str, Any]]:
    out = []
    for r in plan.custom:
        if not r["type"].startswith("kubernetes:") or r["type"].startswith("pulumi:providers"):
            continue
        inputs = dict(r["inputs"])
        if "apiVersion" not in inputs:
            continue
        out.append(inputs)
    return out


def by_kind(plan: Plan, kind: str) -> dict[str, Any]:
    (found,) = [m for m in manifests(plan) if m["kind"] == kind]
    return found


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return render(tmp_path_factory.mktemp("serving"))


def test_every_manifest_passes_the_official_kubernetes_schema(plan: Plan) -> None:
    kinds = sorted(m["kind"] for m in manifests(plan))
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    for manifest in manifests(plan):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_deployment_is_pinned_probed_bounded_and_restricted(plan: Plan) -> None:
    dep = by_kind(plan, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "nvcr.io/nvidia/tritonserver:24.10-py3"
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(c)
    assert c["resources"]["limits"] == {"nvidia.com/gpu": "1", "memory": "8Gi"}
    assert c["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert any(m["mountPath"] == "/dev/shm" for m in c["volumeMounts"])
    assert pod["terminationGracePeriodSeconds"] > 30  # longer than --exit-timeout-secs
    script = c["command"][-1]
    assert "--exit-timeout-secs=30" in script
    assert "--model-control-mode=explicit" in script
    assert "--load-model=text_embedding" in script
    assert "--load-model=prompt_guard" in script
    assert "--model-config-name=gpu" in script
    for api in RESTRICTED_APIS:
        assert api in script.split("--http-restricted-api=")[1].split(":")[0]
        assert api in script.split("--grpc-restricted-protocol=")[1].split(":")[0]
    assert "--model-repository=s3://acme-model-repo/model_repo/0123456789abcdef" in script
    # restricted pod security
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert {t["topologyKey"] for t in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert "replicas" not in dep["spec"]  # the HPA owns it


def test_no_static_cloud_keys_anywhere(plan: Plan) -> None:
    text = json.dumps(manifests(plan))
    for forbidden in (
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        assert forbidden not in text
    assert not [m for m in manifests(plan) if m["kind"] == "Secret"]
    assert ":latest" not in text


def test_hpa_scales_on_queue_time_through_prometheus_adapter(plan: Plan) -> None:
    hpa = by_kind(plan, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "triton_queue_time_per_request_us"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "20000"}
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["maxReplicas"] == 12


def test_pdb_and_service_select_the_pods(plan: Plan) -> None:
    labels = by_kind(plan, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget",):
        sel = by_kind(plan, kind)["spec"]["selector"]["matchLabels"]
        assert sel.items() <= labels.items()
    svc = by_kind(plan, "Service")
    assert svc["spec"]["selector"].items() <= labels.items()
    assert {p["port"] for p in svc["spec"]["ports"]} == {8000, 8001, 8002}


def test_a_deployment_with_min_zero_is_parked(tmp_path: Path) -> None:
    plan = render(tmp_path, replicas_min=0)
    assert by_kind(plan, "Deployment")["spec"]["replicas"] == 0
    assert not [m for m in manifests(plan) if m["kind"] == "HorizontalPodAutoscaler"]
    for manifest in manifests(plan):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("nvcr.io/nvidia/tritonserver:latest", "pinned"),
        ("nvcr.io/nvidia/tritonserver", "pinned"),
    ],
)
def test_unpinned_images_are_refused(image: str, message: str) -> None:
    args = TritonServingArgs(
        namespace="n",
        image=image,
        models=["m"],
        repository_uri="s3://b/p",
        tenant="t",
        replicas_min=1,
        replicas_max=2,
    )
    with pytest.raises(pulumi.InputPropertiesError, match=message):
        validate_args(args)


def test_every_bad_input_is_reported_at_once() -> None:
    """pulumi-eks style: one InputPropertiesError naming each bad property."""
    args = TritonServingArgs(
        namespace="n",
        image="nvcr.io/nvidia/tritonserver:latest",
        models=[],
        repository_uri="s3://b/p",
        tenant="t",
        replicas_min=3,
        replicas_max=2,
    )
    with pytest.raises(pulumi.InputPropertiesError) as info:
        validate_args(args, "prod-chat")
    assert [e["property_path"] for e in info.value.errors or []] == [
        "image",
        "models",
        "replicas_max",
    ]
    assert "prod-chat: 3 invalid inputs" in info.value.message


def test_command_execs_triton_so_it_gets_sigterm() -> None:
    args = TritonServingArgs(
        namespace="n",
        image="i:1",
        models=["m"],
        repository_uri="gs://b/p",
        tenant="t",
        replicas_min=1,
        replicas_max=2,
    )
    cmd = triton_command(args, "gs://b/p")
    assert cmd[:2] == ["/bin/sh", "-c"]
    assert "; exec tritonserver " in cmd[2]
    assert queue_time_target_us(200) == 20000


# ---------------------------------------------------------------------------
# Model stores

STORE_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_aws as aws
    import pulumi_gcp as gcp
    from blueprint.modelrepo.snapshot import snapshot
    from components.aws.model_store import AwsModelStore, AwsModelStoreArgs
    from components.gcp.model_store import GcpModelStore, GcpModelStoreArgs
    from components.k8s.handle import irsa_trust_policy

    snap = snapshot(["text_embedding", "prompt_guard"])
    aws_store = AwsModelStore(
        "repo-aws",
        AwsModelStoreArgs(
            bucket_name="acme-test-model-repo",
            snapshot=snap,
            readers={"embed-guard": irsa_trust_policy(
                "arn:aws:iam::123456789012:oidc-provider/oidc.eks.example/id/X",
                "oidc.eks.example/id/X", "inference", "embed-guard")},
        ),
        opts=pulumi.ResourceOptions(provider=aws.Provider("aws", region="us-east-1")),
    )
    gcp_store = GcpModelStore(
        "repo-gcp",
        GcpModelStoreArgs(
            project="acme-test", location="us-central1", bucket_name="acme-test-model-repo",
            snapshot=snap, reader_service_accounts=["inference/embed-guard"],
        ),
        opts=pulumi.ResourceOptions(provider=gcp.Provider("gcp", project="acme-test")),
    )
    pulumi.export("awsUri", aws_store.repository_uri)
    pulumi.export("gcpUri", gcp_store.repository_uri)
    """
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    program = tmp_path_factory.mktemp("stores") / "program.py"
    program.write_text(STORE_PROGRAM)
    return record_program("test", {}, program=program)


def test_objects_are_content_addressed(stores: Plan) -> None:
    snap = snapshot(["text_embedding", "prompt_guard"])
    keys = sorted(
        o["inputs"]["key"] for o in stores.by_type("aws:s3/bucketObjectv2:BucketObjectv2")
    )
    assert keys == sorted(f"model_repo/{snap.short}/{f.key}" for f in snap.files)
    assert "model_repo/" + snap.short + "/text_embedding/config.pbtxt" in keys
    assert not [k for k in keys if "__pycache__" in k]
    names = sorted(
        o["inputs"]["name"] for o in stores.by_type("gcp:storage/bucketObject:BucketObject")
    )
    assert names == keys
    assert stores.outputs["awsUri"] == f"s3://acme-test-model-repo/model_repo/{snap.short}"
    assert stores.outputs["gcpUri"] == f"gs://acme-test-model-repo/model_repo/{snap.short}"


def test_snapshot_digest_is_stable_and_follows_content(tmp_path: Path) -> None:
    repo = tmp_path / "model_repo"
    shutil.copytree(REPO / "model_repo" / "prompt_guard", repo / "prompt_guard")
    first = snapshot(["prompt_guard"], repo)
    assert snapshot(["prompt_guard"], repo).digest == first.digest
    (repo / "prompt_guard" / "config.pbtxt").write_text(
        (repo / "prompt_guard" / "config.pbtxt").read_text().replace('"200"', '"150"')
    )
    assert snapshot(["prompt_guard"], repo).digest != first.digest


def test_s3_bucket_is_private_versioned_encrypted_tls_only(stores: Plan) -> None:
    (sse,) = stores.by_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    rule = sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "aws:kms"
    (ver,) = stores.by_type("aws:s3/bucketVersioning:BucketVersioning")
    assert ver["inputs"]["versioningConfiguration"]["status"] == "Enabled"
    (pab,) = stores.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        pab["inputs"][k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    (policy,) = stores.by_type("aws:s3/bucketPolicy:BucketPolicy")
    doc = json.loads(policy["inputs"]["policy"])
    assert doc["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (life,) = stores.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert life["inputs"]["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    (key,) = stores.by_type("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    (role,) = stores.by_type("aws:iam/role:Role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "system:serviceaccount:inference:embed-guard" in json.dumps(trust)
    (policy_doc,) = stores.by_type("aws:iam/policy:Policy")
    assert stores.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    statements = json.loads(policy_doc["inputs"]["policy"])["Statement"]
    actions = {a for st in statements for a in st["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}  # read-only
    assert not stores.by_type("aws:iam/accessKey:AccessKey")


def test_gcs_bucket_is_private_versioned_cmek_with_workload_identity(stores: Plan) -> None:
    (bucket,) = stores.by_type("gcp:storage/bucket:Bucket")
    i = bucket["inputs"]
    assert i["uniformBucketLevelAccess"] is True
    assert i["publicAccessPrevention"] == "enforced"
    assert i["versioning"] == {"enabled": True}
    assert i["encryption"]["defaultKmsKeyName"]
    assert any("daysSinceNoncurrentTime" in r["condition"] for r in i["lifecycleRules"])
    (wi,) = stores.by_type("gcp:serviceaccount/iAMMember:IAMMember")
    assert wi["inputs"]["member"] == "serviceAccount:acme-test.svc.id.goog[inference/embed-guard]"
    (viewer,) = stores.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert viewer["inputs"]["role"] == "roles/storage.objectViewer"
    assert not stores.by_type("gcp:serviceaccount/key:Key")


def test_sagemaker_tarball_is_reproducible_and_a_repository_root(tmp_path: Path) -> None:
    import tarfile  # noqa: PLC0415

    from blueprint.modelrepo.snapshot import build_tarball  # noqa: PLC0415

    first = build_tarball(["prompt_guard"], tmp_path / "a")
    second = build_tarball(["prompt_guard"], tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = tar.getnames()
    assert "prompt_guard/config.pbtxt" in names
    assert "prompt_guard/1/model.py" in names
    assert not [n for n in names if "__pycache__" in n]
