"""The facts the alert rules compare measurements with, rendered as recording rules.

Thresholds that differ per model, per pool or per cluster are not written into
the rule files: they come from their one table (the SLO table, the stack config,
the hardware catalog) and are rendered into one rule group,
``llm-inference-facts``, of constant series such as
``llm_inference:model_latency_budget_seconds{deployment="chat-llm",model="chat_llm"}``.
The alert expressions join on them, so one expression serves every model and the
promtool tests feed facts in as input series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blueprint.capacity import TIER_GPUS
from blueprint.catalog import load_catalog
from blueprint.monitoring.objectives import LlmObjective, Objective

GROUP = "llm-inference-facts"

FACT_SERIES = {
    "llm_inference:model_expected": "1 for every model a deployment on this cluster serves",
    "llm_inference:model_latency_budget_seconds": "p99 latency budget",
    "llm_inference:model_latency_error_budget": "fraction of minutes allowed over budget",
    "llm_inference:model_error_budget": "fraction of requests allowed to fail",
    "llm_inference:model_queue_budget_seconds": "queue time per request the model may spend",
    "llm_inference:model_max_pending_per_replica": "pending requests one replica may hold",
    "llm_inference:llm_expected": "1 for every LLM deployment on this cluster (vLLM)",
    "llm_inference:llm_ttft_budget_seconds": "an LLM variant's time-to-first-token p99 budget",
    "llm_inference:llm_itl_budget_seconds": "an LLM variant's inter-token latency p99 budget",
    "llm_inference:llm_ttft_budget_bucket": "1 on the TTFT histogram bucket (le) at the budget",
    "llm_inference:llm_itl_budget_bucket": "1 on the ITL histogram bucket (le) at the budget",
    "llm_inference:llm_latency_error_budget": "share of LLM requests allowed over a budget",
    "llm_inference:llm_prefix_caching": "1 when the LLM variant caches shared prompt prefixes",
    "llm_inference:llm_max_waiting_per_replica": "requests one engine may queue (max_num_seqs)",
    "llm_inference:pool_on_demand_floor": "on-demand nodes a spot pool keeps by design",
    "llm_inference:cluster_budget_monthly_usd": "this cluster's share of the stack's budget",
    "llm_inference:instance_price_usd_per_hour": "catalog price by instance and capacity type",
    "llm_inference:gpu_hourly_usd": "catalog on-demand price of one GPU, by product name",
}
"""Every series the facts group may record, with what it means."""


@dataclass(frozen=True, kw_only=True)
class Facts:
    objectives: Sequence[Objective] = ()
    llm_objectives: Sequence[LlmObjective] = ()
    pool_on_demand_floors: Mapping[str, int] = field(default_factory=dict)
    """Spot pools on this cluster that fall back to on-demand: pool -> on-demand floor."""
    cluster_budget_monthly_usd: float | None = None


def _num(value: float) -> str:
    text = f"{value:.9g}"
    return text


def _record(name: str, value: float, **labels: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": f"vector({_num(value)})"}
    if labels:
        rule["labels"] = dict(sorted(labels.items()))
    return rule


def _price_rules() -> list[dict[str, Any]]:
    catalog = load_catalog()
    rules = []
    for name, inst in sorted(catalog.instances.items()):
        rules.append(
            _record(
                "llm_inference:instance_price_usd_per_hour",
                inst.on_demand,
                instance_type=name,
                capacity_type="on-demand",
            )
        )
        if inst.spot_high is not None:
            rules.append(
                _record(
                    "llm_inference:instance_price_usd_per_hour",
                    inst.spot_high,
                    instance_type=name,
                    capacity_type="spot",
                )
            )
    per_gpu: dict[str, float] = {}
    for inst in catalog.instances.values():
        if inst.gpu is None:
            continue
        price = inst.on_demand / inst.gpus
        per_gpu[inst.gpu] = min(price, per_gpu.get(inst.gpu, price))
    tier_of = {gpu: tier.value for tier, gpus in TIER_GPUS.items() for gpu in gpus}
    for gpu, price in sorted(per_gpu.items()):
        rules.append(
            _record(
                "llm_inference:gpu_hourly_usd",
                round(price, 4),
                modelName=catalog.gpus[gpu].product,
                tier=tier_of.get(gpu, "unknown"),
            )
        )
    return rules


def facts_group(facts: Facts, interval: str | None = None) -> dict[str, Any]:
    """The ``llm-inference-facts`` rule group for one cluster (or the local stack)."""
    rules: list[dict[str, Any]] = []
    for o in facts.objectives:
        key = {"deployment": o.deployment, "model": o.model}
        rules += [
            _record("llm_inference:model_expected", 1, **key),
            _record("llm_inference:model_latency_budget_seconds", o.latency_budget_s, **key),
            _record("llm_inference:model_latency_error_budget", o.latency_error_budget, **key),
            _record("llm_inference:model_error_budget", o.error_budget, **key),
            _record("llm_inference:model_queue_budget_seconds", o.queue_budget_s, **key),
            _record(
                "llm_inference:model_max_pending_per_replica", o.max_pending_per_replica, **key
            ),
        ]
    for lo in facts.llm_objectives:
        key = {"deployment": lo.deployment, "model_name": lo.model_name}
        rules += [
            _record("llm_inference:llm_expected", 1, **key),
            _record("llm_inference:llm_ttft_budget_seconds", lo.ttft_budget_s, **key),
            _record("llm_inference:llm_itl_budget_seconds", lo.itl_budget_s, **key),
            _record("llm_inference:llm_ttft_budget_bucket", 1, **key, le=lo.ttft_le),
            _record("llm_inference:llm_itl_budget_bucket", 1, **key, le=lo.itl_le),
            _record("llm_inference:llm_latency_error_budget", lo.latency_error_budget, **key),
            _record("llm_inference:llm_prefix_caching", int(lo.prefix_caching), **key),
            _record("llm_inference:llm_max_waiting_per_replica", lo.max_waiting_per_replica, **key),
        ]
    for pool, floor in sorted(facts.pool_on_demand_floors.items()):
        rules.append(_record("llm_inference:pool_on_demand_floor", floor, pool=pool))
    if facts.cluster_budget_monthly_usd is not None:
        rules.append(
            _record("llm_inference:cluster_budget_monthly_usd", facts.cluster_budget_monthly_usd)
        )
    rules += _price_rules()
    group: dict[str, Any] = {"name": GROUP, "rules": rules}
    if interval:
        group["interval"] = interval
    return group
