"""Monitoring of one cluster: kube-prometheus-stack, the blueprint's alert rules, scraping
of Triton, the DCGM exporter and Karpenter, the autoscaling metric, dashboards.

Creates, in the ``monitoring`` namespace of the cluster its provider points at:

- kube-prometheus-stack (Helm, pinned): Prometheus with the cluster's external label,
  Alertmanager with the blueprint's routing tree and the stack's receivers, read from
  a Secret (:data:`ALERTMANAGER_SECRET`, ``args.alertmanager_config``: it carries the
  receivers' credentials, so it never goes into Helm values), kube-state-metrics with
  the node and pod label allow-list the rules need, Grafana with its dashboard sidecar
  and a generated admin password in a Secret (:data:`GRAFANA_ADMIN_SECRET`); the
  chart's own ``general`` rules are off (the blueprint has its own Watchdog);
- one ``PrometheusRule`` per rendered rule file (native custom resources, so policies
  and reviewers see every rule in the plan);
- ``ServiceMonitor``s: Triton (selector :data:`TRITON_SELECTOR`, port ``metrics``), the
  LLM tier's vLLM servers (selector :data:`VLLM_SELECTOR`, port ``http``, ``/metrics``),
  Karpenter where the cluster runs it, and a DCGM exporter when asked (the GPU
  Operator scrapes its own);
- prometheus-adapter (Helm, pinned) serving
  :data:`blueprint.monitoring.autoscaling.HPA_QUEUE_METRIC` (Triton) and the LLM
  engine's queue and KV-cache use to HPAs;
- the CloudWatch exporter YACE (Helm, pinned) for SageMaker Serverless endpoints, with
  its IAM role (IRSA), when ``args.cloudwatch`` is given;
- one ConfigMap per Grafana dashboard, labelled ``grafana_dashboard: "1"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from blueprint import tags
from blueprint.monitoring import autoscaling
from components.k8s import netpol

TYPE = "llm-inference:k8s:Monitoring"
CHART_REPO = "https://prometheus-community.github.io/helm-charts"
RELEASE = "kps"
"""kube-prometheus-stack's release and fullname: services are kps-prometheus,
kps-alertmanager, kps-grafana (the runbooks use these names)."""

TRITON_SELECTOR: Mapping[str, str] = {"app.kubernetes.io/name": "triton"}
VLLM_SELECTOR: Mapping[str, str] = {"app.kubernetes.io/name": "vllm"}
"""Labels an LLM Service carries (components/k8s/llm.py); the job label becomes ``vllm``."""
"""Labels a Triton Service must carry to be scraped; it must name its metrics port
``metrics`` (Triton's 8002). The job label becomes ``triton``."""
TRITON_POD_LABELS: Mapping[str, str] = {
    tags.DEPLOYMENT_LABEL: "deployment",
    tags.TENANT_LABEL: "tenant",
}
"""Pod labels copied onto every Triton series, as the label on the right."""
DASHBOARD_LABEL = "grafana_dashboard"
ALERTMANAGER_SECRET = f"{RELEASE}-alertmanager-config"
"""The Secret holding ``alertmanager.yaml`` (the operator reads that key): the chart is
told to use it (``useExistingSecret``, ``configSecret``) and to create none of its own."""
GRAFANA_ADMIN_SECRET = f"{RELEASE}-grafana-admin"
"""The Secret with Grafana's admin user and generated password (the chart's
``grafana.admin.existingSecret``)."""
GRAFANA_ADMIN_USER = "admin"
GRAFANA_USER_KEY, GRAFANA_PASSWORD_KEY = "admin-user", "admin-password"
GRAFANA_PASSWORD_LENGTH = 32
YACE_SERVICE_ACCOUNT = "cloudwatch-exporter"
"""The CloudWatch exporter's service account (its IAM role trusts exactly this one)."""


PROMETHEUS_APP = "prometheus"
"""``app.kubernetes.io/name`` the Prometheus operator puts on Prometheus's pods."""


def prometheus_peer(namespace: str) -> netpol.Peer:
    """Prometheus's pods, as a NetworkPolicy source: what serving lets scrape its metrics."""
    return netpol.Peer(namespace=namespace, pod_labels={netpol.APP_LABEL: PROMETHEUS_APP})


@dataclass(frozen=True, kw_only=True)
class CloudWatchExporterArgs:
    """YACE for the SageMaker Serverless endpoints of one AWS region."""

    chart_version: str
    region: str
    trust_policy: pulumi.Input[str]
    """IRSA trust policy letting the exporter's service account (namespace ``monitoring``,
    :data:`YACE_SERVICE_ACCOUNT`) assume the role this component creates
    (``ClusterHandle.irsa_assume_role_policy``). The component's options must carry an
    AWS provider besides the Kubernetes one."""
    metrics: Mapping[str, Sequence[str]]
    """CloudWatch metric name -> statistics (monitoring/metrics/cloudwatch.yaml)."""


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    cluster: str
    """The cluster's name; every series and alert carries it as ``cluster``."""
    chart_version: str
    """kube-prometheus-stack chart version (monitoring.kubePrometheusStackVersion)."""
    adapter_chart_version: str
    retention_days: int
    rule_files: Mapping[str, Mapping[str, Any]]
    """Rendered rule files (``blueprint.monitoring.rules.render``), by file name."""
    alertmanager_config: pulumi.Input[str]
    """The whole ``alertmanager.yaml`` (``blueprint.monitoring.alertmanager.for_stack``,
    dumped): a secret Output, as it carries the receivers' keys and URLs."""
    dashboards: Mapping[str, Mapping[str, Any]]
    """Grafana JSON models by uid (``blueprint.monitoring.dashboards.all_dashboards``)."""
    ksm_label_allowlist: Mapping[str, Sequence[str]]
    """kube-state-metrics labels by resource (monitoring/metrics/kube-state-metrics.yaml)."""
    namespace: str = "monitoring"
    scrape_interval: str = "30s"
    dcgm_namespace: str | None = None
    """Scrape a DCGM exporter Service (``app: nvidia-dcgm-exporter``) in this namespace.
    None (the default) where the GPU Operator's own ServiceMonitor already scrapes it
    (components/k8s/gpu_operator.py) or the cluster has none: two would duplicate series."""
    karpenter_namespace: str | None = None
    cloudwatch: CloudWatchExporterArgs | None = None
    extra_values: Mapping[str, Any] = field(default_factory=dict)
    """Merged into kube-prometheus-stack's values last (storage classes, resources)."""


# ---------------------------------------------------------------------------
# Plain builders: values and specs, no resources (tested directly).


def kube_prometheus_stack_values(args: MonitoringArgs) -> dict[str, Any]:
    allowlist = [
        f"{kind}=[{','.join(labels)}]" for kind, labels in args.ksm_label_allowlist.items()
    ]
    values: dict[str, Any] = {
        "fullnameOverride": RELEASE,
        "defaultRules": {
            "create": True,
            # The blueprint ships its own Watchdog (monitoring/rules/meta.yaml).
            "rules": {"general": False},
            # The community rules (nodes, kubelet, API server) route to the platform team.
            "additionalRuleLabels": {"team": "platform"},
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{args.retention_days}d",
                "scrapeInterval": args.scrape_interval,
                "evaluationInterval": args.scrape_interval,
                "externalLabels": {"cluster": args.cluster},
                # Pick up every PrometheusRule and ServiceMonitor, not only the chart's.
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
            }
        },
        # The configuration carries credentials: it lives in a Secret of its own, never
        # in the Helm values (which Helm keeps in clear in its release Secret).
        "alertmanager": {
            "alertmanagerSpec": {
                "useExistingSecret": True,
                "configSecret": ALERTMANAGER_SECRET,
            }
        },
        "kube-state-metrics": {"metricLabelsAllowlist": allowlist},
        "grafana": {
            # The admin password is generated and kept in a Secret, not the chart's default.
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": GRAFANA_USER_KEY,
                "passwordKey": GRAFANA_PASSWORD_KEY,
            },
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                }
            },
        },
    }
    return _merge(values, dict(args.extra_values))


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def prometheus_url(namespace: str) -> str:
    return f"http://{RELEASE}-prometheus.{namespace}.svc"


def adapter_values(args: MonitoringArgs) -> dict[str, Any]:
    return {
        "prometheus": {"url": prometheus_url(args.namespace), "port": 9090},
        "rules": {"default": False, "custom": autoscaling.adapter_rules()},
    }


def triton_service_monitor_spec(interval: str = "15s") -> dict[str, Any]:
    return _serving_monitor_spec(TRITON_SELECTOR, "metrics", interval)


def vllm_service_monitor_spec(interval: str = "15s") -> dict[str, Any]:
    """The LLM tier: job ``vllm`` (its Services' app.kubernetes.io/name), the API port."""
    return _serving_monitor_spec(VLLM_SELECTOR, "http", interval)


def _serving_monitor_spec(selector: Mapping[str, str], port: str, interval: str) -> dict[str, Any]:
    return {
        "jobLabel": "app.kubernetes.io/name",
        "namespaceSelector": {"any": True},
        "selector": {"matchLabels": dict(selector)},
        "endpoints": [
            {
                "port": port,
                "path": "/metrics",
                "interval": interval,
                "relabelings": [
                    {
                        "sourceLabels": [
                            "__meta_kubernetes_pod_label_"
                            + label.replace("/", "_").replace("-", "_").replace(".", "_")
                        ],
                        "targetLabel": target,
                        "action": "replace",
                    }
                    for label, target in TRITON_POD_LABELS.items()
                ],
            }
        ],
    }


def dcgm_service_monitor_spec(namespace: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchNames": [namespace]},
        "selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}},
        "endpoints": [
            {
                "port": "gpu-metrics",
                "path": "/metrics",
                "interval": "15s",
                # The exporter's own namespace/pod/container labels name the workload
                # using the GPU; keep them instead of the exporter pod's.
                "honorLabels": True,
                "relabelings": [
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                        "targetLabel": "node",
                        "action": "replace",
                    }
                ],
            }
        ],
    }


def karpenter_service_monitor_spec(namespace: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchNames": [namespace]},
        "selector": {"matchLabels": {"app.kubernetes.io/name": "karpenter"}},
        "endpoints": [{"port": "http-metrics", "path": "/metrics", "interval": "30s"}],
    }


CLOUDWATCH_READ_POLICY: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "tag:GetResources",
            ],
            "Resource": "*",
        }
    ],
}
"""What YACE needs to discover SageMaker endpoints by tag and read their metrics."""


def yace_values(cw: CloudWatchExporterArgs, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    config = {
        "apiVersion": "v1alpha1",
        "sts-region": cw.region,
        "discovery": {
            "jobs": [
                {
                    "type": "AWS/SageMaker",
                    "regions": [cw.region],
                    "period": 60,
                    "length": 300,
                    "metrics": [
                        {"name": name, "statistics": list(stats)}
                        for name, stats in sorted(cw.metrics.items())
                    ],
                }
            ]
        },
    }
    return {
        "serviceAccount": {
            "name": YACE_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "serviceMonitor": {"enabled": True, "interval": "60s"},
        "config": yaml.safe_dump(config, sort_keys=False),
    }


def k8s_name(text: str) -> str:
    return text.lower().replace("_", "-").replace(".", "-")


# ---------------------------------------------------------------------------


class Monitoring(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    """The namespace everything runs in."""
    prometheus_url: pulumi.Output[str]
    """Prometheus inside the cluster (prometheus-adapter and Grafana use it)."""
    hpa_queue_metric: pulumi.Output[str]
    """The per-pod custom metric the Triton HPAs scale on."""

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)

        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.namespace,
                "labels": {"app.kubernetes.io/part-of": "monitoring"},
            },
            opts=child,
        )
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns]))
        secrets = self._create_secrets(in_ns)
        stack = self._create_kube_prometheus_stack(
            pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=secrets))
        )
        # Custom resources need the operator's CRDs, which the chart installs.
        after_crds = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[stack]))
        self._create_rules(after_crds)
        self._create_service_monitors(after_crds)
        self._create_dashboards(in_ns)
        k8s.helm.v3.Release(
            f"{name}-prometheus-adapter",
            name="prometheus-adapter",
            chart="prometheus-adapter",
            version=args.adapter_chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=args.namespace,
            values=adapter_values(args),
            opts=after_crds,
        )
        if args.cloudwatch is not None:
            self._create_cloudwatch_exporter(args.cloudwatch, after_crds)

        self.namespace = ns.metadata.apply(lambda _: args.namespace)
        self.prometheus_url = pulumi.Output.from_input(prometheus_url(args.namespace))
        self.hpa_queue_metric = pulumi.Output.from_input(autoscaling.HPA_QUEUE_METRIC)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "hpa_queue_metric": self.hpa_queue_metric,
            }
        )

    def _create_secrets(self, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """The Secrets the chart reads: Alertmanager's configuration, Grafana's admin."""
        alertmanager = k8s.core.v1.Secret(
            f"{self._name}-alertmanager-config",
            metadata=self._metadata(ALERTMANAGER_SECRET),
            string_data={"alertmanager.yaml": pulumi.Output.secret(self._args.alertmanager_config)},
            opts=opts,
        )
        password = random.RandomPassword(
            f"{self._name}-grafana-admin",
            length=GRAFANA_PASSWORD_LENGTH,
            # Letters and digits: no quoting trouble in Grafana's ini or a shell.
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The provider marks the result secret; say so here too, whatever answers.
        admin_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        grafana = k8s.core.v1.Secret(
            f"{self._name}-grafana-admin",
            metadata=self._metadata(GRAFANA_ADMIN_SECRET),
            string_data={
                GRAFANA_USER_KEY: GRAFANA_ADMIN_USER,
                GRAFANA_PASSWORD_KEY: admin_password,
            },
            opts=opts,
        )
        return [alertmanager, grafana]

    def _create_kube_prometheus_stack(self, opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{self._name}-kube-prometheus-stack",
            name=RELEASE,
            chart="kube-prometheus-stack",
            version=self._args.chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=self._args.namespace,
            values=kube_prometheus_stack_values(self._args),
            opts=opts,
        )

    def _create_cloudwatch_exporter(
        self, cw: CloudWatchExporterArgs, opts: pulumi.ResourceOptions
    ) -> None:
        role = aws.iam.Role(
            f"{self._name}-cloudwatch-exporter",
            assume_role_policy=cw.trust_policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-cloudwatch-exporter",
            role=role.id,
            policy=json.dumps(CLOUDWATCH_READ_POLICY),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.helm.v3.Release(
            f"{self._name}-cloudwatch-exporter",
            name="cloudwatch-exporter",
            chart="prometheus-yet-another-cloudwatch-exporter",
            version=cw.chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=self._args.namespace,
            values=yace_values(cw, role.arn),
            opts=opts,
        )

    def _metadata(self, name: str, **labels: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._args.namespace,
            labels={"app.kubernetes.io/part-of": "llm-inference", "release": RELEASE, **labels},
        )

    def _create_rules(self, opts: pulumi.ResourceOptions) -> None:
        for file, doc in sorted(self._args.rule_files.items()):
            rule_name = f"llm-inference-{k8s_name(file.removesuffix('.yaml'))}"
            k8s.apiextensions.CustomResource(
                f"{self._name}-{rule_name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._metadata(rule_name),
                spec={"groups": doc["groups"]},
                opts=opts,
            )

    def _service_monitor(
        self, name: str, spec: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> None:
        k8s.apiextensions.CustomResource(
            f"{self._name}-{name}",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(name),
            spec=spec,
            opts=opts,
        )

    def _create_service_monitors(self, opts: pulumi.ResourceOptions) -> None:
        self._service_monitor("triton", triton_service_monitor_spec(), opts)
        self._service_monitor("vllm", vllm_service_monitor_spec(), opts)
        if self._args.dcgm_namespace:
            self._service_monitor(
                "dcgm-exporter", dcgm_service_monitor_spec(self._args.dcgm_namespace), opts
            )
        if self._args.karpenter_namespace:
            self._service_monitor(
                "karpenter", karpenter_service_monitor_spec(self._args.karpenter_namespace), opts
            )

    def _create_dashboards(self, opts: pulumi.ResourceOptions) -> None:
        for uid, model in sorted(self._args.dashboards.items()):
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{uid}",
                metadata=self._metadata(f"dashboard-{uid}", **{DASHBOARD_LABEL: "1"}),
                data={f"{uid}.json": json.dumps(model, sort_keys=True)},
                opts=opts,
            )
