"""Pulumi dynamic providers for the Vertex AI steps Pulumi's GCP provider lacks.

Three resources, each a thin :class:`pulumi.dynamic.ResourceProvider` over
:class:`components.gcp.vertex_api.VertexApi`:

- :class:`VertexModel` (``models.upload`` / ``models.delete``): a Triton container
  and the model repository it loads. Any change uploads a new model (replace).
- :class:`VertexDeployedModel` (``endpoints.deployModel`` / ``mutateDeployedModel``
  / ``undeployModel``): the model on the endpoint with its machine type and
  autoscaling bounds. A change of replica bounds or CPU target is an in-place
  update; a change of model or machine type deploys the new model first (it takes
  100 % of the traffic), then undeploys the old one, so the endpoint never serves
  nothing.
- :class:`VertexDriftMonitor` (``modelDeploymentMonitoringJobs``): input drift
  detection on the deployed model, alerting through Cloud Monitoring notification
  channels. Vertex allows one job per endpoint, so a change deletes the old job
  before creating the new one.

The providers keep no state of their own: everything they need travels in the
resource's inputs (``apiEndpoint``, resource names), so the serialized provider is
the same bytes on every run and a plan diff shows only real changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from components.gcp.vertex_api import VertexApi

ApiFactory = Callable[[Mapping[str, Any]], VertexApi]


def _api_from_inputs(props: Mapping[str, Any]) -> VertexApi:
    return VertexApi(base_url=str(props["apiEndpoint"]), version=str(props.get("apiVersion", "v1")))


class _VertexProvider(ResourceProvider):
    """Shared plumbing: how a provider reaches the API (swappable in tests)."""

    serialize_as_secret_always = False
    """The provider holds no secret (credentials are read at deploy time), so its
    serialized form stays readable and stable in plans."""

    api_factory: ClassVar[ApiFactory] = staticmethod(_api_from_inputs)

    def api(self, props: Mapping[str, Any]) -> VertexApi:
        return type(self).api_factory(props)


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if olds.get(k) != news.get(k)]


# ---------------------------------------------------------------------------
# Model upload


MODEL_KEYS = (
    "apiEndpoint",
    "apiVersion",
    "parent",
    "displayName",
    "imageUri",
    "command",
    "args",
    "env",
    "port",
    "predictRoute",
    "healthRoute",
    "artifactUri",
    "kmsKeyName",
    "labels",
)


def model_body(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Model`` resource ``models.upload`` takes."""
    body: dict[str, Any] = {
        "displayName": props["displayName"],
        "containerSpec": {
            "imageUri": props["imageUri"],
            "command": list(props.get("command") or []),
            "args": list(props.get("args") or []),
            "env": [{"name": k, "value": v} for k, v in sorted((props.get("env") or {}).items())],
            "ports": [{"containerPort": int(props["port"])}],
            "predictRoute": props["predictRoute"],
            "healthRoute": props["healthRoute"],
        },
        "artifactUri": props["artifactUri"],
        "labels": dict(props.get("labels") or {}),
    }
    if props.get("kmsKeyName"):
        body["encryptionSpec"] = {"kmsKeyName": props["kmsKeyName"]}
    return body


class ModelProvider(_VertexProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(k, f"{k} is required")
            for k in ("apiEndpoint", "parent", "displayName", "imageUri", "artifactUri")
            if not news.get(k)
        ]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = self.api(props).upload_model(props["parent"], model_body(props))
        return CreateResult(name, {**props, "modelName": name})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, MODEL_KEYS)
        # An uploaded model is immutable: every change is a new upload.
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        found = self.api(props).get_model(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "modelName": id_})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.api(props).delete_model(id_)


class VertexModel(pulumi.dynamic.Resource, module="vertex", name="Model"):
    """A model uploaded to Vertex AI's model registry."""

    modelName: pulumi.Output[str]

    @property
    def model_name(self) -> pulumi.Output[str]:
        """``projects/<p>/locations/<l>/models/<id>``."""
        return self.modelName

    def __init__(
        self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ModelProvider(), name, {**props, "modelName": None}, opts)


# ---------------------------------------------------------------------------
# Deploy to an endpoint


DEPLOY_REPLACE_KEYS = (
    "apiEndpoint",
    "apiVersion",
    "endpoint",
    "model",
    "machineType",
    "serviceAccount",
    "scaleToZero",
    # mutateDeployedModel cannot change a display name (its request documents the few
    # fields it can: replica counts, autoscaling metrics, container logging).
    "displayName",
)
DEPLOY_UPDATE_KEYS = ("minReplicaCount", "maxReplicaCount", "targetCpuPercent")
DEPLOY_UPDATE_MASK = (
    "dedicatedResources.minReplicaCount",
    "dedicatedResources.maxReplicaCount",
    "dedicatedResources.autoscalingMetricSpecs",
)
"""What an in-place update changes: only fields ``mutateDeployedModel`` accepts."""


def deployed_model_id(props: Mapping[str, Any]) -> str:
    """A stable deployed-model id (Vertex takes 1-10 digits): the same inputs, the same id;
    a new model or machine type, a new id, so blue/green replacement never collides."""
    key = "|".join(str(props.get(k)) for k in DEPLOY_REPLACE_KEYS)
    return str(int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**10).rjust(10, "1")


def deployed_model_body(props: Mapping[str, Any], dm_id: str) -> dict[str, Any]:
    """The ``DeployedModel`` ``endpoints.deployModel`` takes."""
    resources: dict[str, Any] = {
        "machineSpec": {"machineType": props["machineType"]},
        "minReplicaCount": int(props["minReplicaCount"]),
        "maxReplicaCount": int(props["maxReplicaCount"]),
        "autoscalingMetricSpecs": [
            {
                "metricName": "aiplatform.googleapis.com/prediction/online/cpu/utilization",
                "target": int(props["targetCpuPercent"]),
            }
        ],
    }
    if props.get("scaleToZero"):
        # Preview API (v1beta1): replicas drop to 0 when idle, the first request waits.
        resources["scaleToZeroSpec"] = {}
    body: dict[str, Any] = {
        "id": dm_id,
        "model": props["model"],
        "displayName": props["displayName"],
        "dedicatedResources": resources,
        "disableContainerLogging": False,
        "enableAccessLogging": True,
    }
    if props.get("serviceAccount"):
        body["serviceAccount"] = props["serviceAccount"]
    return body


def _deploy_outs(props: Mapping[str, Any], deployed: Mapping[str, Any]) -> dict[str, Any]:
    private = deployed.get("privateEndpoints") or {}
    return {
        **props,
        "deployedModelId": str(deployed["id"]),
        "serviceAttachment": private.get("serviceAttachment"),
    }


class DeployedModelProvider(_VertexProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(k, f"{k} is required")
            for k in ("apiEndpoint", "endpoint", "model", "machineType")
            if not news.get(k)
        ]
        lo, hi = int(news.get("minReplicaCount", 1)), int(news.get("maxReplicaCount", 1))
        if lo > hi:
            failures.append(CheckFailure("minReplicaCount", f"{lo} is above maxReplicaCount {hi}"))
        if lo < 1 and not news.get("scaleToZero"):
            failures.append(
                CheckFailure("minReplicaCount", "0 needs scaleToZero (a Vertex AI preview)")
            )
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        dm_id = deployed_model_id(props)
        deployed = self.api(props).deploy_model(
            props["endpoint"], deployed_model_body(props, dm_id), traffic_percent=100
        )
        return CreateResult(
            f"{props['endpoint']}/deployedModels/{dm_id}", _deploy_outs(props, deployed)
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _changed(olds, news, DEPLOY_REPLACE_KEYS)
        updates = _changed(olds, news, DEPLOY_UPDATE_KEYS)
        return DiffResult(
            changes=bool(replaces or updates), replaces=replaces, delete_before_replace=False
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        dm_id = str(olds["deployedModelId"])
        body = deployed_model_body(news, dm_id)
        deployed = self.api(news).mutate_deployed_model(
            news["endpoint"],
            {"id": dm_id, "dedicatedResources": body["dedicatedResources"]},
            list(DEPLOY_UPDATE_MASK),
        )
        return UpdateResult(_deploy_outs(news, deployed))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        dm_id = id_.rsplit("/", 1)[-1]
        deployed = self.api(props).deployed_model(props["endpoint"], dm_id)
        if deployed is None:
            return ReadResult(None, {})
        resources = deployed.get("dedicatedResources", {})
        outs = {
            **_deploy_outs(props, deployed),
            "minReplicaCount": resources.get("minReplicaCount", props.get("minReplicaCount")),
            "maxReplicaCount": resources.get("maxReplicaCount", props.get("maxReplicaCount")),
        }
        return ReadResult(id_, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.api(props).undeploy_model(props["endpoint"], str(props["deployedModelId"]))


class VertexDeployedModel(pulumi.dynamic.Resource, module="vertex", name="DeployedModel"):
    """A model deployed to a Vertex AI endpoint, with its autoscaling bounds."""

    deployedModelId: pulumi.Output[str]
    serviceAttachment: pulumi.Output[str]

    @property
    def deployed_model_id(self) -> pulumi.Output[str]:
        """The deployed model's id on the endpoint."""
        return self.deployedModelId

    @property
    def service_attachment(self) -> pulumi.Output[str]:
        """The Private Service Connect service attachment that serves it."""
        return self.serviceAttachment

    def __init__(
        self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            DeployedModelProvider(),
            name,
            {**props, "deployedModelId": None, "serviceAttachment": None},
            opts,
        )


# ---------------------------------------------------------------------------
# Input drift monitoring


MONITOR_KEYS = (
    "apiEndpoint",
    "apiVersion",
    "parent",
    "displayName",
    "endpoint",
    "deployedModelId",
    "driftThresholds",
    "sampleRate",
    "intervalHours",
    "notificationChannels",
    "kmsKeyName",
    "labels",
)


def monitoring_job_body(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ModelDeploymentMonitoringJob`` for prediction (input) drift."""
    body: dict[str, Any] = {
        "displayName": props["displayName"],
        "endpoint": props["endpoint"],
        "modelDeploymentMonitoringObjectiveConfigs": [
            {
                "deployedModelId": str(props["deployedModelId"]),
                "objectiveConfig": {
                    "predictionDriftDetectionConfig": {
                        "driftThresholds": {
                            feature: {"value": float(value)}
                            for feature, value in sorted(props["driftThresholds"].items())
                        }
                    }
                },
            }
        ],
        "modelDeploymentMonitoringScheduleConfig": {
            "monitorInterval": f"{int(props['intervalHours']) * 3600}s"
        },
        "loggingSamplingStrategy": {
            "randomSampleConfig": {"sampleRate": float(props["sampleRate"])}
        },
        "modelMonitoringAlertConfig": {
            # Anomalies go to Cloud Logging and to the notification channels (on-call).
            "enableLogging": True,
            "notificationChannels": list(props.get("notificationChannels") or []),
        },
        "labels": dict(props.get("labels") or {}),
    }
    if props.get("kmsKeyName"):
        body["encryptionSpec"] = {"kmsKeyName": props["kmsKeyName"]}
    return body


class DriftMonitorProvider(_VertexProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for feature, value in (news.get("driftThresholds") or {}).items():
            if not 0 < float(value) <= 1:
                failures.append(
                    CheckFailure("driftThresholds", f"{feature}: {value} is not in (0, 1]")
                )
        if not news.get("driftThresholds"):
            failures.append(CheckFailure("driftThresholds", "at least one feature is required"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        job = self.api(props).create_monitoring_job(props["parent"], monitoring_job_body(props))
        return CreateResult(str(job["name"]), {**props, "jobName": job["name"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, MONITOR_KEYS)
        # One monitoring job per endpoint: the old one goes before the new one comes.
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if self.api(props).get_monitoring_job(id_) is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "jobName": id_})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.api(props).delete_monitoring_job(id_)


class VertexDriftMonitor(pulumi.dynamic.Resource, module="vertex", name="DriftMonitor"):
    """Input drift monitoring of a deployed model, alerting through notification channels."""

    jobName: pulumi.Output[str]

    @property
    def job_name(self) -> pulumi.Output[str]:
        """The monitoring job's resource name."""
        return self.jobName

    def __init__(
        self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DriftMonitorProvider(), name, {**props, "jobName": None}, opts)
