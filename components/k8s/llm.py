"""An LLM deployment: vLLM's OpenAI-compatible server, as native Kubernetes resources.

Creates a ServiceAccount (bucket access through workload identity: IRSA on EKS,
Workload Identity on GKE; no keys), a Deployment whose init container copies the
variant's weights from the model bucket into the pod (the cloud's pinned CLI image;
never a model hub at pod start) and whose container runs the pinned vLLM image with
the variant's engine arguments (``blueprint.modelrepo.llm.server_args``: the same the
local stack runs), probes on ``/health``, requests and GPU limits, a memory-backed
/dev/shm, restricted pod security; a Service (HTTP 8000: the OpenAI API and
``/metrics``); a HorizontalPodAutoscaler on the engine's own signals, requests
waiting and KV-cache use per pod (pods metrics from prometheus-adapter,
``blueprint.monitoring.autoscaling``; none for a parked deployment, replicas.min 0);
and a PodDisruptionBudget.

``HubWeightsImport`` is the opt-in step that brings hub-hosted weights into the
bucket once: a Job that downloads one pinned commit (with the token from a Pulumi
secret, through a Kubernetes Secret, for gated models) and copies it to the
weights' content-addressed prefix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from blueprint import tags
from blueprint.capacity import HOSTNAME_LABEL, ZONE_LABEL
from blueprint.modelrepo.llm import HEALTH_PATH, SERVED_PORT
from blueprint.monitoring.autoscaling import HPA_KV_CACHE_METRIC, HPA_WAITING_METRIC
from components._inputs import InputErrors
from components.k8s.netpol import VLLM_APP
from components.k8s.triton import Toleration

TYPE = "llm-inference:k8s:LlmServing"
IMPORT_TYPE = "llm-inference:k8s:HubWeightsImport"

APP = VLLM_APP
"""``app.kubernetes.io/name`` of every LLM pod and Service: the scrape job's name."""
MODEL_DIR = "/models/weights"
"""Where the init container puts the weights and vLLM reads them."""

_POD_SECURITY: Mapping[str, Any] = {
    "run_as_non_root": True,
    "run_as_user": 1000,
    "run_as_group": 1000,
    "fs_group": 1000,
    "seccomp_profile": {"type": "RuntimeDefault"},
}
_CONTAINER_SECURITY: Mapping[str, Any] = {
    "allow_privilege_escalation": False,
    "read_only_root_filesystem": True,
    "run_as_non_root": True,
    "capabilities": {"drop": ["ALL"]},
}


@dataclass(frozen=True, kw_only=True)
class WeightsCopy:
    """How a pod gets its weights: from the bucket, with the cloud's CLI."""

    uri: pulumi.Input[str]
    """``s3://<bucket>/llm-weights/...`` or ``gs://<bucket>/llm-weights/...``."""
    size_gb: float
    """Sizes the pod's weights volume."""
    image: str
    """The pinned AWS CLI (s3://) or gcloud CLI (gs://) image."""
    cloud: Literal["aws", "gcp"]


def copy_command(cloud: str, uri: str, dest: str) -> list[str]:
    """The init container's command: the whole prefix, recursively, into ``dest``."""
    if cloud == "aws":
        return ["aws", "s3", "cp", "--recursive", "--only-show-errors", f"{uri}/", f"{dest}/"]
    return ["gcloud", "storage", "cp", "--recursive", f"{uri}/*", f"{dest}/"]


@dataclass(frozen=True, kw_only=True)
class LlmServingArgs:
    namespace: pulumi.Input[str]
    image: str
    """vLLM's OpenAI-compatible server image, exactly pinned."""
    served_model_name: str
    server_args: Sequence[str]
    """Engine flags after ``python3 -m vllm.entrypoints.openai.api_server`` (model path
    :data:`MODEL_DIR`), host and port excluded."""
    engine_env: Mapping[str, str] = field(default_factory=dict)
    weights: WeightsCopy
    device: Literal["gpu", "cpu"]
    tenant: str
    replicas_min: int
    replicas_max: int
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Toleration] = ()
    waiting_target: int = 4
    """HPA target: requests waiting per pod (the engine's own queue)."""
    kv_cache_target: float = 0.8
    """HPA target: the KV cache's average use per pod (0-1)."""
    startup_timeout_s: int = 1800
    """Weights copy, load and graph capture may take this long before the pod is restarted."""
    shm_size: str = "8Gi"
    k8s_name: str | None = None
    """Name of the Deployment, Service, ServiceAccount, HPA and PDB (routing finds the
    Service by it); defaults to the component's name."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    """e.g. AWS_DEFAULT_REGION for the copy."""
    labels: Mapping[str, str] = field(default_factory=dict)


def validate_args(args: LlmServingArgs, name: str) -> None:
    errors = InputErrors(TYPE, name)
    for key, image in (("image", args.image), ("weights.image", args.weights.image)):
        tag = image.split("@", 1)[0].rsplit("/", 1)[-1]
        errors.check(
            "@sha256:" in image or (":" in tag and not tag.endswith(":latest")),
            key,
            f"{image!r} must be pinned to a tag or digest, not latest",
        )
    errors.check(
        args.replicas_max >= max(args.replicas_min, 1),
        "replicas_max",
        f"({args.replicas_max}) must be >= max(replicas_min, 1) ({max(args.replicas_min, 1)})",
    )
    errors.check("--model" in args.server_args, "server_args", "name the model path with --model")
    errors.check(
        not any(a in args.server_args for a in ("--host", "--port")),
        "server_args",
        "host and port are the component's (0.0.0.0, the Service's port)",
    )
    errors.check(0 < args.kv_cache_target <= 1, "kv_cache_target", "must lie in (0, 1]")
    errors.check(args.weights.size_gb > 0, "weights.size_gb", "must be > 0")
    errors.raise_if_any()


class LlmServing(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    """The Service in front of the pods: the OpenAI API on port 8000."""
    deployment_name: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    served_model_name: str
    """The ``model`` clients name in their OpenAI requests."""

    def __init__(
        self, name: str, args: LlmServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate_args(args, name)
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._k8s_name = args.k8s_name or name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._selector = {
            "app.kubernetes.io/instance": self._k8s_name,
            "app.kubernetes.io/name": APP,
        }
        self._labels = {
            **self._selector,
            "app.kubernetes.io/component": "inference",
            "app.kubernetes.io/part-of": "llm-inference",
            tags.TENANT_LABEL: args.tenant,
            tags.MODEL_LABEL: args.served_model_name,
            tags.DEPLOYMENT_LABEL: self._k8s_name,
        }

        sa = self._create_service_account()
        deployment = self._create_deployment(sa)
        service = self._create_service()
        if args.replicas_min > 0:
            self._create_autoscaler(deployment)
        self._create_disruption_budget()

        self.service_name = service.metadata.name
        self.deployment_name = deployment.metadata.name
        self.service_account_name = sa.metadata.name
        self.served_model_name = args.served_model_name
        self.register_outputs(
            {
                "servedModelName": self.served_model_name,
                "serviceName": self.service_name,
                "deploymentName": self.deployment_name,
                "serviceAccountName": self.service_account_name,
            }
        )

    def _meta(self) -> Any:
        return {
            "name": self._k8s_name,
            "namespace": self._args.namespace,
            "labels": {**self._labels, **self._args.labels},
        }

    def _create_service_account(self) -> k8s.core.v1.ServiceAccount:
        meta = self._meta()
        meta["annotations"] = dict(self._args.service_account_annotations)
        return k8s.core.v1.ServiceAccount(
            f"{self._name}-sa",
            metadata=meta,
            automount_service_account_token=False,
            opts=self._child,
        )

    def _create_deployment(self, sa: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.Deployment:
        a = self._args
        weights_volume = f"{math.ceil(a.weights.size_gb * 1.2) + 1}Gi"
        copy = pulumi.Output.from_input(a.weights.uri).apply(
            lambda uri: copy_command(a.weights.cloud, uri, MODEL_DIR)
        )
        env_common = [
            # Writable homes on the pod's own volumes (read-only root filesystem).
            {"name": "HOME", "value": "/cache"},
            *[{"name": k, "value": v} for k, v in sorted(a.env.items())],
        ]
        init = {
            "name": "weights",
            "image": a.weights.image,
            "image_pull_policy": "IfNotPresent",
            "command": copy,
            "env": [*env_common, {"name": "CLOUDSDK_CONFIG", "value": "/cache/gcloud"}],
            "resources": {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"memory": "2Gi"},
            },
            "security_context": dict(_CONTAINER_SECURITY),
            "volume_mounts": [
                {"name": "weights", "mount_path": "/models"},
                {"name": "cache", "mount_path": "/cache"},
                {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 (the pod's own emptyDir)
            ],
        }
        probe = {"http_get": {"path": HEALTH_PATH, "port": "http"}}
        container = {
            "name": "vllm",
            "image": a.image,
            "image_pull_policy": "IfNotPresent",
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "args": [*a.server_args, "--host", "0.0.0.0", "--port", str(SERVED_PORT)],  # noqa: S104
            "ports": [{"name": "http", "container_port": SERVED_PORT}],
            "env": [
                *env_common,
                # The weights are in the pod: the engine must never reach a model hub.
                {"name": "HF_HUB_OFFLINE", "value": "1"},
                {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                {"name": "DO_NOT_TRACK", "value": "1"},
                {"name": "VLLM_CACHE_ROOT", "value": "/cache/vllm"},
                *[{"name": k, "value": v} for k, v in sorted(a.engine_env.items())],
            ],
            "resources": {"requests": dict(a.requests), "limits": _limits(a)},
            "startup_probe": {
                **probe,
                "period_seconds": 10,
                "failure_threshold": max(a.startup_timeout_s // 10, 1),
            },
            "readiness_probe": {**probe, "period_seconds": 5, "failure_threshold": 3},
            "liveness_probe": {**probe, "period_seconds": 10, "failure_threshold": 6},
            # Leave the Service's endpoints before the engine stops taking requests.
            "lifecycle": {"pre_stop": {"exec": {"command": ["sleep", "5"]}}},
            "security_context": dict(_CONTAINER_SECURITY),
            "volume_mounts": [
                {"name": "weights", "mount_path": "/models", "read_only": True},
                {"name": "dshm", "mount_path": "/dev/shm"},  # noqa: S108
                {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108
                {"name": "cache", "mount_path": "/cache"},
            ],
        }
        spread = [
            {
                "max_skew": 1,
                "topology_key": key,
                "when_unsatisfiable": "ScheduleAnyway",
                "label_selector": {"match_labels": self._selector},
            }
            for key in (ZONE_LABEL, HOSTNAME_LABEL)
        ]
        spec: Any = {
            "selector": {"match_labels": self._selector},
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": 1},
            },
            "template": {
                "metadata": {"labels": {**self._labels, **a.labels}},
                "spec": {
                    "service_account_name": sa.metadata.name,
                    # The copy authenticates with the pod's identity (IRSA/Workload
                    # Identity) through the projected token the SDKs read.
                    "automount_service_account_token": False,
                    "termination_grace_period_seconds": 60,
                    "node_selector": dict(a.node_selector),
                    "tolerations": [
                        {k: v for k, v in vars(t).items() if v is not None} for t in a.tolerations
                    ],
                    "topology_spread_constraints": spread,
                    "security_context": dict(_POD_SECURITY),
                    "init_containers": [init],
                    "containers": [container],
                    "volumes": [
                        {"name": "weights", "empty_dir": {"size_limit": weights_volume}},
                        {
                            "name": "dshm",
                            "empty_dir": {"medium": "Memory", "size_limit": a.shm_size},
                        },
                        {"name": "tmp", "empty_dir": {"size_limit": "10Gi"}},
                        {"name": "cache", "empty_dir": {"size_limit": "20Gi"}},
                    ],
                },
            },
        }
        # Parked (replicas.min 0): no pods and no HPA; the HPA cannot scale from zero.
        # The stack's `parkedDeployments` output says so; raise replicas.min to serve.
        if a.replicas_min == 0:
            spec["replicas"] = 0
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment", metadata=self._meta(), spec=spec, opts=self._child
        )

    def _create_service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._meta(),
            spec=_any(
                {
                    "type": "ClusterIP",
                    "selector": dict(self._selector),
                    "ports": [{"name": "http", "port": SERVED_PORT, "target_port": "http"}],
                }
            ),
            opts=self._child,
        )

    def _create_autoscaler(
        self, deployment: k8s.apps.v1.Deployment
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        a = self._args

        def pods_metric(name: str, value: str) -> dict[str, Any]:
            return {
                "type": "Pods",
                "pods": {
                    "metric": {"name": name},
                    "target": {"type": "AverageValue", "average_value": value},
                },
            }

        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._meta(),
            spec=_any(
                {
                    "scale_target_ref": {
                        "api_version": "apps/v1",
                        "kind": "Deployment",
                        "name": deployment.metadata.name,
                    },
                    "min_replicas": max(a.replicas_min, 1),
                    "max_replicas": a.replicas_max,
                    # The engine queues requests itself (continuous batching): scale on
                    # its queue and its KV cache, whichever asks for more replicas.
                    "metrics": [
                        pods_metric(HPA_WAITING_METRIC, str(a.waiting_target)),
                        pods_metric(HPA_KV_CACHE_METRIC, f"{round(a.kv_cache_target * 1000)}m"),
                    ],
                    # A GPU pod takes minutes to start (node, weights copy, load): scale up
                    # fast, down slowly.
                    "behavior": {
                        "scale_up": {
                            "stabilization_window_seconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "period_seconds": 60}],
                        },
                        "scale_down": {
                            "stabilization_window_seconds": 900,
                            "policies": [{"type": "Pods", "value": 1, "period_seconds": 300}],
                        },
                    },
                }
            ),
            opts=self._child,
        )

    def _create_disruption_budget(self) -> k8s.policy.v1.PodDisruptionBudget:
        return k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._meta(),
            spec=_any({"max_unavailable": 1, "selector": {"match_labels": dict(self._selector)}}),
            opts=self._child,
        )


def _any(value: Any) -> Any:
    """Plain dicts for the SDK's TypedDict args (mypy does not match dict[str, Any])."""
    return value


def _limits(a: LlmServingArgs) -> dict[str, str]:
    limits = dict(a.limits)
    if "memory" not in limits and "memory" in a.requests:
        limits["memory"] = a.requests["memory"]
    return limits


def waiting_target(max_num_seqs: int) -> int:
    """HPA target: a quarter of one continuous batch waiting per pod (at least 1)."""
    return max(max_num_seqs // 4, 1)


@dataclass(frozen=True, kw_only=True)
class HubWeightsImportArgs:
    namespace: pulumi.Input[str]
    hub: str
    """``<org>/<repo>``."""
    revision: str
    """The commit to download (40 hex digits)."""
    destination: pulumi.Input[str]
    """``s3://<bucket>/llm-weights/hub/<repo>/<revision>`` or its ``gs://`` twin."""
    cloud: Literal["aws", "gcp"]
    download_image: str
    """An image with ``huggingface_hub`` (vLLM's has it)."""
    copy_image: str
    """The pinned cloud CLI image that uploads."""
    size_gb: float
    token: pulumi.Input[str] | None = None
    """The hub token for gated models: a Pulumi secret, stored in a Kubernetes Secret."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The bucket writer's identity (IRSA role or GCP service account)."""
    env: Mapping[str, str] = field(default_factory=dict)
    k8s_name: str


def download_script(hub: str, revision: str) -> str:
    """Download exactly one commit of a hub repository (no other revision, no cache reuse)."""
    return (
        "from huggingface_hub import snapshot_download; "
        f"snapshot_download(repo_id={hub!r}, revision={revision!r}, local_dir='/work/weights', "
        "allow_patterns=['*.json', '*.safetensors', '*.model', '*.txt', '*.jinja'])"
    )


class HubWeightsImport(pulumi.ComponentResource):
    """A one-off Job copying one pinned hub commit into the model bucket."""

    job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: HubWeightsImportArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        errors = InputErrors(IMPORT_TYPE, name)
        errors.check(
            len(args.revision) == 40 and all(c in "0123456789abcdef" for c in args.revision),
            "revision",
            "a 40-hex-digit commit, never a branch name",
        )
        errors.raise_if_any()
        super().__init__(IMPORT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta: Any = {
            "name": args.k8s_name,
            "namespace": args.namespace,
            "labels": {"app.kubernetes.io/name": "hub-weights-import"},
        }
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=_any({**meta, "annotations": dict(args.service_account_annotations)}),
            automount_service_account_token=False,
            opts=child,
        )
        env: list[dict[str, Any]] = [{"name": "HOME", "value": "/work/home"}]
        if args.token is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-token",
                metadata=meta,
                string_data={"token": pulumi.Output.secret(args.token)},
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stringData"]),
            )
            env.append(
                {
                    "name": "HF_TOKEN",
                    "value_from": {
                        "secret_key_ref": {"name": secret.metadata.name, "key": "token"}
                    },
                }
            )
        dest = pulumi.Output.from_input(args.destination)
        volume = f"{math.ceil(args.size_gb * 1.2) + 1}Gi"
        mounts = [{"name": "work", "mount_path": "/work"}]
        job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=meta,
            spec=_any(
                {
                    "backoff_limit": 3,
                    "ttl_seconds_after_finished": 86400,
                    "template": {
                        "metadata": {"labels": meta["labels"]},
                        "spec": {
                            "restart_policy": "OnFailure",
                            "service_account_name": sa.metadata.name,
                            "automount_service_account_token": False,
                            "security_context": dict(_POD_SECURITY),
                            "init_containers": [
                                {
                                    "name": "download",
                                    "image": args.download_image,
                                    "command": [
                                        "python3",
                                        "-c",
                                        download_script(args.hub, args.revision),
                                    ],
                                    "env": env,
                                    "security_context": dict(_CONTAINER_SECURITY),
                                    "volume_mounts": mounts,
                                }
                            ],
                            "containers": [
                                {
                                    "name": "upload",
                                    "image": args.copy_image,
                                    "command": dest.apply(lambda d: _upload_command(args.cloud, d)),
                                    "env": [
                                        {"name": "HOME", "value": "/work/home"},
                                        {"name": "CLOUDSDK_CONFIG", "value": "/work/gcloud"},
                                        *[
                                            {"name": k, "value": v}
                                            for k, v in sorted(args.env.items())
                                        ],
                                    ],
                                    "security_context": dict(_CONTAINER_SECURITY),
                                    "volume_mounts": mounts,
                                }
                            ],
                            "volumes": [{"name": "work", "empty_dir": {"size_limit": volume}}],
                        },
                    },
                }
            ),
            opts=child,
        )
        self.job_name = job.metadata.name
        self.register_outputs({"jobName": self.job_name})


def _upload_command(cloud: str, destination: str) -> list[str]:
    if cloud == "aws":
        return [
            "aws",
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
            "/work/weights/",
            f"{destination}/",
        ]
    return ["gcloud", "storage", "cp", "--recursive", "/work/weights/*", f"{destination}/"]
