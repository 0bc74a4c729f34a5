"""The arithmetic behind make bench-batching and make rehearse (pure, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprint.modelrepo.repo import MODEL_REPO, parse_config
from tools.bench.batching import Point, ceiling_of, fit_cost, no_batching, summarise
from tools.bench.perf import delta, read_timeline, scrape
from tools.bench.rehearse import Level, verdicts


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
    assert ceiling_of(t0, t1, max_batch=16) == pytest.approx(3.0)
    assert ceiling_of(t0, t1, max_batch=2) == 2.0  # capped by max_batch_size


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
    assert s.ceiling == pytest.approx(3.0)
    assert s.meets_target is False  # 1.73 < max(0.8 * 3.0, 2.0)


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
