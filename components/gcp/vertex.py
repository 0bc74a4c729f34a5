"""Vertex AI endpoint for a light CPU model: private, CMEK-encrypted, autoscaled, drift-watched.

Creates a Cloud KMS key ring and key (rotated every 90 days) that encrypts the
endpoint, the model and the monitoring job, with the Vertex AI service agent
allowed to use it; a service account with no roles for the model container (least
privilege: the container calls nothing); read access for the Vertex AI service
agent to the model's artifacts only (an IAM condition on the object prefix); a
service connection policy and a Vertex AI endpoint reached only over Private
Service Connect from the stack's VPC (PSC automation creates the forwarding rule);
and, through dynamic providers (:mod:`components.gcp.vertex_deploy`), the model
upload, its deployment with autoscaling bounds, and input drift monitoring whose
alerts reach the on-call's notification channels (e-mail).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from blueprint.limits import SERVICE_ACCOUNT_ID, fit_name
from blueprint.triton import HTTP_PORT, READY_PATH
from components.gcp.kms import VERTEX_AGENT, CmekArgs, CmekNames, cmek_key, service_agent
from components.gcp.vertex_api import regional_endpoint
from components.gcp.vertex_deploy import VertexDeployedModel, VertexDriftMonitor, VertexModel

TYPE = "llm-inference:gcp:VertexEndpoint"
TRITON_HTTP_PORT = HTTP_PORT
ALARM_DRIFT = "VertexInputDrift"
"""The drift alert's name; its runbook is ``runbooks/VertexInputDrift.md``."""


@dataclass(frozen=True, kw_only=True)
class GcsArtifact:
    """The Triton model repository the endpoint serves: ``gs://<bucket>/<prefix>``."""

    bucket: pulumi.Input[str]
    prefix: str
    uploads: Sequence[pulumi.Resource] = ()
    """The bucket objects under ``prefix``: the model upload waits for them (Vertex
    copies the artifacts when the model is uploaded)."""


@dataclass(frozen=True, kw_only=True)
class DriftArgs:
    thresholds: Mapping[str, float]
    """Input field -> drift distance that raises an alert."""
    sample_rate: float = 0.5
    interval_hours: int = 1


@dataclass(frozen=True, kw_only=True)
class VertexEndpointArgs:
    project: str
    region: str
    image: str
    """An exactly pinned Triton image in Artifact Registry."""
    repo_model: str
    artifact: GcsArtifact
    machine_type: str
    min_replicas: int
    max_replicas: int
    scale_to_zero: bool = False
    target_cpu_percent: int = 60
    network: pulumi.Input[str]
    """The consumer VPC, ``projects/<p>/global/networks/<n>``."""
    subnetwork: pulumi.Input[str]
    """The subnet PSC endpoints take their addresses from."""
    network_project: str | None = None
    """The network's project when it is not ``project`` (a Shared VPC's host project, where
    the service connection policy must live); None: ``project``."""
    drift: DriftArgs | None = None
    alert_emails: Sequence[str] = ()
    runbook_base_url: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


class VertexEndpoint(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    """``projects/<p>/locations/<r>/endpoints/<id>``."""
    model_name: pulumi.Output[str]
    """The uploaded model's resource name."""
    deployed_model_id: pulumi.Output[str]
    """The deployed model's id on the endpoint."""
    kms_key_id: pulumi.Output[str]
    """The customer-managed key that encrypts the endpoint, model and monitoring."""

    def __init__(
        self, name: str, args: VertexEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._api = regional_endpoint(args.region)
        self._api_version = "v1beta1" if args.scale_to_zero else "v1"

        agent = self._service_agent()
        key = self._create_key(agent)
        runner = self._create_runner_account()
        self._grant_artifact_read(agent)
        endpoint = self._create_endpoint(key)
        model = self._upload_model(key)
        deployed = self._deploy(endpoint, model, runner)
        if args.drift is not None:
            channels = self._create_channels()
            self._monitor(endpoint, deployed, key, channels, args.drift)

        self.endpoint_name = endpoint.id
        self.model_name = model.model_name
        self.deployed_model_id = deployed.deployed_model_id
        self.kms_key_id = key.id
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "model_name": self.model_name,
                "deployed_model_id": self.deployed_model_id,
                "kms_key_id": self.kms_key_id,
            }
        )

    @property
    def _parent_path(self) -> str:
        return f"projects/{self._args.project}/locations/{self._args.region}"

    def _service_agent(self) -> pulumi.Output[str]:
        # Vertex AI's service agent is named after the project *number*.
        return service_agent(
            self._args.project, VERTEX_AGENT, opts=pulumi.InvokeOutputOptions(parent=self)
        )

    def _create_key(self, agent: pulumi.Output[str]) -> gcp.kms.CryptoKey:
        """The CMEK key; what is encrypted with it waits for the agent's grant
        (:attr:`_key_grant`): Vertex AI refuses a key its agent cannot use yet."""
        a = self._args
        cmek = cmek_key(
            CmekNames(
                ring_resource=f"{self._name}-keys",
                ring=f"{self._name}-vertex",
                key_resource=f"{self._name}-key",
                key="vertex",
                grant_resource=f"{self._name}-key-vertex",
            ),
            # Destroying the key makes everything it encrypted unreadable.
            CmekArgs(
                project=a.project, location=a.region, agent=agent, labels=a.labels, protect=True
            ),
            parent=self,
        )
        self._key_grant = cmek.grant
        return cmek.key

    def _create_runner_account(self) -> gcp.serviceaccount.Account:
        # No roles: the Triton container reads its model from the local copy Vertex
        # makes and calls no Google API. Without this it would run as Vertex's
        # default service agent, which can read most of the project.
        return gcp.serviceaccount.Account(
            f"{self._name}-runner",
            account_id=fit_name(f"{self._name}-run", SERVICE_ACCOUNT_ID),
            display_name=f"Vertex AI model runner for {self._name}",
            project=self._args.project,
            opts=self._child,
        )

    def _grant_artifact_read(self, agent: pulumi.Output[str]) -> None:
        a = self._args
        prefix = pulumi.Output.concat(
            "projects/_/buckets/", a.artifact.bucket, "/objects/", a.artifact.prefix
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-artifact-read",
            bucket=a.artifact.bucket,
            role="roles/storage.objectViewer",
            member=agent,
            condition={
                "title": f"{self._name}-model-only",
                "description": "read the served model's files and nothing else",
                "expression": prefix.apply(lambda p: f'resource.name.startsWith("{p}")'),
            },
            opts=self._child,
        )

    def _create_endpoint(self, key: gcp.kms.CryptoKey) -> gcp.vertex.AiEndpoint:
        a = self._args
        policy = gcp.networkconnectivity.ServiceConnectionPolicy(
            f"{self._name}-psc",
            name=f"{self._name}-vertex-psc",
            project=a.network_project or a.project,
            location=a.region,
            service_class="gcp-vertexai",
            network=a.network,
            psc_config={"subnetworks": [a.subnetwork]},
            opts=self._child,
        )
        return gcp.vertex.AiEndpoint(
            f"{self._name}-endpoint",
            display_name=self._name,
            description=f"{a.repo_model} served by Triton; private (Private Service Connect)",
            project=a.project,
            location=a.region,
            region=a.region,
            encryption_spec={"kms_key_name": key.id},
            private_service_connect_config={
                "enable_private_service_connect": True,
                "project_allowlists": [a.project],
                # Vertex creates the PSC forwarding rule in our VPC for each deployment.
                "psc_automation_configs": [{"project_id": a.project, "network": a.network}],
            },
            labels={**a.labels, "model": a.repo_model.replace("_", "-")},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, self._key_grant]),
        )

    def _upload_model(self, key: gcp.kms.CryptoKey) -> VertexModel:
        a = self._args
        return VertexModel(
            f"{self._name}-model",
            {
                "apiEndpoint": self._api,
                "apiVersion": self._api_version,
                "parent": self._parent_path,
                "displayName": f"{self._name}-{a.repo_model}",
                "imageUri": a.image,
                "command": ["tritonserver"],
                "args": [
                    # Vertex copies the artifacts and passes their location here.
                    "--model-repository=$(AIP_STORAGE_URI)",
                    "--model-control-mode=explicit",
                    f"--load-model={a.repo_model}",
                    f"--http-port={TRITON_HTTP_PORT}",
                ],
                "env": {},
                "port": TRITON_HTTP_PORT,
                "predictRoute": f"/v2/models/{a.repo_model}/infer",
                "healthRoute": READY_PATH,
                "artifactUri": pulumi.Output.concat(
                    "gs://", a.artifact.bucket, "/", a.artifact.prefix
                ),
                "kmsKeyName": key.id,
                "labels": {**a.labels, "model": a.repo_model.replace("_", "-")},
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*a.artifact.uploads, self._key_grant]
            ),
        )

    def _deploy(
        self,
        endpoint: gcp.vertex.AiEndpoint,
        model: VertexModel,
        runner: gcp.serviceaccount.Account,
    ) -> VertexDeployedModel:
        a = self._args
        return VertexDeployedModel(
            f"{self._name}-deployment",
            {
                "apiEndpoint": self._api,
                "apiVersion": self._api_version,
                "endpoint": endpoint.id,
                "model": model.model_name,
                "displayName": f"{self._name}-{a.repo_model}",
                "machineType": a.machine_type,
                "minReplicaCount": a.min_replicas,
                "maxReplicaCount": a.max_replicas,
                "targetCpuPercent": a.target_cpu_percent,
                "scaleToZero": a.scale_to_zero,
                "serviceAccount": runner.email,
            },
            opts=self._child,
        )

    def _create_channels(self) -> list[gcp.monitoring.NotificationChannel]:
        a = self._args
        runbook = f"{a.runbook_base_url.rstrip('/')}/{ALARM_DRIFT}.md"
        return [
            gcp.monitoring.NotificationChannel(
                f"{self._name}-oncall-{i}",
                project=a.project,
                type="email",
                display_name=f"{self._name} on-call ({email})",
                description=f"{ALARM_DRIFT} alerts of {self._name}. Runbook: {runbook}",
                labels={"email_address": email},
                opts=self._child,
            )
            for i, email in enumerate(a.alert_emails)
        ]

    def _monitor(
        self,
        endpoint: gcp.vertex.AiEndpoint,
        deployed: VertexDeployedModel,
        key: gcp.kms.CryptoKey,
        channels: list[gcp.monitoring.NotificationChannel],
        drift: DriftArgs,
    ) -> VertexDriftMonitor:
        a = self._args
        return VertexDriftMonitor(
            f"{self._name}-drift",
            {
                "apiEndpoint": self._api,
                "apiVersion": "v1",
                "parent": self._parent_path,
                "displayName": f"{self._name}-{ALARM_DRIFT}",
                "endpoint": endpoint.id,
                "deployedModelId": deployed.deployed_model_id,
                "driftThresholds": dict(drift.thresholds),
                "sampleRate": drift.sample_rate,
                "intervalHours": drift.interval_hours,
                "notificationChannels": [c.id for c in channels],
                "kmsKeyName": key.id,
                "labels": {**a.labels, "alert": ALARM_DRIFT.lower()},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._key_grant]),
        )
