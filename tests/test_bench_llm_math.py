"""The arithmetic of make bench-llm and the demo's LLM load (tools/bench/llm_math.py)."""

from __future__ import annotations

import json
import math

import pytest

from blueprint.cost.tokens import usd_per_million
from tools.bench.llm_math import (
    Budgets,
    ClientStats,
    ServerDelta,
    aiperf_errors,
    best_within_slo,
    client_stats,
    counters,
    default_request_count,
    gain,
    histogram_quantile,
    parse_metrics,
    parse_records,
    percentile,
    server_delta,
    share_over,
    slo_verdict,
    usd_per_million_tokens,
)


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == 25.0  # numpy.percentile([10, 20, 30, 40], 50)
    assert percentile(values, 99) == pytest.approx(39.7)
    assert percentile([5.0], 99) == 5.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order does not matter


@pytest.mark.parametrize("q", [-1, 101])
def test_percentile_refuses_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="within 0-100"):
        percentile([1.0], q)


def test_percentile_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def _record(
    start_s: float,
    end_s: float,
    ttft: float | None,
    gaps: list[float],
    *,
    tokens: int | None = 4,
    phase: str = "profiling",
    error: str | None = None,
) -> str:
    metrics: dict[str, object] = {}
    if ttft is not None:
        metrics["time_to_first_token"] = {"value": ttft, "unit": "ms"}
    if gaps:
        metrics["inter_chunk_latency"] = {"value": gaps, "unit": "ms"}
    if tokens is not None:
        metrics["usage_completion_tokens"] = {"value": tokens, "unit": "tokens"}
        metrics["output_sequence_length"] = {"value": tokens - 1, "unit": "tokens"}
    doc: dict[str, object] = {
        "metadata": {
            "benchmark_phase": phase,
            "request_start_ns": int(start_s * 1e9),
            "request_end_ns": int(end_s * 1e9),
        },
        "metrics": metrics,
    }
    if error:
        doc["error"] = {"type": error, "message": "..."}
    return json.dumps(doc)


def test_records_skip_warmup_and_keep_errors() -> None:
    lines = [
        _record(0, 1, 100, [10, 10, 10], phase="warmup"),
        _record(1, 2, 100, [10, 20, 30]),
        _record(1, 3, None, [], tokens=None, error="ClientConnectorError"),
        "",
    ]
    records = parse_records(lines)
    assert len(records) == 2
    assert records[0].ok
    assert records[0].output_tokens == 4  # the server's usage count, not aiperf's 3
    assert records[0].chunk_gaps_ms == (10.0, 20.0, 30.0)
    assert not records[1].ok
    assert records[1].error == "ClientConnectorError"


def test_output_tokens_fall_back_to_aiperfs_count() -> None:
    line = json.loads(_record(0, 1, 100, [10]))
    del line["metrics"]["usage_completion_tokens"]
    (record,) = parse_records([json.dumps(line)])
    assert record.output_tokens == 3


def test_client_stats_over_the_levels_wall_time() -> None:
    records = parse_records(
        [
            _record(10.0, 12.0, 100, [10, 20]),
            _record(10.5, 14.0, 300, [30, 40]),
            _record(11.0, 13.0, 200, [50]),
        ]
    )
    stats = client_stats(records)
    assert stats.requests == 3
    assert stats.errors == 0
    assert stats.wall_s == pytest.approx(4.0)  # 10.0 -> 14.0
    assert stats.output_tokens == 12
    assert stats.output_tok_s == pytest.approx(3.0)
    assert stats.requests_per_s == pytest.approx(0.75)
    assert stats.ttft_p50_ms == 200
    assert stats.ttft_p99_ms == pytest.approx(298)
    # Per token: every gap of every request, not per-request means.
    assert stats.itl_p50_ms == 30
    assert stats.itl_p99_ms == pytest.approx(49.6)


def test_client_stats_count_failures_and_exclude_them_from_throughput() -> None:
    records = parse_records(
        [_record(0, 2, 100, [10]), _record(0, 1, None, [], tokens=None, error="Timeout")]
    )
    stats = client_stats(records)
    assert stats.errors == 1
    assert stats.error_kinds == {"Timeout": 1}
    assert stats.output_tokens == 4
    assert stats.requests_per_s == pytest.approx(0.5)


def test_client_stats_refuse_all_failed() -> None:
    with pytest.raises(ValueError, match="every request failed"):
        client_stats(parse_records([_record(0, 1, None, [], tokens=None, error="X")]))


def test_aiperf_errors_reads_the_summary() -> None:
    assert aiperf_errors({"request_count": {"avg": 8}}) == (0, [])
    failed, kinds = aiperf_errors(
        {
            "error_request_count": {"avg": 24.0},
            "error_summary": [
                {
                    "error_details": {"type": "ClientConnectorError", "message": "refused"},
                    "count": 16,
                }
            ],
        }
    )
    assert failed == 24
    assert kinds == ["16 x ClientConnectorError: refused"]


METRICS_BEFORE = """\
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="chat_llm"} 100.0
vllm:prompt_tokens_total{engine="0",model_name="chat_llm"} 1000.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="chat_llm"} 1.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="chat_llm"} 2.0
vllm:request_success_total{engine="0",finished_reason="abort",model_name="chat_llm"} 0.0
vllm:num_preemptions_total{engine="0",model_name="chat_llm"} 0.0
vllm:prefix_cache_queries_total{engine="0",model_name="chat_llm"} 500.0
vllm:prefix_cache_hits_total{engine="0",model_name="chat_llm"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",model_name="chat_llm"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="5.0",model_name="chat_llm"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="chat_llm"} 3.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.2",model_name="chat_llm"} 90.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="chat_llm"} 97.0
vllm:time_to_first_token_seconds_created{engine="0",model_name="chat_llm"} 1.7e+09
"""

METRICS_AFTER = """\
vllm:generation_tokens_total{engine="0",model_name="chat_llm"} 612.0
vllm:prompt_tokens_total{engine="0",model_name="chat_llm"} 2024.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="chat_llm"} 1.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="chat_llm"} 10.0
vllm:request_success_total{engine="0",finished_reason="abort",model_name="chat_llm"} 0.0
vllm:num_preemptions_total{engine="0",model_name="chat_llm"} 1.0
vllm:prefix_cache_queries_total{engine="0",model_name="chat_llm"} 1524.0
vllm:prefix_cache_hits_total{engine="0",model_name="chat_llm"} 512.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",model_name="chat_llm"} 5.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="5.0",model_name="chat_llm"} 10.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="chat_llm"} 11.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.2",model_name="chat_llm"} 590.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="chat_llm"} 601.0
"""
"""8 more requests, all cut at their length: 512 tokens generated, 1024 prompt tokens of
which 512 hit the prefix cache, one preemption, one TTFT over 5 s, 4 gaps over 0.2 s."""


def test_parse_metrics_reads_labels_and_skips_comments() -> None:
    samples = parse_metrics(METRICS_BEFORE)
    assert len(samples) == 14
    first = samples[0]
    assert first.name == "vllm:generation_tokens_total"
    assert first.labels == {"engine": "0", "model_name": "chat_llm"}
    assert first.value == 100.0


def test_counter_deltas_over_a_level() -> None:
    before, after = counters(METRICS_BEFORE), counters(METRICS_AFTER)
    assert after.success == {"stop": 1.0, "length": 10.0, "abort": 0.0}
    delta = server_delta(before, after, wall_s=8.0, ttft_budget_s=5.0, itl_budget_s=0.2)
    assert delta.generation_tokens == 512
    assert delta.generation_tok_s == 64
    assert delta.prompt_tokens == 1024
    assert delta.requests == {"abort": 0.0, "length": 8.0, "stop": 0.0}
    assert delta.finished == 8
    assert delta.failed == 0
    assert delta.preemptions == 1
    assert delta.prefix_hit_ratio == pytest.approx(0.5)
    # 8 requests, 7 within 5 s; 504 gaps, 500 within 0.2 s.
    assert delta.ttft_over_budget == pytest.approx(1 / 8)
    assert delta.itl_over_budget == pytest.approx(4 / 504)
    # p99 of 8 TTFTs is the 7.92nd: in the +Inf bucket, so the highest finite bound.
    assert delta.ttft_p99_ms == 5000
    # p99 of 504 gaps is the 498.96th, all but 4 of them within 0.2 s: 0.2 * 498.96/500.
    assert delta.itl_p99_ms == pytest.approx(200 * 498.96 / 500)


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    before = {0.1: 0.0, 0.2: 0.0, math.inf: 0.0}
    after = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert histogram_quantile(before, after, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(before, after, 0.75) == pytest.approx(0.15)
    assert histogram_quantile(before, after, 0.25) == pytest.approx(0.05)
    assert math.isnan(histogram_quantile(after, after, 0.99))  # nothing observed


def test_share_over_needs_the_budget_on_a_bucket() -> None:
    with pytest.raises(ValueError, match=r"no bucket at le=0\.3"):
        share_over({}, {0.2: 1.0, math.inf: 1.0}, 0.3)
    assert share_over({}, {0.2: 0.0, math.inf: 0.0}, 0.2) == 0.0  # nothing observed


def _stats(tok_s: float, ttft_p99: float, itl_p99: float, errors: int = 0) -> ClientStats:
    return ClientStats(
        requests=10,
        errors=errors,
        error_kinds={},
        wall_s=1.0,
        output_tokens=int(tok_s),
        output_tok_s=tok_s,
        requests_per_s=1.0,
        ttft_p50_ms=ttft_p99 / 2,
        ttft_p99_ms=ttft_p99,
        itl_p50_ms=itl_p99 / 2,
        itl_p99_ms=itl_p99,
    )


BUDGETS = Budgets(ttft_p99_ms=5000, itl_p99_ms=200)


def _server(itl_over_budget: float) -> ServerDelta:
    return ServerDelta(
        wall_s=1.0,
        generation_tokens=64.0,
        generation_tok_s=64.0,
        prompt_tokens=128.0,
        requests={"length": 1.0},
        preemptions=0.0,
        prefix_queries=128.0,
        prefix_hits=0.0,
        ttft_over_budget=0.0,
        itl_over_budget=itl_over_budget,
        ttft_p99_ms=300.0,
        itl_p99_ms=150.0,
    )


def test_slo_verdict_names_every_breach() -> None:
    assert slo_verdict(_stats(10, 5000, 200), BUDGETS) == (True, "within SLO")
    ok, why = slo_verdict(_stats(10, 5001, 250, errors=2), BUDGETS)
    assert not ok
    assert why == "2 failed requests; TTFT p99 5001 > 5000 ms; ITL p99 250 > 200 ms"
    assert not slo_verdict(_stats(10, math.nan, 100), BUDGETS)[0]  # unmeasured is not within


def test_slo_verdict_judges_itl_as_the_rules_do_when_the_server_counted() -> None:
    # The client saw a 400 ms p99 gap, the engine put 1 % of its gaps over 200 ms: held.
    assert slo_verdict(_stats(10, 1000, 400), BUDGETS, _server(0.01)) == (True, "within SLO")
    ok, why = slo_verdict(_stats(10, 1000, 100), BUDGETS, _server(0.015))
    assert not ok
    assert why == "1.5% of tokens over the ITL budget (200 ms; 1% allowed)"


def test_best_level_is_the_fastest_within_the_slo() -> None:
    levels = {1: (True, 15.0), 8: (True, 70.0), 16: (False, 90.0)}
    assert best_within_slo(levels) == 8
    assert best_within_slo({16: (False, 90.0)}) is None


def test_gain() -> None:
    assert gain(70, 17.5) == 4.0
    with pytest.raises(ValueError, match="positive"):
        gain(1, 0)


def test_usd_per_million_tokens_matches_the_cost_module() -> None:
    # 100 tokens/s at 60 % is 216,000 tokens an hour: $0.0864/h -> $0.40 per 1M.
    assert usd_per_million_tokens(0.0864, 100, 0.6) == pytest.approx(0.4)
    assert usd_per_million_tokens(0.0864, 100, 0.6) == usd_per_million(0.0864, 100 * 3600 * 0.6)
    with pytest.raises(ValueError, match="utilization"):
        usd_per_million_tokens(1, 1, 0)


def test_default_request_count_is_three_waves_within_bounds() -> None:
    assert [default_request_count(c) for c in (1, 2, 4, 8, 16, 64)] == [8, 8, 12, 24, 48, 48]
