"""The autoscaling signals: Triton's average queue time per request, and the LLM engine's
own queue and KV-cache use, for the HPAs.

prometheus-adapter serves it through the custom metrics API as a per-pod metric named
:data:`HPA_QUEUE_METRIC` (microseconds). Triton's own Kubernetes deployment guide scales
on the same signal. A HorizontalPodAutoscaler (autoscaling/v2) uses it as::

    metrics:
      - type: Pods
        pods:
          metric: {name: triton_queue_time_per_request_us}
          target: {type: AverageValue, averageValue: "50000"}   # 50 ms

The query is computed over 1 minute, summed over the models a pod serves (a weighted
average per request), and 0 when the pod served nothing.
"""

from __future__ import annotations

from typing import Any

HPA_QUEUE_METRIC = "triton_queue_time_per_request_us"
"""The custom metric name the HPA asks the custom metrics API for (per pod)."""
HPA_WAITING_METRIC = "vllm_requests_waiting"
"""LLM pods: requests waiting in the engine (``vllm:num_requests_waiting``). vLLM queues
inside itself (continuous batching), so Triton-style queue time never sees it."""
HPA_KV_CACHE_METRIC = "vllm_kv_cache_usage"
"""LLM pods: the KV cache's use, 0-1 (``vllm:kv_cache_usage_perc``)."""

WINDOW = "1m"

METRICS_QUERY = (
    f"sum by (<<.GroupBy>>) (rate(nv_inference_queue_duration_us{{<<.LabelMatchers>>}}[{WINDOW}]))"
    " / clamp_min(sum by (<<.GroupBy>>) "
    f"(rate(nv_inference_request_success{{<<.LabelMatchers>>}}[{WINDOW}])), 0.001)"
)
"""prometheus-adapter's metricsQuery template (``<<.GroupBy>>``, ``<<.LabelMatchers>>``)."""


def adapter_rules() -> list[dict[str, Any]]:
    """``rules.custom`` for the prometheus-adapter Helm chart."""
    return [
        {
            "seriesQuery": 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
            "resources": {
                "overrides": {
                    "namespace": {"resource": "namespace"},
                    "pod": {"resource": "pod"},
                }
            },
            "name": {"matches": "^nv_inference_queue_duration_us$", "as": HPA_QUEUE_METRIC},
            "metricsQuery": METRICS_QUERY,
        },
        _vllm_rule("vllm:num_requests_waiting", HPA_WAITING_METRIC, "sum"),
        _vllm_rule("vllm:kv_cache_usage_perc", HPA_KV_CACHE_METRIC, "max"),
    ]


def _vllm_rule(series: str, name: str, how: str) -> dict[str, Any]:
    """A per-pod gauge of the LLM engine, served under a name the custom metrics API takes."""
    return {
        "seriesQuery": f'{series}{{namespace!="",pod!=""}}',
        "resources": {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        },
        "name": {"matches": f"^{series}$", "as": name},
        "metricsQuery": f"{how} by (<<.GroupBy>>) ({series}{{<<.LabelMatchers>>}})",
    }


def render_query(label_matchers: str, group_by: str) -> str:
    """The query the adapter sends for one HPA request (used by the tests)."""
    return METRICS_QUERY.replace("<<.LabelMatchers>>", label_matchers).replace(
        "<<.GroupBy>>", group_by
    )
