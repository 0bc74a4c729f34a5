"""Grafana dashboards as code: every query reads real metrics; the required views exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprint.monitoring import dashboards
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.catalog import check_expression, load_catalog
from blueprint.monitoring.promql import metric_names

MODELS = dashboards.all_dashboards()


@pytest.mark.parametrize("uid", sorted(MODELS))
def test_every_query_reads_exported_or_recorded_metrics(uid: str) -> None:
    catalog = load_catalog()
    recorded = {name: frozenset() for name in alert_rules.recorded_series()}
    problems = []
    for title, expr in dashboards.expressions(MODELS[uid]):
        problems += [str(p) for p in check_expression(expr, f"{uid}: {title}", catalog, recorded)]
        assert "DCGM_FI_DEV_GPU_UTIL" not in metric_names(expr)
    assert problems == []


@pytest.mark.parametrize("uid", sorted(MODELS))
def test_dashboard_model_is_well_formed(uid: str) -> None:
    model = MODELS[uid]
    assert model["uid"] == uid
    json.dumps(model)
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    for panel in model["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert panel["targets"], panel["title"]
        assert [t["refId"] for t in panel["targets"]] == [
            chr(ord("A") + i) for i in range(len(panel["targets"]))
        ]


def test_the_required_views_exist() -> None:
    titles = {p["title"] for m in MODELS.values() for p in m["panels"]}
    for wanted in (
        "Latency percentiles (worst replica)",
        "Throughput",
        "Queue against compute time per request",
        "Mean batch size",
        "Graphics engine activity per MIG slice",
        "Frame buffer used per MIG slice",
        "Response cache hit ratio",
        "Cost per model deployment (USD/h)",
        # The LLM tier (vLLM).
        "Output tokens per second",
        "Time to first token p50 and p99 against the budget",
        "Inter-token latency p50 and p99 against the budget",
        "Requests running and waiting",
        "KV cache use",
        "Preemptions per second",
        "Prefix cache hit ratio",
        "Cost per 1M output tokens (USD)",
    ):
        assert wanted in titles
    gpu = MODELS["llm-inference-gpus"]
    engine = next(p for p in gpu["panels"] if p["title"].startswith("Graphics engine"))
    assert "GPU_I_PROFILE" in engine["targets"][0]["legendFormat"]


def test_dashboards_can_be_written_as_files(tmp_path: Path) -> None:
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(MODELS)


def test_the_llm_dashboard_reads_vllm_by_model_name() -> None:
    """vLLM labels the model model_name: the LLM dashboard's variable and filters use it,
    and its latency panels put the p99 next to the variant's budget."""
    model = MODELS["llm-inference-llm"]
    names = [v["name"] for v in model["templating"]["list"]]
    assert names == ["datasource", "deployment", "model_name"]
    panels = {p["title"]: [t["expr"] for t in p["targets"]] for p in model["panels"]}
    for title, histogram, budget in (
        ("Time to first token p50 and p99 against the budget", "time_to_first_token", "ttft"),
        ("Inter-token latency p50 and p99 against the budget", "inter_token_latency", "itl"),
    ):
        p99, budget_expr = panels[title][1], panels[title][2]
        by_le = f"sum by (deployment, le) (rate(vllm:{histogram}_seconds_bucket"
        assert p99.startswith(f"histogram_quantile(0.99, {by_le}")
        assert budget_expr.startswith(f"llm_inference:llm_{budget}_budget_seconds")
    (cost,) = panels["Cost per 1M output tokens (USD)"]
    assert cost.startswith("llm_inference:deployment_cost_usd_per_hour")
    assert "3600 * (sum by (deployment) (rate(vllm:generation_tokens_total" in cost
    assert cost.endswith("* 1e6")
    for exprs in panels.values():
        assert all('model=~"$model"' not in e for e in exprs)
