"""Grafana dashboards as code: serving (Triton), the LLM tier (vLLM), GPUs (per MIG slice), cost.

Each dashboard is built here as a Grafana JSON model and shipped in a ConfigMap with
the ``grafana_dashboard`` label, which kube-prometheus-stack's Grafana sidecar loads.
Every query is checked against the exporters' metric names like the alert rules are
(tests/test_monitoring_dashboards.py). ``python -m blueprint.monitoring.dashboards
--out DIR`` writes them as files for import into any Grafana.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEL = 'deployment=~"$deployment", model=~"$model"'
"""The label matchers every Triton query carries (the dashboard's variables)."""
LLM_SEL = 'deployment=~"$deployment", model_name=~"$model_name"'
"""The label matchers every vLLM query carries: vLLM names the model ``model_name``."""
RATE = "$__rate_interval"

Variables = tuple[tuple[str, str], ...]
"""A dashboard's query variables: (name, ``label_values(...)`` query)."""
TRITON_VARIABLES: Variables = (
    ("deployment", "label_values(nv_inference_request_success, deployment)"),
    ("model", 'label_values(nv_inference_request_success{deployment=~"$deployment"}, model)'),
)
LLM_VARIABLES: Variables = (
    ("deployment", "label_values(vllm:num_requests_running, deployment)"),
    (
        "model_name",
        'label_values(vllm:num_requests_running{deployment=~"$deployment"}, model_name)',
    ),
)


@dataclass
class Panel:
    title: str
    targets: list[tuple[str, str]]
    """(PromQL, legend) pairs."""
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12
    height: int = 8


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel] = field(default_factory=list)
    variables: Variables = TRITON_VARIABLES

    def model(self) -> dict[str, Any]:
        panels = []
        x = y = 0
        for i, panel in enumerate(self.panels, start=1):
            if x + panel.width > 24:
                x, y = 0, y + panel.height
            panels.append(
                {
                    "id": i,
                    "type": panel.kind,
                    "title": panel.title,
                    "description": panel.description,
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
                    "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                    "targets": [
                        {
                            "refId": chr(ord("A") + j),
                            "expr": expr,
                            "legendFormat": legend,
                            "datasource": {"type": "prometheus", "uid": "${datasource}"},
                        }
                        for j, (expr, legend) in enumerate(panel.targets)
                    ],
                }
            )
            x += panel.width
        variables: list[dict[str, Any]] = [
            {
                "name": "datasource",
                "type": "datasource",
                "query": "prometheus",
                "label": "Data source",
            }
        ]
        variables += [_query_variable(name, query) for name, query in self.variables]
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["llm-inference"],
            "timezone": "utc",
            "schemaVersion": 39,
            "editable": False,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "templating": {"list": variables},
            "panels": panels,
        }


def _query_variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }


def serving() -> Dashboard:
    per_request = f"sum by (model) (rate(nv_inference_request_success{{{SEL}}}[{RATE}]))"
    return Dashboard(
        uid="llm-inference-serving",
        title="LLM inference / Serving",
        description="Triton per model: latency, throughput, queue against compute, batching, "
        "cache.",
        panels=[
            Panel(
                "Latency percentiles (worst replica)",
                [
                    (
                        "max by (model) (nv_inference_request_summary_us"
                        f'{{{SEL}, quantile="{q}"}}) / 1e6',
                        f"{{{{model}}}} {name}",
                    )
                    for q, name in (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"))
                ],
                unit="s",
                description="Triton's summary quantiles (--metrics-config summary_latencies=true).",
            ),
            Panel(
                "p99 against the latency budget",
                [
                    (f"llm_inference:model_latency_p99_seconds{{{SEL}}}", "{{model}} p99"),
                    (f"llm_inference:model_latency_budget_seconds{{{SEL}}}", "{{model}} budget"),
                ],
                unit="s",
            ),
            Panel(
                "Throughput",
                [
                    (per_request, "{{model}} requests/s"),
                    (
                        f"sum by (model) (rate(nv_inference_count{{{SEL}}}[{RATE}]))",
                        "{{model}} inferences/s",
                    ),
                ],
                unit="reqps",
            ),
            Panel(
                "Failures by reason",
                [
                    (
                        "sum by (model, reason) "
                        f"(rate(nv_inference_request_failure{{{SEL}}}[{RATE}]))",
                        "{{model}} {{reason}}",
                    )
                ],
                unit="reqps",
            ),
            Panel(
                "Queue against compute time per request",
                [
                    (
                        f"sum by (model) (rate(nv_inference_queue_duration_us{{{SEL}}}[{RATE}])) "
                        f"/ {per_request} / 1e6",
                        "{{model}} queue",
                    ),
                    (
                        "sum by (model) "
                        f"(rate(nv_inference_compute_infer_duration_us{{{SEL}}}[{RATE}])) "
                        f"/ {per_request} / 1e6",
                        "{{model}} compute",
                    ),
                ],
                unit="s",
                description="The HPA scales on the queue time (prometheus-adapter metric "
                "triton_queue_time_per_request_us).",
            ),
            Panel(
                "Mean batch size",
                [
                    (
                        f"sum by (model) (rate(nv_inference_count{{{SEL}}}[{RATE}])) "
                        f"/ sum by (model) (rate(nv_inference_exec_count{{{SEL}}}[{RATE}]))",
                        "{{model}}",
                    )
                ],
                description="Inferences per model execution: what dynamic batching achieves.",
            ),
            Panel(
                "Pending requests per replica",
                [(f"nv_inference_pending_request_count{{{SEL}}}", "{{model}} {{pod}}")],
            ),
            Panel(
                "Response cache hit ratio",
                [
                    (
                        f"sum by (model) (rate(nv_cache_num_hits_per_model{{{SEL}}}[{RATE}])) / "
                        f"(sum by (model) (rate(nv_cache_num_hits_per_model{{{SEL}}}[{RATE}])) + "
                        f"sum by (model) (rate(nv_cache_num_misses_per_model{{{SEL}}}[{RATE}])))",
                        "{{model}}",
                    )
                ],
                unit="percentunit",
            ),
            Panel(
                "Error ratio against the error budget",
                [
                    (f"llm_inference:model_errors:ratio_rate1h{{{SEL}}}", "{{model}} 1h"),
                    (f"llm_inference:model_error_budget{{{SEL}}}", "{{model}} budget"),
                ],
                unit="percentunit",
            ),
            Panel(
                "Replicas up",
                [
                    (
                        'sum by (deployment) (up{job="triton", deployment=~"$deployment"})',
                        "{{deployment}}",
                    )
                ],
            ),
        ],
    )


def _quantiles(histogram: str, budget: str) -> list[tuple[str, str]]:
    """p50 and p99 of a vLLM histogram per deployment, and the variant's p99 budget."""
    by_le = f"sum by (deployment, le) (rate({histogram}_bucket{{{LLM_SEL}}}[{RATE}]))"
    return [
        (f"histogram_quantile({q}, {by_le})", f"{{{{deployment}}}} {name}")
        for q, name in (("0.5", "p50"), ("0.99", "p99"))
    ] + [(f"{budget}{{{LLM_SEL}}}", "{{deployment}} p99 budget")]


def llm() -> Dashboard:
    """The LLM tier: vLLM's own series per deployment, against the variant's budgets."""
    output_tokens = f"sum by (deployment) (rate(vllm:generation_tokens_total{{{LLM_SEL}}}[{RATE}]))"
    return Dashboard(
        uid="llm-inference-llm",
        title="LLM inference / LLM (vLLM)",
        description="vLLM's OpenAI-compatible server per LLM deployment: tokens, time to "
        "first token and inter-token latency against the variant's budgets "
        "(model_repo/<model>/llm.yaml), the engine's queue, KV cache and prefix cache, cost "
        "per output token.",
        variables=LLM_VARIABLES,
        panels=[
            Panel(
                "Output tokens per second",
                [
                    (output_tokens, "{{deployment}} output"),
                    (
                        "sum by (deployment) "
                        f"(rate(vllm:prompt_tokens_total{{{LLM_SEL}}}[{RATE}]))",
                        "{{deployment}} prompt",
                    ),
                ],
                description="Generated tokens (vllm:generation_tokens_total) and prompt "
                "tokens processed, per second.",
            ),
            Panel(
                "Cost per 1M output tokens (USD)",
                [
                    (
                        'llm_inference:deployment_cost_usd_per_hour{deployment=~"$deployment"}'
                        " / on (deployment) (3600 * (sum by (deployment) "
                        f"(rate(vllm:generation_tokens_total{{{LLM_SEL}}}[1h])) > 0)) * 1e6",
                        "{{deployment}}",
                    )
                ],
                unit="currencyUSD",
                description="The deployment's node cost at catalog prices (cost.yaml) over "
                "the output tokens of the last hour; idle deployments have no value.",
            ),
            Panel(
                "Time to first token p50 and p99 against the budget",
                _quantiles(
                    "vllm:time_to_first_token_seconds", "llm_inference:llm_ttft_budget_seconds"
                ),
                unit="s",
                description="Queueing and prefill included. The budget is the variant's "
                "slo.ttft_p99_ms, on a bucket boundary of the histogram.",
            ),
            Panel(
                "Inter-token latency p50 and p99 against the budget",
                _quantiles(
                    "vllm:inter_token_latency_seconds", "llm_inference:llm_itl_budget_seconds"
                ),
                unit="s",
                description="The gap between two output tokens of a request; the budget is "
                "the variant's slo.itl_p99_ms.",
            ),
            Panel(
                "Share over the latency budgets (1 h) against the error budget",
                [
                    (
                        f"llm_inference:llm_ttft_over_budget:ratio_rate1h{{{LLM_SEL}}}",
                        "{{deployment}} TTFT",
                    ),
                    (
                        f"llm_inference:llm_itl_over_budget:ratio_rate1h{{{LLM_SEL}}}",
                        "{{deployment}} ITL",
                    ),
                    (
                        f"llm_inference:llm_latency_error_budget{{{LLM_SEL}}}",
                        "{{deployment}} allowed",
                    ),
                ],
                unit="percentunit",
                description="The burn-rate alerts page at 14.4x the allowed share over 1 h "
                "(and 5 min), or 6x over 6 h (and 30 min).",
            ),
            Panel(
                "Requests running and waiting",
                [
                    (
                        f"sum by (deployment) (vllm:num_requests_running{{{LLM_SEL}}})",
                        "{{deployment}} running",
                    ),
                    (
                        f"sum by (deployment) (vllm:num_requests_waiting{{{LLM_SEL}}})",
                        "{{deployment}} waiting",
                    ),
                ],
            ),
            Panel(
                "Requests waiting per replica against the limit",
                [
                    (f"llm_inference:llm_waiting_per_replica{{{LLM_SEL}}}", "{{deployment}}"),
                    (
                        f"llm_inference:llm_max_waiting_per_replica{{{LLM_SEL}}}",
                        "{{deployment}} limit (max_num_seqs)",
                    ),
                ],
            ),
            Panel(
                "KV cache use",
                [
                    (
                        f"max by (deployment) (vllm:kv_cache_usage_perc{{{LLM_SEL}}})",
                        "{{deployment}} fullest replica",
                    ),
                    (
                        f"avg by (deployment) (vllm:kv_cache_usage_perc{{{LLM_SEL}}})",
                        "{{deployment}} average",
                    ),
                ],
                unit="percentunit",
                description="vllm:kv_cache_usage_perc is a 0-1 fraction. Over 95% for 10 "
                "minutes: LlmKvCacheSaturated.",
            ),
            Panel(
                "Preemptions per second",
                [
                    (
                        "sum by (deployment) "
                        f"(rate(vllm:num_preemptions_total{{{LLM_SEL}}}[{RATE}]))",
                        "{{deployment}}",
                    )
                ],
                description="Running sequences evicted for lack of KV cache and recomputed "
                "later. Over 0.05/s for 10 minutes: LlmPreemptions.",
            ),
            Panel(
                "Prefix cache hit ratio",
                [
                    (
                        "sum by (deployment) "
                        f"(rate(vllm:prefix_cache_hits_total{{{LLM_SEL}}}[{RATE}])) / "
                        "sum by (deployment) "
                        f"(rate(vllm:prefix_cache_queries_total{{{LLM_SEL}}}[{RATE}]))",
                        "{{deployment}}",
                    )
                ],
                unit="percentunit",
                description="Prompt tokens found in the prefix cache over those looked up.",
            ),
            Panel(
                "Replicas up",
                [
                    (
                        'sum by (deployment) (up{job="vllm", deployment=~"$deployment"})',
                        "{{deployment}}",
                    )
                ],
            ),
        ],
    )


def gpus() -> Dashboard:
    slice_legend = "{{Hostname}} GPU {{gpu}} {{GPU_I_PROFILE}} #{{GPU_I_ID}}"
    return Dashboard(
        uid="llm-inference-gpus",
        title="LLM inference / GPUs",
        description="DCGM exporter, per GPU and per MIG slice. Engine activity is "
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE: DCGM_FI_DEV_GPU_UTIL is not reported on MIG slices.",
        variables=(),
        panels=[
            Panel(
                "Graphics engine activity per MIG slice",
                [("DCGM_FI_PROF_GR_ENGINE_ACTIVE", slice_legend)],
                unit="percentunit",
                width=24,
            ),
            Panel(
                "Frame buffer used per MIG slice",
                [
                    (
                        "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
                        slice_legend,
                    )
                ],
                unit="percentunit",
            ),
            Panel(
                "Frame buffer used (MiB)",
                [("DCGM_FI_DEV_FB_USED", slice_legend)],
                unit="decmbytes",
            ),
            Panel(
                "Tensor pipe activity",
                [("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", slice_legend)],
                unit="percentunit",
            ),
            Panel(
                "Last XID error per GPU",
                [("max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS)", "{{Hostname}} GPU {{gpu}}")],
            ),
            Panel(
                "Power draw", [("DCGM_FI_DEV_POWER_USAGE", "{{Hostname}} GPU {{gpu}}")], unit="watt"
            ),
            Panel(
                "Heavy-tier GPUs idle for an hour",
                [
                    (
                        "count(max by (Hostname, gpu, modelName) "
                        "(avg_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE[1h])) < 0.05 "
                        'and on (modelName) llm_inference:gpu_hourly_usd{tier="heavy"})',
                        "idle heavy GPUs",
                    )
                ],
                kind="stat",
            ),
        ],
    )


def cost() -> Dashboard:
    return Dashboard(
        uid="llm-inference-cost",
        title="LLM inference / Cost",
        description="Node spend at catalog prices (blueprint/catalog/instances.yaml), per "
        "deployment by its share of GPUs. The cloud bill is the source of truth.",
        variables=(),
        panels=[
            Panel(
                "Cost per model deployment (USD/h)",
                [("llm_inference:deployment_cost_usd_per_hour", "{{deployment}}")],
                unit="currencyUSD",
            ),
            Panel(
                "Cost per 1,000 requests by deployment (USD)",
                [
                    (
                        "llm_inference:deployment_cost_usd_per_hour / on (deployment) "
                        "(sum by (deployment) (rate(nv_inference_request_success[1h]))"
                        " * 3600 / 1000)",
                        "{{deployment}}",
                    )
                ],
                unit="currencyUSD",
            ),
            Panel(
                "Cluster spend rate against the budget (USD/month)",
                [
                    ("llm_inference:cluster_cost_usd_per_hour * 730", "at the current rate"),
                    ("llm_inference:cluster_cost_usd_per_hour:avg6h * 730", "at the 6 h average"),
                    ("llm_inference:cluster_budget_monthly_usd", "budget share"),
                ],
                unit="currencyUSD",
            ),
            Panel(
                "Spend by pool and capacity type (USD/h)",
                [
                    (
                        "sum by (pool, capacity_type) (llm_inference:node_cost_usd_per_hour)",
                        "{{pool}} {{capacity_type}}",
                    )
                ],
                unit="currencyUSD",
            ),
            Panel(
                "Nodes by pool and capacity type",
                [
                    (
                        "count by (pool, capacity_type) (llm_inference:node_capacity:info)",
                        "{{pool}} {{capacity_type}}",
                    )
                ],
            ),
        ],
    )


def all_dashboards(keep: Callable[[str], bool] | None = None) -> dict[str, dict[str, Any]]:
    """``{uid: Grafana JSON model}`` for every dashboard.

    ``keep(expr)`` (a cluster's ``Availability.reads_ok``, blueprint/monitoring/sources.py)
    leaves out the panels with a query it refuses, and the dashboards left without panels:
    on a cluster without the DCGM exporter there is no GPU dashboard to stay empty.
    """
    out = {}
    for dashboard in (serving(), llm(), gpus(), cost()):
        if keep is not None:
            dashboard.panels = [
                p for p in dashboard.panels if all(keep(expr) for expr, _ in p.targets)
            ]
            if not dashboard.panels:
                continue
        out[dashboard.uid] = dashboard.model()
    return out


def expressions(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of a dashboard, variables' queries included."""
    out = [(p["title"], t["expr"]) for p in model["panels"] for t in p["targets"]]
    for var in model["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"]
            inner = query[len("label_values(") : query.rindex(",")]
            out.append((f"variable {var['name']}", inner))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write <uid>.json into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for uid, model in all_dashboards().items():
        (args.out / f"{uid}.json").write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
        print(args.out / f"{uid}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
