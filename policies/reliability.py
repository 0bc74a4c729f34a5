"""Reliability guardrails: workloads that heal and survive drains, GPU pools that hold
their floor across zones and spot interruptions, and alerts someone can act on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pydantic import Field

from blueprint.capacity import NVIDIA_RESOURCE_PREFIX
from blueprint.triton import HTTP_PORT, LIVE_PATH, READY_PATH
from policies._lib import (
    NOT_SET,
    WORKLOAD_TYPES,
    Level,
    Named,
    NoConfig,
    PolicyConfig,
    containers,
    get,
    is_serving_workload,
    items,
    mapping,
    message,
    namespace_of,
    number,
    pod_labels,
    pod_spec,
    resource_policy,
    selector_matches,
    stack_policy,
    value_or_unset,
)
from policies._pools import (
    EKS_NODE_GROUP,
    GKE_NODE_POOL,
    GPU_RESOURCE,
    KARPENTER_NODE_POOLS,
    ZONE_LABEL,
    gpu_models,
    pool_of,
)

LONG_RUNNING = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
    }
)
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _provider_urn(res: Any) -> str | None:
    provider = getattr(res, "provider", None)
    return getattr(provider, "urn", None)


# ---------------------------------------------------------------------------
# workload-probes


def _workload_probes(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type not in LONG_RUNNING:
        return
    spec = pod_spec(args.resource_type, args.props) or {}
    for path, container in containers(spec, init=False):
        for probe in ("readinessProbe", "livenessProbe"):
            if get(container, probe) is None:
                name = get(container, "name", default="?")
                report(
                    message(
                        args,
                        f"spec.template.spec.{path}.{probe} (container {name})",
                        NOT_SET,
                        "without it Kubernetes routes traffic to, or keeps, a container that "
                        "cannot serve",
                        f"add a {probe} (Triton: httpGet {READY_PATH} on port {HTTP_PORT} for "
                        f"readiness, {LIVE_PATH} for liveness; a startupProbe for model load)",
                    ),
                    None,
                )


WORKLOAD_PROBES = resource_policy(
    name="workload-probes",
    domain="reliability",
    description="Every container of a Deployment, StatefulSet or DaemonSet has readiness and "
    "liveness probes.",
    level=Level.MANDATORY,
    fix="Add readinessProbe and livenessProbe to each container.",
    check=_workload_probes,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# resource-requests-limits


def _is_gpu_resource(key: str) -> bool:
    return key.startswith(NVIDIA_RESOURCE_PREFIX)


def _resource_requests_limits(
    args: ResourceValidationArgs, report: ReportViolation, _: NoConfig
) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for path, container in containers(spec):
        name = get(container, "name", default="?")
        requests = mapping(get(container, "resources", "requests"))
        limits = mapping(get(container, "resources", "limits"))
        base = f"{path}.resources (container {name})"
        for key in ("cpu", "memory"):
            if key not in requests:
                report(
                    message(
                        args,
                        f"{base}.requests.{key}",
                        NOT_SET,
                        "the scheduler cannot place the pod by what it needs",
                        f"set resources.requests.{key}",
                    ),
                    None,
                )
        if "memory" not in limits:
            report(
                message(
                    args,
                    f"{base}.limits.memory",
                    NOT_SET,
                    "a container without a memory limit can starve its node",
                    "set resources.limits.memory",
                ),
                None,
            )
        for key in set(requests) | set(limits):
            if not _is_gpu_resource(str(key)):
                continue
            if key not in limits or (key in requests and str(requests[key]) != str(limits[key])):
                report(
                    message(
                        args,
                        f"{base}.limits.{key}",
                        value_or_unset(limits, key),
                        "GPUs and MIG slices are extended resources: Kubernetes needs them in "
                        "limits, equal to any request",
                        f"set resources.limits.{key} (and requests equal to it, or none)",
                    ),
                    None,
                )


RESOURCE_REQUESTS_LIMITS = resource_policy(
    name="resource-requests-limits",
    domain="reliability",
    description="Every container requests CPU and memory, limits memory, and states GPUs or "
    "MIG slices as limits.",
    level=Level.MANDATORY,
    fix="Set resources.requests and resources.limits on each container.",
    check=_resource_requests_limits,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# Stack helpers for serving workloads


def _serving_workloads(args: StackValidationArgs) -> Iterator[Any]:
    for res in args.resources:
        if res.resource_type in LONG_RUNNING and is_serving_workload(res.resource_type, res.props):
            yield res


def _same_place(a: Any, b: Any) -> bool:
    return _provider_urn(a) == _provider_urn(b) and namespace_of(a.props) == namespace_of(b.props)


# ---------------------------------------------------------------------------
# pdb-for-serving


def _pdb_for_serving(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    pdbs = [r for r in args.resources if r.resource_type == PDB]
    for workload in _serving_workloads(args):
        labels = pod_labels(workload.resource_type, workload.props)
        mine = [
            p
            for p in pdbs
            if _same_place(p, workload)
            and selector_matches(get(p.props, "spec", "selector"), labels)
        ]
        if not mine:
            report(
                message(
                    workload,
                    "PodDisruptionBudget",
                    NOT_SET,
                    "no PodDisruptionBudget selects its pods, so a node drain or spot "
                    "rebalance can take every replica at once",
                    "add a policy/v1 PodDisruptionBudget in the same namespace selecting the "
                    "pod labels, with maxUnavailable: 1",
                ),
                workload.urn,
            )
            continue
        for pdb in mine:
            max_unavailable = get(pdb.props, "spec", "maxUnavailable")
            min_available = get(pdb.props, "spec", "minAvailable")
            replicas = number(get(workload.props, "spec", "replicas"))
            blocks = (
                max_unavailable is not None and str(max_unavailable) in {"0", "0.0", "0%"}
            ) or (min_available is not None and str(min_available) == "100%")
            if replicas is not None and number(min_available) is not None:
                blocks = blocks or (number(min_available) or 0) >= replicas
            if blocks:
                report(
                    message(
                        pdb,
                        "spec.maxUnavailable/minAvailable",
                        {"maxUnavailable": max_unavailable, "minAvailable": min_available},
                        "allows no disruption, so node drains and upgrades block forever",
                        "use maxUnavailable: 1",
                    ),
                    pdb.urn,
                )


PDB_FOR_SERVING = stack_policy(
    name="pdb-for-serving",
    domain="reliability",
    description="Every Triton workload has a PodDisruptionBudget that allows a drain to make "
    "progress without taking all replicas.",
    level=Level.MANDATORY,
    fix="Add a PodDisruptionBudget with maxUnavailable: 1.",
    check=_pdb_for_serving,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# min-replicas


class MinReplicasConfig(PolicyConfig):
    min_replicas: float = Field(default=2, ge=1, description="replicas a serving workload keeps")


def _min_replicas(
    args: StackValidationArgs, report: ReportViolation, cfg: MinReplicasConfig
) -> None:
    hpas = [r for r in args.resources if r.resource_type == HPA]
    for workload in _serving_workloads(args):
        wname = get(workload.props, "metadata", "name", default=workload.name)
        scaler = next(
            (
                h
                for h in hpas
                if _same_place(h, workload)
                and get(h.props, "spec", "scaleTargetRef", "name") == wname
                and get(h.props, "spec", "scaleTargetRef", "kind")
                == workload.resource_type.rsplit(":", 1)[-1]
            ),
            None,
        )
        if scaler is not None:
            value = number(get(scaler.props, "spec", "minReplicas", default=1))
            target, prop = scaler, "spec.minReplicas"
        else:
            value = number(get(workload.props, "spec", "replicas", default=1))
            target, prop = workload, "spec.replicas"
        if value == 0:
            continue  # scaled to zero on purpose (replicas.min: 0): no replica to lose
        if (value or 0) < cfg.min_replicas:
            report(
                message(
                    target,
                    prop,
                    value,
                    f"fewer than {cfg.min_replicas:g} replicas: one pod restart or spot "
                    "interruption takes the model offline",
                    f"set replicas.min of the model deployment to {cfg.min_replicas:g} or more",
                ),
                target.urn,
            )


MIN_REPLICAS = stack_policy(
    name="min-replicas",
    domain="reliability",
    description="Triton workloads that keep replicas keep at least the minimum (through their "
    "HPA's minReplicas when they have one); deliberate scale-to-zero is allowed.",
    level=Level.MANDATORY,
    fix="Raise the deployment's minimum replicas.",
    check=_min_replicas,
    config=MinReplicasConfig,
)


# ---------------------------------------------------------------------------
# gpu-pool-taints


class TaintConfig(PolicyConfig):
    taint_key: str = Field(default=GPU_RESOURCE, description="the taint GPU nodes carry")


def _gpu_pool_taints(
    args: ResourceValidationArgs, report: ReportViolation, cfg: TaintConfig
) -> None:
    pool = pool_of(args.resource_type, args.props)
    if pool is None or not pool.gpu:
        return
    ok = any(
        get(t, "key") == cfg.taint_key
        and str(get(t, "effect", default="")).replace("_", "").lower()
        in {"noschedule", "noexecute"}
        for t in pool.taints
    )
    if not ok:
        prop = {
            EKS_NODE_GROUP: "taints",
            GKE_NODE_POOL: "nodeConfig.taints",
        }.get(args.resource_type, "spec.template.spec.taints")
        report(
            message(
                args,
                prop,
                [dict(t) for t in pool.taints] or NOT_SET,
                "GPU nodes without a taint take any pod, so CPU work can occupy them and block "
                "GPU workloads",
                f"taint the pool {cfg.taint_key}=true:NoSchedule and give GPU workloads the "
                "matching toleration",
            ),
            None,
        )


GPU_POOL_TAINTS = resource_policy(
    name="gpu-pool-taints",
    domain="reliability",
    description="GPU node pools carry a NoSchedule taint so that only GPU workloads land on them.",
    level=Level.MANDATORY,
    fix="Taint GPU pools nvidia.com/gpu:NoSchedule.",
    check=_gpu_pool_taints,
    config=TaintConfig,
)


# ---------------------------------------------------------------------------
# spot-diversity


class DiversityConfig(PolicyConfig):
    min_instance_types: float = Field(default=2, ge=1)
    min_zones: float = Field(default=2, ge=1, description="GKE: one machine type per pool")


def _spot_diversity(
    args: ResourceValidationArgs, report: ReportViolation, cfg: DiversityConfig
) -> None:
    pool = pool_of(args.resource_type, args.props)
    if pool is None or not pool.gpu or not pool.spot:
        return
    if args.resource_type == GKE_NODE_POOL:
        if pool.zones is not None and pool.zones < cfg.min_zones:
            report(
                message(
                    args,
                    "nodeLocations",
                    value_or_unset(args.props, "nodeLocations"),
                    "a spot pool in one zone loses all its nodes when that zone's spot "
                    "capacity goes",
                    f"spread the pool over {cfg.min_zones:g} or more zones",
                ),
                None,
            )
        return
    if args.resource_type in KARPENTER_NODE_POOLS and not pool.instance_types:
        return  # family/category requirements: Karpenter chooses among many types
    if len(pool.instance_types) < cfg.min_instance_types:
        prop = (
            "instanceTypes"
            if args.resource_type == EKS_NODE_GROUP
            else "spec.template.spec.requirements[node.kubernetes.io/instance-type]"
        )
        report(
            message(
                args,
                prop,
                list(pool.instance_types),
                f"a spot pool with fewer than {cfg.min_instance_types:g} instance types is "
                "interrupted all at once when that type's spot pool drains",
                "list several instance types with the same GPU in the pool's instanceTypes",
            ),
            None,
        )


SPOT_DIVERSITY = resource_policy(
    name="spot-diversity",
    domain="reliability",
    description="Spot GPU pools spread over several instance types (EKS) or zones (GKE).",
    level=Level.MANDATORY,
    fix="Add instance types or zones to the spot pool.",
    check=_spot_diversity,
    config=DiversityConfig,
)


# ---------------------------------------------------------------------------
# on-demand-floor


class FloorConfig(PolicyConfig):
    min_floor_nodes: float = Field(default=1, ge=1)


def _on_demand_floor(args: StackValidationArgs, report: ReportViolation, cfg: FloorConfig) -> None:
    pools = []
    for res in args.resources:
        pool = pool_of(res.resource_type, res.props)
        if pool is not None and pool.gpu:
            pools.append((res, pool))
    floors: dict[str, float] = {}
    for _res, pool in pools:
        if pool.on_demand:
            for model in gpu_models(pool):
                floors[model] = floors.get(model, 0.0) + (pool.total_min_nodes or 0.0)
    for res, pool in pools:
        if not pool.spot:
            continue
        models = gpu_models(pool)
        short = [m for m in sorted(models) if floors.get(m, 0.0) < cfg.min_floor_nodes]
        if short:
            report(
                message(
                    res,
                    "capacity",
                    sorted(pool.capacity),
                    f"spot {', '.join(short)} capacity with fewer than {cfg.min_floor_nodes:g} "
                    "on-demand node(s) of the same GPU always up: a spot reclaim takes the "
                    "model offline",
                    "set onDemandFloor (= nodes.min) of the pool in the stack file",
                ),
                res.urn,
            )


ON_DEMAND_FLOOR = stack_policy(
    name="on-demand-floor",
    domain="reliability",
    description="Every GPU model served on spot also has an on-demand floor that stays up.",
    level=Level.MANDATORY,
    fix="Give the GPU pool an on-demand floor.",
    check=_on_demand_floor,
    config=FloorConfig,
)


# ---------------------------------------------------------------------------
# multi-zone


class ZonesConfig(PolicyConfig):
    min_zones: float = Field(default=2, ge=1)


_GCP_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


def _subnet_zones(args: StackValidationArgs, res: Any, prop: str) -> set[str] | None:
    deps = res.property_dependencies.get(prop) or []
    subnets = [d for d in deps if d.resource_type == "aws:ec2/subnet:Subnet"]
    if not subnets:
        return None
    return {str(get(s.props, "availabilityZone")) for s in subnets}


def _multi_zone(args: StackValidationArgs, report: ReportViolation, cfg: ZonesConfig) -> None:
    need = cfg.min_zones
    fix = f"spread it over {need:g} or more zones (availabilityZones/zones in the stack file)"
    for res in args.resources:
        rtype = res.resource_type
        zones: set[str] | None = None
        prop = ""
        if rtype == "aws:eks/cluster:Cluster":
            prop, zones = "vpcConfig.subnetIds", _subnet_zones(args, res, "vpcConfig")
        elif rtype == EKS_NODE_GROUP:
            prop, zones = "subnetIds", _subnet_zones(args, res, "subnetIds")
        elif rtype == "gcp:container/cluster:Cluster":
            location = str(get(res.props, "location", default=""))
            locations = {str(z) for z in items(get(res.props, "nodeLocations"))}
            if _GCP_ZONE.match(location) and len(locations | {location}) < need:
                prop, zones = "location", {location}
        elif rtype == GKE_NODE_POOL and get(res.props, "nodeLocations") is not None:
            prop, zones = "nodeLocations", {str(z) for z in items(get(res.props, "nodeLocations"))}
        elif rtype in KARPENTER_NODE_POOLS:
            for req in items(get(res.props, "spec", "template", "spec", "requirements")):
                if get(req, "key") == ZONE_LABEL and get(req, "operator") == "In":
                    prop = "spec.template.spec.requirements[topology.kubernetes.io/zone]"
                    zones = {str(v) for v in items(get(req, "values"))}
        if zones is not None and len(zones) < need:
            report(message(res, prop, sorted(zones), f"runs in {len(zones)} zone(s)", fix), res.urn)


MULTI_ZONE = stack_policy(
    name="multi-zone",
    domain="reliability",
    description="Clusters and node pools span several zones.",
    level=Level.MANDATORY,
    fix="Spread clusters and pools over at least two zones.",
    check=_multi_zone,
    config=ZonesConfig,
)


# ---------------------------------------------------------------------------
# triton-monitored


def _monitors(args: StackValidationArgs, workload: Any) -> bool:
    labels = pod_labels(workload.resource_type, workload.props)
    ns = namespace_of(workload.props)
    services = [
        s
        for s in args.resources
        if s.resource_type == SERVICE
        and _same_place(s, workload)
        and selector_matches({"matchLabels": get(s.props, "spec", "selector")}, labels)
    ]
    for mon in args.resources:
        if mon.resource_type not in {SERVICE_MONITOR, POD_MONITOR}:
            continue
        if _provider_urn(mon) != _provider_urn(workload):
            continue
        names = get(mon.props, "spec", "namespaceSelector")
        if get(names, "any") is not True:
            allowed = {str(n) for n in items(get(names, "matchNames"))} or {namespace_of(mon.props)}
            if ns not in allowed:
                continue
        selector = get(mon.props, "spec", "selector")
        if mon.resource_type == POD_MONITOR and selector_matches(selector, labels):
            return True
        if mon.resource_type == SERVICE_MONITOR and any(
            selector_matches(selector, mapping(get(s.props, "metadata", "labels")))
            for s in services
        ):
            return True
    return False


def _triton_monitored(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for workload in _serving_workloads(args):
        if not _monitors(args, workload):
            report(
                message(
                    workload,
                    "ServiceMonitor/PodMonitor",
                    NOT_SET,
                    "no ServiceMonitor or PodMonitor on its cluster selects its pods (or a "
                    "Service in front of them), so Prometheus never scrapes Triton's :8002/metrics",
                    "add a monitoring.coreos.com/v1 PodMonitor (or Service + ServiceMonitor) "
                    "selecting the pod labels, declared as a native Kubernetes resource",
                ),
                workload.urn,
            )
        rules = [
            r
            for r in args.resources
            if r.resource_type == PROMETHEUS_RULE and _provider_urn(r) == _provider_urn(workload)
        ]
        if not rules:
            report(
                message(
                    workload,
                    "PrometheusRule",
                    NOT_SET,
                    "no PrometheusRule on its cluster, so nothing alerts when it fails",
                    "deploy the blueprint's alert rules as monitoring.coreos.com/v1 "
                    "PrometheusRule on every cluster that runs Triton",
                ),
                workload.urn,
            )


TRITON_MONITORED = stack_policy(
    name="triton-monitored",
    domain="reliability",
    description="Wherever Triton runs, Prometheus scrapes it and alert rules are deployed on "
    "the same cluster.",
    level=Level.MANDATORY,
    fix="Add a PodMonitor/ServiceMonitor and the PrometheusRule to the cluster.",
    check=_triton_monitored,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# alert-runbook


class RunbookConfig(PolicyConfig):
    url_prefix: str = Field(default="https://", description="runbook URLs start with this")


def _alert_runbook(
    args: ResourceValidationArgs, report: ReportViolation, cfg: RunbookConfig
) -> None:
    fix = (
        f"annotate the alert runbook_url: {cfg.url_prefix}.../<AlertName>.md and add "
        "runbooks/<AlertName>.md"
    )
    if args.resource_type == PROMETHEUS_RULE:
        for g, group in enumerate(items(get(args.props, "spec", "groups"))):
            for r, rule in enumerate(items(get(group, "rules"))):
                alert = get(rule, "alert")
                if alert is None:
                    continue
                url = get(rule, "annotations", "runbook_url")
                if not isinstance(url, str) or not url.startswith(cfg.url_prefix):
                    report(
                        message(
                            args,
                            f"spec.groups[{g}].rules[{r}].annotations.runbook_url (alert {alert})",
                            url if url is not None else NOT_SET,
                            "the on-call gets a page with no runbook",
                            fix,
                        ),
                        None,
                    )
    elif args.resource_type == "aws:cloudwatch/metricAlarm:MetricAlarm":
        text = str(get(args.props, "alarmDescription", default=""))
        if cfg.url_prefix not in text:
            report(
                message(
                    args,
                    "alarmDescription",
                    value_or_unset(args.props, "alarmDescription"),
                    "the alarm links no runbook",
                    f"put the runbook URL ({cfg.url_prefix}...) in alarmDescription",
                ),
                None,
            )
    elif args.resource_type == "gcp:monitoring/alertPolicy:AlertPolicy":
        links = [
            str(get(link, "url", default=""))
            for link in items(get(args.props, "documentation", "links"))
        ]
        content = str(get(args.props, "documentation", "content", default=""))
        if not any(u.startswith(cfg.url_prefix) for u in links) and cfg.url_prefix not in content:
            report(
                message(
                    args,
                    "documentation",
                    value_or_unset(args.props, "documentation"),
                    "the alert policy links no runbook",
                    f"add documentation.links with the runbook URL ({cfg.url_prefix}...)",
                ),
                None,
            )


ALERT_RUNBOOK = resource_policy(
    name="alert-runbook",
    domain="reliability",
    description="Every alert (PrometheusRule, CloudWatch alarm, Cloud Monitoring policy) links "
    "a runbook.",
    level=Level.MANDATORY,
    fix="Add a runbook_url annotation pointing at runbooks/<AlertName>.md.",
    check=_alert_runbook,
    config=RunbookConfig,
)


# ---------------------------------------------------------------------------
# alert-mig-metrics


def _alert_mig_metrics(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type != PROMETHEUS_RULE:
        return
    for g, group in enumerate(items(get(args.props, "spec", "groups"))):
        for r, rule in enumerate(items(get(group, "rules"))):
            expr = str(get(rule, "expr", default=""))
            if "DCGM_FI_DEV_GPU_UTIL" in expr:
                name = get(rule, "alert") or get(rule, "record") or "?"
                report(
                    message(
                        args,
                        f"spec.groups[{g}].rules[{r}].expr ({name})",
                        expr,
                        "DCGM_FI_DEV_GPU_UTIL does not exist on MIG slices, so the rule is "
                        "silently empty on MIG pools",
                        "use DCGM_FI_PROF_GR_ENGINE_ACTIVE (reported per GPU and per MIG instance)",
                    ),
                    None,
                )


ALERT_MIG_METRICS = resource_policy(
    name="alert-mig-metrics",
    domain="reliability",
    description="Alert and recording rules use GPU metrics that exist on MIG slices.",
    level=Level.MANDATORY,
    fix="Use DCGM_FI_PROF_GR_ENGINE_ACTIVE instead of DCGM_FI_DEV_GPU_UTIL.",
    check=_alert_mig_metrics,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# gpu-consolidation-delay


class ConsolidationConfig(PolicyConfig):
    min_minutes: float = Field(default=10, ge=0)


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration_minutes(text: str) -> float | None:
    """A Go duration such as ``1h30m`` or ``90s`` in minutes; None when unreadable."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None:
        return None
    h, mi, s = (int(x) if x else 0 for x in m.groups())
    return h * 60 + mi + s / 60


def _gpu_consolidation_delay(
    args: ResourceValidationArgs, report: ReportViolation, cfg: ConsolidationConfig
) -> None:
    if args.resource_type not in KARPENTER_NODE_POOLS:
        return
    pool = pool_of(args.resource_type, args.props)
    if pool is None or not pool.gpu:
        return
    after = get(args.props, "spec", "disruption", "consolidateAfter")
    if after is not None and str(after) == "Never":
        return
    minutes = duration_minutes(str(after)) if after is not None else 0.0
    if minutes is None or minutes < cfg.min_minutes:
        report(
            message(
                args,
                "spec.disruption.consolidateAfter",
                after if after is not None else NOT_SET,
                "GPU nodes take minutes to boot and load models; consolidating them after a "
                "short idle spell churns capacity and drops warm models",
                f"set consolidateAfter to {cfg.min_minutes:g}m or more",
            ),
            None,
        )


GPU_CONSOLIDATION_DELAY = resource_policy(
    name="gpu-consolidation-delay",
    domain="reliability",
    description="Karpenter waits long enough before consolidating idle GPU nodes.",
    level=Level.MANDATORY,
    fix="Raise spec.disruption.consolidateAfter of GPU NodePools.",
    check=_gpu_consolidation_delay,
    config=ConsolidationConfig,
)


# ---------------------------------------------------------------------------
# no-removed-k8s-apis

REMOVED_APIS = {
    "autoscaling/v2beta1": "1.25",
    "autoscaling/v2beta2": "1.26",
    "policy/v1beta1": "1.25",
    "batch/v1beta1": "1.25",
    "extensions/v1beta1": "1.16",
    "apps/v1beta1": "1.16",
    "apps/v1beta2": "1.16",
    "networking.k8s.io/v1beta1": "1.22",
    "discovery.k8s.io/v1beta1": "1.25",
    "flowcontrol.apiserver.k8s.io/v1beta2": "1.29",
}


def _no_removed_k8s_apis(
    args: ResourceValidationArgs, report: ReportViolation, _: NoConfig
) -> None:
    if not args.resource_type.startswith("kubernetes:"):
        return
    api = args.resource_type.split(":")[1]
    kind = args.resource_type.split(":")[2]
    if api in REMOVED_APIS:
        report(
            message(
                args,
                "apiVersion",
                api,
                f"Kubernetes removed {api} in {REMOVED_APIS[api]}; the clusters here run newer",
                f"use the current API of {kind} (e.g. autoscaling/v2, policy/v1, batch/v1)",
            ),
            None,
        )


NO_REMOVED_K8S_APIS = resource_policy(
    name="no-removed-k8s-apis",
    domain="reliability",
    description="Kubernetes objects use API versions the clusters still serve.",
    level=Level.MANDATORY,
    fix="Move the object to its current API version.",
    check=_no_removed_k8s_apis,
    config=NoConfig,
)


POLICIES = [
    WORKLOAD_PROBES,
    RESOURCE_REQUESTS_LIMITS,
    PDB_FOR_SERVING,
    MIN_REPLICAS,
    GPU_POOL_TAINTS,
    SPOT_DIVERSITY,
    ON_DEMAND_FLOOR,
    MULTI_ZONE,
    TRITON_MONITORED,
    ALERT_RUNBOOK,
    ALERT_MIG_METRICS,
    GPU_CONSOLIDATION_DELAY,
    NO_REMOVED_K8S_APIS,
]

_ = (WORKLOAD_TYPES, Named)  # re-exported helpers some domains use
