"""Triton serving for one model deployment, as native Kubernetes resources.

Creates a ServiceAccount (bucket access through workload identity: IRSA on EKS,
Workload Identity on GKE; no keys), a Deployment of the exactly pinned Triton
image (EXPLICIT model control loading the deployment's models from the
content-addressed bucket snapshot; the model-control, repository and config APIs
restricted with ``--http-restricted-api`` and ``--grpc-restricted-protocol``;
live/ready/startup probes; requests, memory and GPU limits; a memory-backed
/dev/shm; restricted pod security; a grace period longer than Triton's exit
timeout; topology spread over zones and nodes), a Service (HTTP, gRPC, metrics),
a HorizontalPodAutoscaler (autoscaling/v2) on Triton's average queue time per
request, a pods metric served by prometheus-adapter (the rule is
``blueprint.monitoring.autoscaling.adapter_rules()``; no HPA for a parked
deployment, replicas.min 0), and
a PodDisruptionBudget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from blueprint import tags
from blueprint.capacity import HOSTNAME_LABEL, ZONE_LABEL
from blueprint.monitoring.autoscaling import HPA_QUEUE_METRIC
from blueprint.triton import GRPC_PORT, HTTP_PORT, LIVE_PATH, METRICS_PORT, READY_PATH
from components._inputs import InputErrors
from components.k8s import netpol
from components.k8s.netpol import TRITON_APP

TYPE = "llm-inference:k8s:TritonServing"

# The pods metric the HPA reads; prometheus-adapter serves it with the rule of
# blueprint.monitoring.autoscaling.adapter_rules() (the monitoring section installs it).
QUEUE_METRIC = HPA_QUEUE_METRIC

# APIs no client of a serving pod may call: models are loaded at start (EXPLICIT),
# never changed at run time. They are restricted to a header value generated inside
# the container at start and never stored anywhere, which disables them.
RESTRICTED_APIS = ("model-repository", "model-config", "shared-memory", "trace", "logging")


@dataclass(frozen=True, kw_only=True)
class Toleration:
    key: str
    operator: str = "Exists"
    value: str | None = None
    effect: str | None = None


@dataclass(frozen=True, kw_only=True)
class TritonServingArgs:
    namespace: pulumi.Input[str]
    image: str
    """Exactly pinned (tag or digest; never latest)."""
    models: Sequence[str]
    """Repository models loaded at start (EXPLICIT model control)."""
    repository_uri: pulumi.Input[str]
    """s3://... or gs://... root of a content-addressed snapshot."""
    variant: str | None = None
    """configs/<variant>.pbtxt served instead of config.pbtxt."""
    tenant: str
    replicas_min: int
    replicas_max: int
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Toleration] = ()
    queue_time_target_us: int = 20_000
    """HPA target: average queue time per request, per pod (microseconds)."""
    exit_timeout_s: int = 30
    """Triton's --exit-timeout-secs; the pod's grace period is longer."""
    startup_timeout_s: int = 900
    """How long model loading may take before the startup probe gives up."""
    shm_size: str = "2Gi"
    k8s_name: str | None = None
    """Name of the Deployment, Service, ServiceAccount, HPA and PDB; defaults to the
    component's name. Routing finds the Service by it."""
    service_account_name: str | None = None
    """Defaults to ``k8s_name``; the bucket reader's trust names it."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """e.g. iam.gke.io/gcp-service-account for GKE Workload Identity."""
    env: Mapping[str, str] = field(default_factory=dict)
    """e.g. AWS_DEFAULT_REGION for an S3 repository."""
    labels: Mapping[str, str] = field(default_factory=dict)


def validate_args(args: TritonServingArgs, name: str = "") -> None:
    """Refuse what Kubernetes or Triton would refuse later, every field at once."""
    errors = InputErrors(TYPE, name or args.k8s_name or "")
    tag = args.image.rsplit("/", 1)[-1]
    errors.check(
        "@sha256:" in args.image or (":" in tag and not tag.endswith(":latest")),
        "image",
        f"{args.image!r} must be pinned to a tag or digest, not latest",
    )
    errors.check(bool(args.models), "models", "list at least one repository model")
    errors.check(
        args.replicas_max >= max(args.replicas_min, 1),
        "replicas_max",
        f"({args.replicas_max}) must be >= max(replicas_min, 1) ({max(args.replicas_min, 1)})",
    )
    errors.check(args.replicas_min >= 0, "replicas_min", f"({args.replicas_min}) must be >= 0")
    errors.raise_if_any()


def triton_command(args: TritonServingArgs, repository_uri: str) -> list[str]:
    """The container command: a shell only to generate the restricted-API key, then exec."""
    flags = [
        "tritonserver",
        f"--model-repository={repository_uri}",
        "--model-control-mode=explicit",
        *[f"--load-model={m}" for m in args.models],
        "--disable-auto-complete-config",
        "--strict-readiness=true",
        f"--exit-timeout-secs={args.exit_timeout_s}",
        f"--http-port={HTTP_PORT}",
        f"--grpc-port={GRPC_PORT}",
        f"--metrics-port={METRICS_PORT}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
        "--log-format=ISO8601",
        "--metrics-config=summary_latencies=true",
    ]
    if args.variant:
        flags.append(f"--model-config-name={args.variant}")
    apis = ",".join(RESTRICTED_APIS)
    flags += [
        f'--http-restricted-api={apis}:admin-key="$KEY"',
        f'--grpc-restricted-protocol={apis}:admin-key="$KEY"',
    ]
    script = "KEY=\"$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')\"; exec " + " ".join(
        flags
    )
    return ["/bin/sh", "-c", script]


class TritonServing(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    """The Service in front of the pods (HTTP 8000, gRPC 8001, metrics 8002)."""
    deployment_name: pulumi.Output[str]
    """The Deployment's name."""
    service_account_name: pulumi.Output[str]
    """Bind this to the bucket reader (Pod Identity association or Workload Identity)."""

    def __init__(
        self, name: str, args: TritonServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate_args(args, name)
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._k8s_name = args.k8s_name or name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._labels = {
            "app.kubernetes.io/name": TRITON_APP,
            "app.kubernetes.io/instance": self._k8s_name,
            "app.kubernetes.io/component": "inference",
            "app.kubernetes.io/part-of": "llm-inference",
            tags.TENANT_LABEL: args.tenant,
            # Cost attribution: the models this deployment serves ('.'-joined).
            tags.MODEL_LABEL: ".".join(args.models)[:63].strip("._-"),
            # Which model deployment (stack file `models` key): alerts and budgets join on it.
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
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "deploymentName": self.deployment_name,
                "serviceAccountName": self.service_account_name,
            }
        )

    def _meta(self, suffix: str = "") -> Any:  # an ObjectMetaArgsDict
        return {
            "name": f"{self._k8s_name}{suffix}",
            "namespace": self._args.namespace,
            "labels": {**self._labels, **self._args.labels},
        }

    def _create_service_account(self) -> k8s.core.v1.ServiceAccount:
        meta = self._meta()
        meta["name"] = self._args.service_account_name or self._k8s_name
        meta["annotations"] = dict(self._args.service_account_annotations)
        return k8s.core.v1.ServiceAccount(
            f"{self._name}-sa",
            metadata=meta,
            automount_service_account_token=False,
            opts=self._child,
        )

    def _create_deployment(self, sa: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.Deployment:
        a = self._args
        selector = {
            "app.kubernetes.io/instance": self._k8s_name,
            "app.kubernetes.io/name": TRITON_APP,
        }
        command = pulumi.Output.from_input(a.repository_uri).apply(
            lambda uri: triton_command(a, uri)
        )
        probe = {"http_get": {"path": READY_PATH, "port": "http"}}
        container = {
            "name": "triton",
            "image": a.image,
            "image_pull_policy": "IfNotPresent",
            "command": command,
            "ports": [
                {"name": "http", "container_port": HTTP_PORT},
                {"name": "grpc", "container_port": GRPC_PORT},
                {"name": "metrics", "container_port": METRICS_PORT},
            ],
            "env": [
                {"name": "HOME", "value": "/cache"},
                {"name": "HF_HOME", "value": "/cache/huggingface"},
                *[{"name": k, "value": v} for k, v in sorted(a.env.items())],
            ],
            "resources": {"requests": dict(a.requests), "limits": _limits(a)},
            "startup_probe": {
                **probe,
                "period_seconds": 10,
                "failure_threshold": max(a.startup_timeout_s // 10, 1),
            },
            "readiness_probe": {**probe, "period_seconds": 5, "failure_threshold": 3},
            "liveness_probe": {
                "http_get": {"path": LIVE_PATH, "port": "http"},
                "period_seconds": 10,
                "failure_threshold": 6,
            },
            # Leave the Service's endpoints before Triton stops taking requests.
            "lifecycle": {"pre_stop": {"exec": {"command": ["sleep", "5"]}}},
            "security_context": {
                "allow_privilege_escalation": False,
                "read_only_root_filesystem": True,
                "run_as_non_root": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "volume_mounts": [
                # Paths inside the container, backed by the pod's own emptyDir volumes.
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
                "label_selector": {"match_labels": selector},
            }
            for key in (ZONE_LABEL, HOSTNAME_LABEL)
        ]
        spec: Any = {
            "selector": {"match_labels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": 1},
            },
            "template": {
                "metadata": {
                    "labels": {**self._labels, **a.labels},
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                    },
                },
                "spec": {
                    "service_account_name": sa.metadata.name,
                    "automount_service_account_token": False,
                    "termination_grace_period_seconds": a.exit_timeout_s + 5 + 15,
                    "node_selector": dict(a.node_selector),
                    "tolerations": [
                        {k: v for k, v in vars(t).items() if v is not None} for t in a.tolerations
                    ],
                    "topology_spread_constraints": spread,
                    "security_context": {
                        "run_as_non_root": True,
                        "run_as_user": 1000,
                        "run_as_group": 1000,
                        "fs_group": 1000,
                        "seccomp_profile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "dshm",
                            "empty_dir": {"medium": "Memory", "size_limit": a.shm_size},
                        },
                        {"name": "tmp", "empty_dir": {"size_limit": "20Gi"}},
                        {"name": "cache", "empty_dir": {"size_limit": "50Gi"}},
                    ],
                },
            },
        }
        # With min 0 the deployment is parked: 0 pods and no HPA (the HPA cannot scale
        # from zero); scale it by hand, or raise replicas.min. Otherwise the HPA owns
        # the replica count.
        if a.replicas_min == 0:
            spec["replicas"] = 0
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._meta(),
            spec=spec,
            opts=self._child,
        )

    def _create_service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._meta(),
            spec=_any(
                {
                    "type": "ClusterIP",
                    "selector": {
                        "app.kubernetes.io/instance": self._k8s_name,
                        "app.kubernetes.io/name": TRITON_APP,
                    },
                    "ports": [
                        {"name": "http", "port": HTTP_PORT, "target_port": "http"},
                        {"name": "grpc", "port": GRPC_PORT, "target_port": "grpc"},
                        {"name": "metrics", "port": METRICS_PORT, "target_port": "metrics"},
                    ],
                }
            ),
            opts=self._child,
        )

    def _create_autoscaler(
        self, deployment: k8s.apps.v1.Deployment
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        a = self._args
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
                    "metrics": [
                        {
                            "type": "Pods",
                            "pods": {
                                "metric": {"name": QUEUE_METRIC},
                                "target": {
                                    "type": "AverageValue",
                                    "average_value": str(a.queue_time_target_us),
                                },
                            },
                        }
                    ],
                    # GPU pods take minutes to start: scale up fast, down slowly.
                    "behavior": {
                        "scale_up": {
                            "stabilization_window_seconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "period_seconds": 60}],
                        },
                        "scale_down": {
                            "stabilization_window_seconds": 600,
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
            spec=_any(
                {
                    "max_unavailable": 1,
                    "selector": {
                        "match_labels": {
                            "app.kubernetes.io/instance": self._k8s_name,
                            "app.kubernetes.io/name": TRITON_APP,
                        }
                    },
                }
            ),
            opts=self._child,
        )


def _any(value: Any) -> Any:
    """Plain dicts for the SDK's TypedDict args (mypy does not match dict[str, Any])."""
    return value


def _limits(a: TritonServingArgs) -> dict[str, str]:
    """The limits given; memory defaults to the request (no node starved by one pod)."""
    limits = dict(a.limits)
    if "memory" not in limits and "memory" in a.requests:
        limits["memory"] = a.requests["memory"]
    return limits


def queue_time_target_us(latency_budget_ms: float, share: float = 0.1) -> int:
    """HPA target: a share of the tightest latency budget among a deployment's models."""
    return max(int(latency_budget_ms * 1000 * share), 1000)


NAMESPACE_TYPE = "llm-inference:k8s:ServingNamespace"


@dataclass(frozen=True, kw_only=True)
class ServingNamespaceArgs:
    name: str = "inference"
    labels: Mapping[str, str] = field(default_factory=dict)
    gateway: netpol.Peer | None = None
    """The gateway's proxy pods, allowed to Triton's and vLLM's inference ports (None: the
    cluster has no gateway, and nothing reaches those ports)."""
    scrapers: netpol.Peer | None = None
    """Prometheus, allowed to the metrics ports."""
    gke_metadata: bool = False
    """On GKE: pods reach the metadata server for Workload Identity tokens."""


class ServingNamespace(pulumi.ComponentResource):
    """The namespace Triton and vLLM deployments share on one cluster: restricted pod
    security, default-deny NetworkPolicies with the serving flows allowed
    (:mod:`components.k8s.netpol`): DNS, HTTPS to the model stores, the gateway to the
    inference ports, Prometheus to the metrics ports."""

    name: pulumi.Output[str]
    """The namespace's name."""

    def __init__(
        self, name: str, args: ServingNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NAMESPACE_TYPE, name, None, opts)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args.name,
                "labels": {
                    **args.labels,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        for doc in netpol.isolation(
            args.name,
            netpol.serving_flows(gateway=args.gateway, scrapers=args.scrapers),
            cloud_egress=True,
            gke_metadata=args.gke_metadata,
        ):
            netpol.create(name, doc, after_ns)
        self.name = ns.metadata.name
        self.register_outputs({"name": self.name})
