"""Alert rules as files: house rules, rendering, and no metric that nothing exports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.catalog import (
    check_expression,
    ksm_label,
    load_catalog,
    yace_metric_name,
    yace_prom_string,
)
from blueprint.monitoring.facts import FACT_SERIES, Facts, facts_group
from blueprint.monitoring.objectives import (
    latency_budget_ms,
    llm_objectives_for,
    load_table,
    objective,
    objectives_for,
)
from blueprint.monitoring.promql import PromQLSyntaxError, Selector, metric_names, selectors
from tests.conftest import REPO

REQUIRED_ALERTS = {
    # The list, by the alert that covers it.
    "ModelLatencyBudgetBurnFast", "ModelLatencyBudgetBurnSlow",  # p99 latency SLO burn
    "ModelErrorBudgetBurnFast", "ModelErrorBudgetBurnSlow",  # error SLO burn
    "TritonQueueTimeHigh", "TritonPendingRequestsHigh", "TritonBackendFailures",
    "TritonModelLoadFailed", "TritonDown", "GpuMemoryPressure", "GpuXidError",
    "ExpensiveGpuIdle", "SpotInterruptionsHigh", "GpuPoolOnDemandFallback",
    "TritonCacheHitRatioDrop", "ServerlessColdStartsHigh", "ServerlessEndpointThrottling",
    "BudgetBurnRateHigh", "Watchdog",
}  # fmt: skip


def all_rules(docs: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (file, rule)
        for file, doc in docs.items()
        for group in doc["groups"]
        for rule in group["rules"]
    ]


def test_every_required_alert_exists() -> None:
    missing = REQUIRED_ALERTS - set(alert_rules.alert_names())
    assert not missing


def test_source_rules_keep_the_house_rules() -> None:
    assert alert_rules.check_source() == []


def test_house_rules_catch_a_bad_alert() -> None:
    files = {
        "bad.yaml": {
            "groups": [
                {
                    "name": "g",
                    "rules": [
                        {
                            "alert": "GpuBusy",
                            "expr": "DCGM_FI_DEV_GPU_UTIL > 90",
                            "labels": {"severity": "page"},
                            "annotations": {"runbook_url": "https://x/y"},
                        }
                    ],
                }
            ]
        }
    }
    problems = "\n".join(alert_rules.check_source(files))
    assert "explicit `for`" in problems
    assert "severity must be one of" in problems
    assert "team must be one of" in problems
    assert "needs a summary" in problems
    assert "runbook_url is added when rendering" in problems
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in problems
    with pytest.raises(alert_rules.RuleError):
        alert_rules.render("https://x", Facts(), files=files)


def test_every_rendered_alert_has_its_runbook_url_from_one_pattern() -> None:
    base = "https://github.com/example-org/llm-inference/blob/main/runbooks"
    rendered = alert_rules.render(base + "/", Facts())
    alerts = [rule for _, rule in all_rules(rendered) if "alert" in rule]
    assert alerts
    for rule in alerts:
        assert rule["annotations"]["runbook_url"] == f"{base}/{rule['alert']}.md"
        assert rule["labels"]["severity"] in alert_rules.SEVERITIES
        assert rule["annotations"]["summary"]


def test_production_rendering_keeps_for_and_the_drill_shortens_only_its_alerts() -> None:
    source = {
        (rule["alert"], rule["expr"]): rule["for"]
        for _, rule in all_rules(alert_rules.source_files())
        if "alert" in rule
    }
    production = alert_rules.render("https://x", Facts())
    drill = alert_rules.render("https://x", Facts(), for_overrides=alert_rules.DRILL_FOR)
    for _, rule in all_rules(production):
        if "alert" in rule:
            assert rule["for"] == source[(rule["alert"], rule["expr"])]
    for _, rule in all_rules(drill):
        if "alert" not in rule:
            continue
        expected = alert_rules.DRILL_FOR.get(rule["alert"], source[(rule["alert"], rule["expr"])])
        assert rule["for"] == expected
    assert set(alert_rules.DRILL_FOR) <= set(alert_rules.alert_names())


def test_the_drill_rendering_says_so(tmp_path: Any) -> None:
    rendered = alert_rules.render("https://x", Facts(), for_overrides=alert_rules.DRILL_FOR)
    paths = alert_rules.write(rendered, tmp_path, drill=True)
    assert all(p.read_text().startswith("# DRILL RENDERING") for p in paths)
    paths = alert_rules.write(alert_rules.render("https://x", Facts()), tmp_path / "prod")
    assert not any("DRILL" in p.read_text() for p in paths)


def test_no_rule_reads_a_metric_nothing_exports() -> None:
    catalog = load_catalog()
    recorded = {name: frozenset() for name in alert_rules.recorded_series()}
    problems = []
    for file, rule in all_rules(alert_rules.source_files()):
        where = f"monitoring/rules/{file}: {rule.get('alert') or rule.get('record')}"
        problems += check_expression(rule["expr"], where, catalog, recorded)
    assert [str(p) for p in problems] == []


def test_the_check_catches_a_misspelt_metric_and_a_wrong_label() -> None:
    catalog = load_catalog()
    recorded = {name: frozenset() for name in alert_rules.recorded_series()}
    bad = 'rate(nv_inference_request_failures{reason="BACKEND"}[5m])'
    (problem,) = check_expression(bad, "x", catalog, recorded)
    assert "nv_inference_request_failures is not exported" in problem.message
    (problem,) = check_expression('nv_inference_count{reason="x"}', "x", catalog, recorded)
    assert "has no label(s) reason" in problem.message
    assert (
        check_expression('nv_inference_count{pod="a", deployment="b"}', "x", catalog, recorded)
        == []
    )


def test_no_rule_alerts_on_gpu_util_which_mig_slices_lack() -> None:
    for _, rule in all_rules(alert_rules.source_files()):
        assert "DCGM_FI_DEV_GPU_UTIL" not in metric_names(rule["expr"])
    assert any(
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in metric_names(rule["expr"])
        for _, rule in all_rules(alert_rules.source_files())
    )


def test_recording_rules_use_the_level_metric_operation_names() -> None:
    for _, rule in all_rules(alert_rules.source_files()):
        if "record" in rule:
            assert re.fullmatch(r"llm_inference:[a-z0-9_]+(:[a-z0-9_]+)?", rule["record"]), rule


# -- facts ------------------------------------------------------------------


def test_facts_carry_the_objectives_of_each_deployment() -> None:
    table = load_table()
    deployments = {
        "chat-llm": (["chat_llm"], "h100-mig-3g.40gb"),
        "embed-guard": (["text_embedding"], None),
    }
    objectives = objectives_for(deployments, table)
    group = facts_group(
        Facts(
            objectives=objectives,
            llm_objectives=llm_objectives_for(deployments),
            pool_on_demand_floors={"heavy-h100": 1},
        )
    )
    by = {
        (r["record"], tuple(sorted((r.get("labels") or {}).items()))): r["expr"]
        for r in group["rules"]
    }
    # The LLM's budgets come from its variant in llm.yaml (TTFT 1 s, ITL 75 ms there),
    # keyed by vLLM's model_name label; the bucket facts carry the le the rules join on.
    chat = (("deployment", "chat-llm"), ("model_name", "chat_llm"))
    assert by[("llm_inference:llm_ttft_budget_seconds", chat)] == "vector(1)"
    assert by[("llm_inference:llm_itl_budget_seconds", chat)] == "vector(0.075)"
    ttft_le = tuple(sorted((*chat, ("le", "1.0"))))
    itl_le = tuple(sorted((*chat, ("le", "0.075"))))
    assert by[("llm_inference:llm_ttft_budget_bucket", ttft_le)] == "vector(1)"
    assert by[("llm_inference:llm_itl_budget_bucket", itl_le)] == "vector(1)"
    assert by[("llm_inference:llm_latency_error_budget", chat)] == "vector(0.01)"
    assert by[("llm_inference:llm_max_waiting_per_replica", chat)] == "vector(64)"
    assert ("llm_inference:model_latency_budget_seconds", chat) not in by
    assert by[("llm_inference:pool_on_demand_floor", (("pool", "heavy-h100"),))] == "vector(1)"
    embed = (("deployment", "embed-guard"), ("model", "text_embedding"))
    assert by[("llm_inference:model_latency_budget_seconds", embed)] == "vector(0.25)"
    assert {r["record"] for r in group["rules"]} <= set(FACT_SERIES)


def test_catalog_prices_become_facts() -> None:
    group = facts_group(Facts())
    prices = {
        (r["labels"]["instance_type"], r["labels"]["capacity_type"]): r["expr"]
        for r in group["rules"]
        if r["record"] == "llm_inference:instance_price_usd_per_hour"
    }
    assert prices[("p5.48xlarge", "on-demand")] == "vector(55.04)"
    assert prices[("p5.48xlarge", "spot")] == "vector(25.8)"
    assert ("p5.4xlarge", "spot") not in prices  # no spot price in the catalog
    gpus = {
        r["labels"]["modelName"]: (r["labels"]["tier"], r["expr"])
        for r in group["rules"]
        if r["record"] == "llm_inference:gpu_hourly_usd"
    }
    assert gpus["NVIDIA H100 80GB HBM3"] == ("heavy", "vector(6.88)")
    assert gpus["NVIDIA L4"][0] == "light"


def test_unknown_model_gets_a_clear_error() -> None:
    with pytest.raises(KeyError, match=r"model_repo/nope/config.pbtxt: no such model config"):
        objective("nope", "d")


def test_latency_budgets_come_from_the_model_repository_only(tmp_path: Path) -> None:
    """One source: the budget a config declares is the budget the alerts use."""
    repo = tmp_path / "model_repo"
    shutil.copytree(REPO / "model_repo" / "prompt_guard", repo / "prompt_guard")
    config = repo / "prompt_guard" / "config.pbtxt"
    config.write_text(config.read_text().replace('string_value: "200"', 'string_value: "321"'))
    assert latency_budget_ms("prompt_guard", None, repo) == 321.0
    assert "latencyBudgetMs" not in (REPO / "monitoring" / "slo.yaml").read_text()


# -- the PromQL tokenizer ---------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", [Selector("up")]),
        ('up{job="triton"} == 0', [Selector("up", (("job", "=", "triton"),))]),
        (
            'sum by (model, le) (rate(x_bucket{a=~"b|c", d!="e"}[5m] offset 1h)) / on (model) '
            "group_left(foo) y",
            [Selector("x_bucket", (("a", "=~", "b|c"), ("d", "!=", "e"))), Selector("y")],
        ),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', [Selector("a")]),
        ("max_over_time(a:b:c[1h:5m]) > bool 3 and on() vector(1)", [Selector("a:b:c")]),
        ('{__name__="raw", x="1"}', [Selector("raw", (("x", "=", "1"),))]),
        ("sum(rate(a[$__rate_interval])) by (model) # a comment with b", [Selector("a")]),
        ('b{model=~"$model"} unless ignoring(x) c @ end()', [
            Selector("b", (("model", "=~", "$model"),)), Selector("c")]),
        ('count_values("v", a) or topk(3, b) or -c', [
            Selector("a"), Selector("b"), Selector("c")]),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))", [Selector("h_bucket")]),
        ("1e6 * inf - nan + 0x1F", []),
        ("max by (node) (a) + count without (pod) (b)", [Selector("a"), Selector("b")]),
    ],
)  # fmt: skip
def test_selectors(expr: str, expected: list[Selector]) -> None:
    assert selectors(expr) == expected


def test_selectors_refuse_broken_input() -> None:
    with pytest.raises(PromQLSyntaxError):
        selectors('up{job="x}')
    with pytest.raises(PromQLSyntaxError):
        selectors("up{job}")


# -- YACE naming ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SomeText@Here123", "some_text_here123"),  # YACE's own test case
        ("Invocation4XXErrors", "invocation4_xxerrors"),
        (
            "ServerlessConcurrentExecutionsUtilization",
            "serverless_concurrent_executions_utilization",
        ),
        ("SampleCount", "sample_count"),
    ],
)
def test_yace_prom_string(text: str, expected: str) -> None:
    assert yace_prom_string(text) == expected


def test_ksm_label_names() -> None:
    assert ksm_label("eks.amazonaws.com/capacityType") == "label_eks_amazonaws_com_capacity_type"
    assert ksm_label("llm-inference/pool") == "label_llm_inference_pool"


def test_yace_metric_names() -> None:
    assert (
        yace_metric_name("AWS/SageMaker", "Invocations", "Sum") == "aws_sagemaker_invocations_sum"
    )
    assert (
        yace_metric_name("AWS/SageMaker", "ModelSetupTime", "SampleCount")
        == "aws_sagemaker_model_setup_time_sample_count"
    )
    # A metric that repeats the namespace loses the repetition (YACE's rule).
    assert yace_metric_name("Glue", "glue.driver.aggregate.bytesRead", "Average") == (
        "aws_glue_driver_aggregate_bytes_read_average"
    )
