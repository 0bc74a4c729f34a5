"""The arithmetic behind make bench-batching and make rehearse (pure, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprint.modelrepo.repo import MODEL_REPO, parse_config
from tests.conftest import REPO
from tools.bench.batching import (
    ModelSummary,
    Point,
    best_within,
    ceiling_of,
    fit_cost,
    no_batching,
    rescore,
    score,
    summarise,
)
from tools.bench.perf import delta, read_timeline, scrape
from tools.bench.rehearse import SLO_LEVELS, Level, level_reasons, rate_tolerance, verdicts


def stats(rows: dict[int, tuple[int, float]]) -> list[dict[str, object]]:
    """batch_stats as Triton reports them: count and total ns per batch size."""
    return [
        {"batch_size": b, "compute_infer": {"count": n, "ns": int(ms * 1e6 * n)}}
        for b, (n, ms) in rows.items()
    ]


def test_fit_recovers_t0_and_t1_and_the_ceiling() -> None:
    # t(B) = 4 ms + 2 ms * B, exactly
    fit = fit_cost(stats({1: (100, 6.0), 4: (50, 12.0), 8: (25, 20.0)}))
    assert fit is not None
    t0, t1 = fit
    assert t0 == pytest.approx(4.0)
    assert t1 == pytest.approx(2.0)
    # B (t0 + t1) / (t0 + t1 B): 16 * 6 / 36 and 2 * 6 / 8
    assert ceiling_of(t0, t1, max_batch=16) == pytest.approx(96 / 36)
    assert ceiling_of(t0, t1, max_batch=2) == pytest.approx(1.5)


@pytest.mark.parametrize(("t0", "t1"), [(4.0, 2.0), (8.062, 8.138), (4.022, 9.984), (4.33, 0.22)])
@pytest.mark.parametrize("batch", [1, 2, 4, 8, 128])
def test_the_bound_stays_below_the_batch_and_the_asymptote(
    t0: float, t1: float, batch: int
) -> None:
    bound = ceiling_of(t0, t1, batch)
    assert bound <= min(batch, 1 + t0 / t1) + 1e-9
    # throughput at full batches over throughput one at a time, from t(B) itself
    assert bound == pytest.approx((batch / (t0 + t1 * batch)) / (1 / (t0 + t1)))
    if batch == 1:
        assert bound == pytest.approx(1.0)


def test_the_bound_grows_with_the_batch_towards_one_plus_t0_over_t1() -> None:
    bounds = [ceiling_of(4.0, 2.0, b) for b in (1, 2, 4, 8, 64, 4096)]
    assert bounds == sorted(bounds)
    assert bounds[-1] == pytest.approx(3.0, rel=1e-3)


def test_no_cost_per_item_bounds_at_the_batch_size() -> None:
    assert ceiling_of(5.0, 0.0, 8) == 8.0
    assert ceiling_of(-1.0, 2.0, 8) == pytest.approx(1.0)  # a negative fitted t0 is no overhead


def test_prompt_guard_reaches_96_percent_of_its_corrected_bound() -> None:
    """The recorded CPU run: fitted t0 8.062 ms, t1 8.138 ms, max batch 4; gain 1.53x."""
    bound = ceiling_of(8.062, 8.138, 4)
    assert bound == pytest.approx(1.60, abs=0.005)
    assert 1.53 / bound == pytest.approx(0.96, abs=0.005)
    assert 0.8 * bound <= 1.53  # the target the old min(B, 1 + t0/t1) = 1.99x made it miss


def test_fit_needs_two_batch_sizes() -> None:
    assert fit_cost(stats({1: (100, 6.0)})) is None


def test_no_batching_arm_keeps_everything_but_the_batcher() -> None:
    shipped = {"name": "m", "max_batch_size": 16, "dynamic_batching": {}, "instance_group": [1]}
    assert no_batching(shipped) == {"name": "m", "max_batch_size": 16, "instance_group": [1]}


def point(arm: str, c: int, x: float, p99: float) -> Point:
    return Point("text_embedding", arm, c, x, 1, 1, p99, True, 0, 0, 1, 0, 0)


def test_gain_counts_only_points_no_worse_than_the_baseline_at_equal_load() -> None:
    config = parse_config(MODEL_REPO / "text_embedding" / "config.pbtxt")
    points = [
        point("no-batching", 1, 50, 20),
        point("no-batching", 8, 52, 300),
        point("shipped", 1, 45, 25),  # worse p99 at c=1: not counted
        point("shipped", 8, 90, 200),
    ]
    s = summarise(
        "text_embedding", config, points, {"batch_stats": stats({1: (10, 6), 8: (10, 20)})}
    )
    assert s.baseline_throughput == 52
    assert s.gain_at_equal_p99 == pytest.approx(90 / 52, abs=0.01)
    assert s.ceiling == pytest.approx(2.4)  # 8 * 6 / (4 + 2 * 8)
    # At the 250 ms budget the no-batching arm's best is c=1 (c=8 is at 300 ms).
    assert s.latency_budget_ms == 250
    assert s.baseline_at_budget == 50
    assert s.shipped_at_budget == 90
    assert s.gain_at_budget == pytest.approx(1.8)
    assert s.target == pytest.approx(1.92)
    assert s.meets_target is False  # 1.8 < 0.8 * 2.4


def test_the_arms_are_compared_at_the_models_latency_budget() -> None:
    base = [point("no-batching", 1, 60, 20), point("no-batching", 16, 64, 270)]
    ship = [point("shipped", 4, 92, 52), point("shipped", 16, 99, 176)]
    assert best_within(base, 200) == base[0]
    assert best_within(ship, 200) == ship[1]
    assert best_within(ship, 50) is None
    summary = ModelSummary(
        "text_embedding", 4, 1, 1000, t0_ms=8.062, t1_ms=8.138, latency_budget_ms=200
    )
    s = score(summary, base + ship)
    assert s.gain_at_budget == pytest.approx(99 / 60, abs=0.01)
    assert s.meets_target is True
    tight = score(ModelSummary("text_embedding", 4, 1, 1000, latency_budget_ms=10), base + ship)
    assert tight.gain_at_budget is None
    assert "within 10 ms" in tight.note


def test_rescore_recomputes_the_recorded_cpu_run(tmp_path: Path) -> None:
    recorded = REPO / "benchmarks" / "cpu-2026-11-28" / "bench-batching" / "batching.json"
    copy = tmp_path / "batching.json"
    doc = json.loads(recorded.read_text())
    copy.write_text(json.dumps(doc))
    assert rescore(copy) == 0
    models = {m["model"]: m for m in json.loads(copy.read_text())["models"]}
    assert models["prompt_guard"]["ceiling"] == pytest.approx(1.60, abs=0.01)
    assert models["prompt_guard"]["gain_at_budget"] == pytest.approx(1.53, abs=0.01)
    assert models["prompt_guard"]["meets_target"] is True
    assert models["text_embedding"]["ceiling"] == pytest.approx(1.34, abs=0.01)
    assert models["text_embedding"]["meets_target"] is True


def test_metrics_delta_per_model() -> None:
    text = (
        'nv_inference_count{{model="a",version="1"}} {}\nnv_inference_exec_count{{model="a"}} {}\n'
    )
    before = scrape(text.format(10, 5))
    after = scrape(text.format(50, 9))
    d = delta(before, after, "a")
    assert d["nv_inference_count"] / d["nv_inference_exec_count"] == 10.0


def level(share: float, passed: bool, failed: int = 0, dropped: int = 0) -> Level:
    return Level(
        "m", share, 10, 10, 10, 1, 2, 3, 100, 100, 100 - failed, failed, dropped, 0, passed, ""
    )


def test_slo_verdict_needs_50_and_80_percent_and_reports_headroom() -> None:
    ok = verdicts([level(0.5, True), level(0.8, True), level(0.95, False)])["m"]
    assert ok == {"slo": "PASS", "headroom_95": "at risk", "errors": 0, "dropped": 0}
    bad = verdicts([level(0.5, True), level(0.8, False, failed=2, dropped=1), level(0.95, True)])
    assert bad["m"] == {"slo": "FAIL", "headroom_95": "ok", "errors": 2, "dropped": 1}


def test_timeline_rates_come_from_the_requests_own_timestamps(tmp_path: Path) -> None:
    # 11 requests sent 100 ms apart (10/s), each answered 20 ms later but the last.
    start = 1_795_836_152_000_000_000
    requests = [
        {
            "timestamp": start + i * 100_000_000,
            "response_timestamps": [start + i * 100_000_000 + 20_000_000],
        }
        for i in range(10)
    ] + [{"timestamp": start + 1_000_000_000, "response_timestamps": []}]
    export = tmp_path / "requests.json"
    export.write_text(json.dumps({"experiments": [{"experiment": {}, "requests": requests}]}))
    timeline = read_timeline(export)
    assert timeline is not None
    assert (timeline.requests, timeline.answered) == (11, 10)
    assert timeline.sent_rps == pytest.approx(10.0)
    # 10 answered between the first send and the last response, 0.92 s later.
    assert timeline.served_rps == pytest.approx(10 / 0.92)


def test_an_empty_export_has_no_timeline(tmp_path: Path) -> None:
    export = tmp_path / "requests.json"
    export.write_text(json.dumps({"experiments": [{"experiment": {}, "requests": []}]}))
    assert read_timeline(export) is None


def reasons(**changes: float) -> list[str]:
    """A level at 100 requests/s, 2,500 requests (5 % tolerance), p99 200 ms of 200."""
    level = {
        "p99_ms": 200.0,
        "budget_ms": 200.0,
        "failed": 0,
        "dropped": 0,
        "sent_rps": 95.0,
        "achieved_rps": 95.0,
        "offered_rps": 100.0,
        "count": 2500,
    }
    return level_reasons(**{**level, **changes})  # type: ignore[arg-type]


def test_a_level_holds_exactly_at_its_limits() -> None:
    assert reasons() == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"p99_ms": 200.01}, "p99 200.0 ms > budget 200 ms"),
        ({"failed": 1}, "1 failed"),
        ({"dropped": 1}, "1 dropped"),
        ({"sent_rps": 94.99}, "the load generator sent 95.0/s < 95 % of the 100.0/s asked"),
        ({"achieved_rps": 94.99}, "achieved 95.0/s < 95 % of offered 100.0/s"),
    ],
)
def test_a_level_fails_just_past_each_limit(change: dict[str, float], why: str) -> None:
    (reason,) = reasons(**change)
    assert reason.startswith(why)


def test_the_rate_tolerance_follows_the_request_count() -> None:
    assert rate_tolerance(2500) == pytest.approx(0.05)  # 2.5 / 50
    assert rate_tolerance(1600) == pytest.approx(0.0625)
    assert rate_tolerance(100) == 0.15  # capped
    assert rate_tolerance(100_000) == 0.05  # floored
    assert reasons(count=1600, sent_rps=93.75, achieved_rps=93.75) == []
    assert len(reasons(count=1600, sent_rps=93.74, achieved_rps=93.74)) == 2


def test_the_slo_verdict_is_judged_at_50_and_80_percent_only() -> None:
    assert SLO_LEVELS == (0.5, 0.8)
    assert verdicts([level(0.5, True), level(0.8, True)])["m"]["slo"] == "PASS"
    assert verdicts([level(0.5, False), level(0.8, True)])["m"]["slo"] == "FAIL"
    assert verdicts([level(0.5, True)])["m"]["slo"] == "FAIL"  # 80 % never measured
    assert verdicts([level(0.95, True)])["m"]["slo"] == "FAIL"  # no SLO level measured
    assert verdicts([level(0.5, True), level(0.95, False)])["m"]["headroom_95"] == "at risk"
