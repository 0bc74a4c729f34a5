"""The Vertex AI deploy step (dynamic providers) against a fake of the Vertex REST API.

Each test drives a provider's create/diff/update/delete the way the Pulumi engine
does, against a local HTTP server speaking the real paths, JSON shapes and
long-running operations (tests/fake_vertex.py), and checks what the service ends
up holding: models, deployed models, traffic split, replica bounds, jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.gcp import vertex_deploy
from components.gcp.vertex_api import VertexApi, VertexApiError, _split_with_new, _split_without
from components.gcp.vertex_deploy import (
    DEPLOY_UPDATE_MASK,
    DeployedModelProvider,
    DriftMonitorProvider,
    ModelProvider,
    deployed_model_id,
)
from tests.fake_vertex import ENDPOINT, MUTABLE_FIELDS, PARENT, TOKEN, FakeVertex, serve

pytestmark = pytest.mark.slow  # starts a local HTTP server


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    fake = FakeVertex()
    with serve(fake) as url:

        def factory(props: Any) -> VertexApi:
            assert props["apiEndpoint"] == "https://us-central1-aiplatform.googleapis.com"
            return VertexApi(
                base_url=url,
                token=lambda: TOKEN,
                version=str(props.get("apiVersion", "v1")),
                poll_seconds=0.01,
                timeout_seconds=10,
            )

        monkeypatch.setattr(vertex_deploy._VertexProvider, "api_factory", staticmethod(factory))
        yield fake


def model_props(**over: Any) -> dict[str, Any]:
    return {
        "apiEndpoint": "https://us-central1-aiplatform.googleapis.com",
        "apiVersion": "v1",
        "parent": PARENT,
        "displayName": "prod-embeddings-text_embedding",
        "imageUri": "us-docker.pkg.dev/acme/serving/tritonserver:24.10-py3",
        "command": ["tritonserver"],
        "args": ["--model-repository=$(AIP_STORAGE_URI)"],
        "env": {},
        "port": 8000,
        "predictRoute": "/v2/models/text_embedding/infer",
        "healthRoute": "/v2/health/ready",
        "artifactUri": "gs://prod-model-repo/vertex/text_embedding/abc",
        "kmsKeyName": f"{PARENT}/keyRings/k/cryptoKeys/vertex",
        "labels": {"model": "text-embedding"},
        **over,
    }


def deploy_props(model: str, **over: Any) -> dict[str, Any]:
    return {
        "apiEndpoint": "https://us-central1-aiplatform.googleapis.com",
        "apiVersion": "v1",
        "endpoint": ENDPOINT,
        "model": model,
        "displayName": "prod-embeddings",
        "machineType": "n2-standard-4",
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "targetCpuPercent": 60,
        "scaleToZero": False,
        "serviceAccount": "runner@acme-llm-prod.iam.gserviceaccount.com",
        **over,
    }


def upload(fake: FakeVertex, **over: Any) -> str:
    created = ModelProvider().create(model_props(**over))
    assert created.id in fake.models
    return str(created.id)


def test_upload_sends_the_container_and_waits_for_the_operation(fake: FakeVertex) -> None:
    name = upload(fake)
    model = fake.models[name]
    assert model["containerSpec"]["imageUri"].endswith("tritonserver:24.10-py3")
    assert model["containerSpec"]["ports"] == [{"containerPort": 8000}]
    assert model["containerSpec"]["healthRoute"] == "/v2/health/ready"
    assert model["encryptionSpec"]["kmsKeyName"].endswith("cryptoKeys/vertex")
    polls = [p for m, p, _ in fake.log if m == "GET" and "/operations/" in p]
    assert len(polls) == fake.polls_per_operation  # polled until done, not fire-and-forget


def test_deploy_puts_the_model_on_the_endpoint_with_its_bounds(fake: FakeVertex) -> None:
    model = upload(fake)
    props = deploy_props(model)
    created = DeployedModelProvider().create(props)
    dm_id = created.outs["deployedModelId"]
    assert created.id == f"{ENDPOINT}/deployedModels/{dm_id}"
    (deployed,) = fake.endpoints[ENDPOINT]["deployedModels"]
    assert deployed["model"] == model
    assert deployed["dedicatedResources"]["minReplicaCount"] == 1
    assert deployed["dedicatedResources"]["maxReplicaCount"] == 4
    assert deployed["dedicatedResources"]["machineSpec"] == {"machineType": "n2-standard-4"}
    assert deployed["serviceAccount"] == props["serviceAccount"]
    assert fake.endpoints[ENDPOINT]["trafficSplit"] == {dm_id: 100}
    assert created.outs["serviceAttachment"].endswith(f"sa-{dm_id}")


def test_new_replica_bounds_update_in_place(fake: FakeVertex) -> None:
    model = upload(fake)
    provider = DeployedModelProvider()
    old = deploy_props(model)
    created = provider.create(old)
    olds = created.outs
    new = deploy_props(model, maxReplicaCount=8, minReplicaCount=2)
    diff = provider.diff(str(created.id), olds, new)
    assert diff.changes is True
    assert diff.replaces == []
    updated = provider.update(str(created.id), olds, new)
    (deployed,) = fake.endpoints[ENDPOINT]["deployedModels"]
    assert deployed["dedicatedResources"]["maxReplicaCount"] == 8
    assert deployed["dedicatedResources"]["minReplicaCount"] == 2
    assert updated.outs["deployedModelId"] == olds["deployedModelId"]
    assert any(p.endswith(":mutateDeployedModel") for _, p, _ in fake.log)


def test_a_new_model_is_deployed_before_the_old_one_goes(fake: FakeVertex) -> None:
    """Blue/green: create the replacement (all traffic), then delete the old one."""
    provider = DeployedModelProvider()
    first = provider.create(deploy_props(upload(fake)))
    second_model = upload(fake, artifactUri="gs://prod-model-repo/vertex/text_embedding/def")
    new = deploy_props(second_model)
    diff = provider.diff(str(first.id), first.outs, new)
    assert diff.replaces == ["model"]
    assert diff.delete_before_replace is False
    second = provider.create(new)  # what the engine does first on a replace
    ids = {first.outs["deployedModelId"], second.outs["deployedModelId"]}
    assert len(ids) == 2, "a replacement must not reuse the deployed model id"
    assert fake.endpoints[ENDPOINT]["trafficSplit"][second.outs["deployedModelId"]] == 100
    assert fake.endpoints[ENDPOINT]["trafficSplit"][first.outs["deployedModelId"]] == 0
    provider.delete(str(first.id), first.outs)  # then it deletes the old one
    remaining = [d["id"] for d in fake.endpoints[ENDPOINT]["deployedModels"]]
    assert remaining == [second.outs["deployedModelId"]]
    assert fake.endpoints[ENDPOINT]["trafficSplit"] == {second.outs["deployedModelId"]: 100}


def test_undeploying_the_last_model_and_deleting_twice_are_fine(fake: FakeVertex) -> None:
    provider = DeployedModelProvider()
    created = provider.create(deploy_props(upload(fake)))
    provider.delete(str(created.id), created.outs)
    assert fake.endpoints[ENDPOINT]["deployedModels"] == []
    provider.delete(str(created.id), created.outs)  # already gone: no error
    assert provider.read(str(created.id), created.outs).id is None


def test_a_model_still_deployed_cannot_be_deleted(fake: FakeVertex) -> None:
    model = upload(fake)
    DeployedModelProvider().create(deploy_props(model))
    with pytest.raises(VertexApiError, match="is deployed to"):
        ModelProvider().delete(model, model_props())


def test_transient_errors_are_retried(fake: FakeVertex) -> None:
    fake.faults["POST :deployModel"] = [503, 429]
    created = DeployedModelProvider().create(deploy_props(upload(fake)))
    assert created.outs["deployedModelId"]
    assert sum(1 for m, p, _ in fake.log if p.endswith(":deployModel")) == 3


def test_a_refusal_is_reported_with_the_service_message(fake: FakeVertex) -> None:
    fake.faults["POST :deployModel"] = [403]
    with pytest.raises(VertexApiError) as info:
        DeployedModelProvider().create(deploy_props(upload(fake)))
    assert info.value.code == 403
    assert "injected fault on POST :deployModel" in str(info.value)
    assert fake.endpoints[ENDPOINT]["deployedModels"] == []


def test_an_operation_that_fails_raises_its_error(fake: FakeVertex) -> None:
    fake.operation_errors["POST :deployModel"] = {
        "code": 8,
        "message": "The following quota metrics exceed quota limits: custom_model_serving_cpus",
    }
    with pytest.raises(VertexApiError) as info:
        DeployedModelProvider().create(deploy_props(upload(fake)))
    assert info.value.code == 8
    assert "custom_model_serving_cpus" in info.value.message
    assert fake.endpoints[ENDPOINT]["deployedModels"] == []


def test_a_wrong_token_is_refused(fake: FakeVertex) -> None:
    with serve(fake) as url:
        api = VertexApi(base_url=url, token=lambda: "stolen", poll_seconds=0.01)
        with pytest.raises(VertexApiError) as info:
            api.get_endpoint(ENDPOINT)
    assert info.value.code == 401


def test_check_refuses_bad_bounds_before_any_call(fake: FakeVertex) -> None:
    result = DeployedModelProvider().check({}, deploy_props("m", minReplicaCount=5))
    assert [f.property for f in result.failures] == ["minReplicaCount"]
    result = DeployedModelProvider().check({}, deploy_props("m", minReplicaCount=0))
    assert "scaleToZero" in result.failures[0].reason
    assert DeployedModelProvider().check({}, deploy_props("m")).failures == []
    assert fake.log == []


def test_drift_monitor_routes_alerts_to_the_channels(fake: FakeVertex) -> None:
    dm = DeployedModelProvider().create(deploy_props(upload(fake)))
    props = {
        "apiEndpoint": "https://us-central1-aiplatform.googleapis.com",
        "apiVersion": "v1",
        "parent": PARENT,
        "displayName": "prod-embeddings-VertexInputDrift",
        "endpoint": ENDPOINT,
        "deployedModelId": dm.outs["deployedModelId"],
        "driftThresholds": {"TEXT": 0.3},
        "sampleRate": 0.5,
        "intervalHours": 1,
        "notificationChannels": [f"projects/{PARENT.split('/')[1]}/notificationChannels/42"],
        "kmsKeyName": "k",
        "labels": {},
    }
    provider = DriftMonitorProvider()
    created = provider.create(props)
    job = fake.jobs[str(created.id)]
    objective = job["modelDeploymentMonitoringObjectiveConfigs"][0]
    assert objective["deployedModelId"] == dm.outs["deployedModelId"]
    drift = objective["objectiveConfig"]["predictionDriftDetectionConfig"]["driftThresholds"]
    assert drift == {"TEXT": {"value": 0.3}}
    assert (
        job["modelMonitoringAlertConfig"]["notificationChannels"] == props["notificationChannels"]
    )
    assert job["modelDeploymentMonitoringScheduleConfig"]["monitorInterval"] == "3600s"
    # Vertex keeps one job per endpoint: a second create is refused, hence
    # delete-before-replace on any change.
    with pytest.raises(VertexApiError, match="already exists"):
        provider.create(props)
    diff = provider.diff(str(created.id), created.outs, {**props, "sampleRate": 0.8})
    assert diff.replaces == ["sampleRate"]
    assert diff.delete_before_replace is True
    provider.delete(str(created.id), created.outs)
    assert fake.jobs == {}


def test_deployed_model_ids_are_stable_digits() -> None:
    a = deploy_props("projects/p/locations/l/models/1")
    assert deployed_model_id(a) == deployed_model_id(dict(a))
    assert deployed_model_id(a).isdigit()
    assert len(deployed_model_id(a)) == 10
    assert deployed_model_id(a) != deployed_model_id(
        {**a, "model": "projects/p/locations/l/models/2"}
    )
    assert deployed_model_id(a) == deployed_model_id({**a, "maxReplicaCount": 9})


def test_traffic_split_helpers_always_sum_to_100() -> None:
    assert _split_with_new({}, 100) == {"0": 100}
    assert _split_with_new({"a": 100}, 100) == {"0": 100, "a": 0}
    assert sum(_split_with_new({"a": 70, "b": 30}, 10).values()) == 100
    assert _split_without({"a": 0, "b": 100}, "b") == {"a": 100}
    assert _split_without({"a": 50, "b": 25, "c": 25}, "a") == {"b": 50, "c": 50}
    assert _split_without({"a": 100}, "a") == {}


def test_the_fake_takes_the_update_masks_the_real_api_documents() -> None:
    """From aiplatform.v1.json: replica counts and autoscaling metrics (v1: container
    logging too); the v1beta1-only fields and everything else are refused."""
    camel = {f for f in MUTABLE_FIELDS if "_" not in f}
    assert camel == {
        "dedicatedResources.minReplicaCount",
        "dedicatedResources.maxReplicaCount",
        "dedicatedResources.requiredReplicaCount",
        "dedicatedResources.autoscalingMetricSpecs",
        "automaticResources.minReplicaCount",
        "automaticResources.maxReplicaCount",
        "disableContainerLogging",
    }
    assert set(DEPLOY_UPDATE_MASK) <= MUTABLE_FIELDS


@pytest.mark.parametrize(
    "mask",
    [
        "displayName",  # what the provider used to send: the real API refuses it
        "dedicatedResources.minReplicaCount,displayName",
        "dedicatedResources.machineSpec",
        "dedicatedResources.scaleToZeroSpec",  # v1beta1 only
        "enableContainerLogging",  # v1beta1 only
        "",
    ],
)
def test_an_update_mask_the_real_api_refuses_is_refused(fake: FakeVertex, mask: str) -> None:
    created = DeployedModelProvider().create(deploy_props(upload(fake)))
    dm_id = created.outs["deployedModelId"]
    with serve(fake) as url:
        api = VertexApi(base_url=url, token=lambda: TOKEN, poll_seconds=0.01)
        with pytest.raises(VertexApiError, match="mutateDeployedModel updates only"):
            api.mutate_deployed_model(
                ENDPOINT, {"id": dm_id, "displayName": "x"}, mask.split(",") if mask else []
            )


def test_a_new_display_name_replaces_the_deployment(fake: FakeVertex) -> None:
    provider = DeployedModelProvider()
    created = provider.create(deploy_props(upload(fake)))
    new = {**deploy_props(created.outs["model"]), "displayName": "prod-embeddings-v2"}
    assert provider.diff(str(created.id), created.outs, new).replaces == ["displayName"]
