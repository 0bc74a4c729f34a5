"""The arithmetic of ``make bench-llm`` and the demo's LLM load: pure, no I/O, unit-tested.

- aiperf's per-request records (``profile_export.jsonl`` lines) -> :class:`ClientStats`:
  TTFT and per-token ITL percentiles computed here (ITL from every gap between two
  streamed chunks, which is what vLLM's ``inter_token_latency_seconds`` histogram and
  the SLO rules count; aiperf's own ``inter_token_latency`` is a per-request mean),
  output tokens/s over the level's wall time, errors by kind;
- vLLM's ``/metrics`` text before and after a level -> :class:`ServerDelta`: generated
  tokens and their rate, requests by finish reason, preemptions, prefix-cache hit
  ratio, and the share of requests/tokens over the SLO budgets from the histograms'
  buckets (as the SLO rules compute it);
- the SLO verdict of a level, the best level that holds it, gains, $/1M tokens.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blueprint.cost.tokens import usd_per_million


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks (NumPy's default)."""
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- aiperf's per-request records ---------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request as aiperf recorded it (times in ns, latencies in ms)."""

    start_ns: int
    end_ns: int
    ttft_ms: float | None
    chunk_gaps_ms: tuple[float, ...]
    """Gaps between consecutive streamed content chunks (one token each here)."""
    output_tokens: int
    """The server's ``usage.completion_tokens`` (aiperf's own count when absent)."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _value(metrics: Mapping[str, Any], key: str) -> Any:
    item = metrics.get(key)
    return None if item is None else item.get("value")


def parse_records(lines: Iterable[str], phase: str = "profiling") -> list[RequestRecord]:
    """The records of ``phase`` (warm-up requests are left out) from JSON Lines."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        doc = json.loads(line)
        meta = doc.get("metadata", {})
        if meta.get("benchmark_phase", phase) != phase:
            continue
        metrics = doc.get("metrics", {})
        error = doc.get("error")
        tokens = _value(metrics, "usage_completion_tokens")
        if tokens is None:
            tokens = _value(metrics, "output_sequence_length")
        gaps = _value(metrics, "inter_chunk_latency") or []
        out.append(
            RequestRecord(
                start_ns=int(meta["request_start_ns"]),
                end_ns=int(meta["request_end_ns"]),
                ttft_ms=_value(metrics, "time_to_first_token"),
                chunk_gaps_ms=tuple(float(g) for g in gaps),
                output_tokens=int(tokens or 0),
                error=None if error is None else str(error.get("type", "error")),
            )
        )
    return out


@dataclass(frozen=True)
class ClientStats:
    """One level as the client saw it."""

    requests: int
    errors: int
    error_kinds: dict[str, int]
    wall_s: float
    """First request's start to last request's end."""
    output_tokens: int
    output_tok_s: float
    requests_per_s: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    itl_p50_ms: float
    """Per token: every gap between two streamed chunks of every successful request."""
    itl_p99_ms: float


def client_stats(records: Sequence[RequestRecord]) -> ClientStats:
    if not records:
        raise ValueError("no requests recorded")
    ok = [r for r in records if r.ok]
    if not ok:
        kinds = Counter(str(r.error) for r in records)
        raise ValueError(f"every request failed: {dict(kinds)}")
    wall_s = (max(r.end_ns for r in records) - min(r.start_ns for r in records)) / 1e9
    ttfts = [r.ttft_ms for r in ok if r.ttft_ms is not None]
    gaps = [g for r in ok for g in r.chunk_gaps_ms]
    tokens = sum(r.output_tokens for r in ok)
    return ClientStats(
        requests=len(records),
        errors=len(records) - len(ok),
        error_kinds=dict(Counter(str(r.error) for r in records if not r.ok)),
        wall_s=wall_s,
        output_tokens=tokens,
        output_tok_s=tokens / wall_s if wall_s > 0 else 0.0,
        requests_per_s=len(ok) / wall_s if wall_s > 0 else 0.0,
        ttft_p50_ms=percentile(ttfts, 50) if ttfts else math.nan,
        ttft_p99_ms=percentile(ttfts, 99) if ttfts else math.nan,
        itl_p50_ms=percentile(gaps, 50) if gaps else math.nan,
        itl_p99_ms=percentile(gaps, 99) if gaps else math.nan,
    )


def aiperf_errors(summary: Mapping[str, Any]) -> tuple[int, list[str]]:
    """Failed requests in aiperf's ``profile_export_aiperf.json`` and why.

    aiperf exits 0 even when requests fail; ``error_request_count`` is absent when
    none did.
    """
    count = summary.get("error_request_count") or {}
    failed = int(count.get("avg", 0) or 0)
    kinds = [
        f"{e.get('count', '?')} x {e.get('error_details', {}).get('type', '?')}: "
        f"{e.get('error_details', {}).get('message', '')[:160]}"
        for e in summary.get("error_summary") or []
    ]
    return failed, kinds


# -- vLLM's /metrics -------------------------------------------------------------------

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse_metrics(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition (comments and blank lines skipped)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if m is None:
            continue
        labels = dict(_LABEL.findall(m.group("labels") or ""))
        out.append(Sample(m.group("name"), labels, float(m.group("value"))))
    return out


def total(samples: Iterable[Sample], name: str, **labels: str) -> float:
    """Sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def buckets(samples: Iterable[Sample], histogram: str) -> dict[float, float]:
    """``{le: cumulative count}`` of a histogram, summed over its series."""
    out: dict[float, float] = {}
    for s in samples:
        if s.name == f"{histogram}_bucket" and "le" in s.labels:
            le = float(s.labels["le"])
            out[le] = out.get(le, 0.0) + s.value
    return out


TTFT = "vllm:time_to_first_token_seconds"
ITL = "vllm:inter_token_latency_seconds"


@dataclass(frozen=True)
class Counters:
    """The vLLM counters a level is judged by, at one instant."""

    generation_tokens: float
    prompt_tokens: float
    success: dict[str, float]
    """``vllm:request_success_total`` by ``finished_reason``."""
    preemptions: float
    prefix_queries: float
    prefix_hits: float
    ttft_buckets: dict[float, float] = field(default_factory=dict)
    itl_buckets: dict[float, float] = field(default_factory=dict)


def counters(text: str) -> Counters:
    samples = parse_metrics(text)
    success: dict[str, float] = {}
    for s in samples:
        if s.name == "vllm:request_success_total":
            reason = s.labels.get("finished_reason", "")
            success[reason] = success.get(reason, 0.0) + s.value
    return Counters(
        generation_tokens=total(samples, "vllm:generation_tokens_total"),
        prompt_tokens=total(samples, "vllm:prompt_tokens_total"),
        success=success,
        preemptions=total(samples, "vllm:num_preemptions_total"),
        prefix_queries=total(samples, "vllm:prefix_cache_queries_total"),
        prefix_hits=total(samples, "vllm:prefix_cache_hits_total"),
        ttft_buckets=buckets(samples, TTFT),
        itl_buckets=buckets(samples, ITL),
    )


def share_over(before: Mapping[float, float], after: Mapping[float, float], le: float) -> float:
    """Share of observations between two snapshots above the bucket ``le`` (as the SLO
    rules compute it: 1 - rate(bucket{le}) / rate(count))."""
    if le not in after:
        raise ValueError(f"no bucket at le={le:g}; buckets: {sorted(after)}")
    count = after.get(math.inf, 0.0) - before.get(math.inf, 0.0)
    if count <= 0:
        return 0.0
    within = after[le] - before.get(le, 0.0)
    return 1 - within / count


def histogram_quantile(
    before: Mapping[float, float], after: Mapping[float, float], q: float
) -> float:
    """The ``q`` quantile (0-1) of the observations between two snapshots of a histogram,
    interpolated within its bucket as Prometheus' ``histogram_quantile`` does (the
    highest finite bound when it falls in the ``+Inf`` bucket; NaN with no observation)."""
    bounds = sorted(after)
    deltas = [after[b] - before.get(b, 0.0) for b in bounds]
    if not bounds or bounds[-1] != math.inf or deltas[-1] <= 0:
        return math.nan
    rank = q * deltas[-1]
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, deltas, strict=True):
        if cumulative >= rank:
            if bound == math.inf:
                return lower
            if cumulative == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return lower


@dataclass(frozen=True)
class ServerDelta:
    """What vLLM counted during one level."""

    wall_s: float
    generation_tokens: float
    generation_tok_s: float
    prompt_tokens: float
    requests: dict[str, float]
    """Finished requests by reason (``length``, ``stop``, ``abort``, ``error``, ...)."""
    preemptions: float
    prefix_queries: float
    prefix_hits: float
    ttft_over_budget: float
    """Share of requests whose TTFT was over the budget's bucket."""
    itl_over_budget: float
    """Share of inter-token gaps over the budget's bucket."""
    ttft_p99_ms: float
    """From the TTFT histogram (interpolated within its bucket)."""
    itl_p99_ms: float
    """From the inter-token latency histogram (per token, as the SLO rules count)."""

    @property
    def prefix_hit_ratio(self) -> float | None:
        return self.prefix_hits / self.prefix_queries if self.prefix_queries else None

    @property
    def finished(self) -> float:
        return sum(self.requests.values())

    @property
    def failed(self) -> float:
        return sum(v for k, v in self.requests.items() if k in ("abort", "error"))


def server_delta(
    before: Counters, after: Counters, wall_s: float, ttft_budget_s: float, itl_budget_s: float
) -> ServerDelta:
    gen = after.generation_tokens - before.generation_tokens
    reasons = set(before.success) | set(after.success)
    return ServerDelta(
        wall_s=wall_s,
        generation_tokens=gen,
        generation_tok_s=gen / wall_s if wall_s > 0 else 0.0,
        prompt_tokens=after.prompt_tokens - before.prompt_tokens,
        requests={
            r: after.success.get(r, 0.0) - before.success.get(r, 0.0) for r in sorted(reasons)
        },
        preemptions=after.preemptions - before.preemptions,
        prefix_queries=after.prefix_queries - before.prefix_queries,
        prefix_hits=after.prefix_hits - before.prefix_hits,
        ttft_over_budget=share_over(before.ttft_buckets, after.ttft_buckets, ttft_budget_s),
        itl_over_budget=share_over(before.itl_buckets, after.itl_buckets, itl_budget_s),
        ttft_p99_ms=1000 * histogram_quantile(before.ttft_buckets, after.ttft_buckets, 0.99),
        itl_p99_ms=1000 * histogram_quantile(before.itl_buckets, after.itl_buckets, 0.99),
    )


# -- verdicts, gains, money ---------------------------------------------------------------


@dataclass(frozen=True)
class Budgets:
    """A variant's SLO (``model_repo/<model>/llm.yaml``), in milliseconds."""

    ttft_p99_ms: float
    itl_p99_ms: float
    objective: float = 0.99
    """Share of requests (TTFT) and of inter-token gaps (ITL) that must be within budget."""


def slo_verdict(
    stats: ClientStats, budgets: Budgets, server: ServerDelta | None = None
) -> tuple[bool, str]:
    """Does a level hold the SLO? Returns the verdict and why.

    - no request failed;
    - TTFT: the client's p99 (queueing, prefill and the way back: what a user waits)
      within the budget;
    - ITL: as the SLO rules judge it, from the server's histogram: at most
      ``1 - objective`` of the inter-token gaps over the budget's bucket. The client's
      per-chunk gaps also carry the client's own scheduling (on a 2-core machine aiperf,
      the API server and everything else share one core), so they are reported, and
      judged only when no server figures are given.
    """
    problems = []
    if stats.errors:
        problems.append(f"{stats.errors} failed requests")
    if not stats.ttft_p99_ms <= budgets.ttft_p99_ms:
        problems.append(f"TTFT p99 {stats.ttft_p99_ms:.0f} > {budgets.ttft_p99_ms:g} ms")
    allowed = 1 - budgets.objective
    if server is not None:
        if server.itl_over_budget > allowed + 1e-9:
            problems.append(
                f"{server.itl_over_budget:.1%} of tokens over the ITL budget "
                f"({budgets.itl_p99_ms:g} ms; {allowed:.0%} allowed)"
            )
    elif not stats.itl_p99_ms <= budgets.itl_p99_ms:
        problems.append(f"ITL p99 {stats.itl_p99_ms:.0f} > {budgets.itl_p99_ms:g} ms")
    return (not problems, "; ".join(problems) or "within SLO")


def best_within_slo(levels: Mapping[int, tuple[bool, float]]) -> int | None:
    """The concurrency with the most output tokens/s among those holding the SLO:
    ``levels`` maps concurrency to (holds the SLO, output tokens/s)."""
    holding = [(tok_s, c) for c, (ok, tok_s) in levels.items() if ok]
    return max(holding)[1] if holding else None


def gain(value: float, baseline: float) -> float:
    if baseline <= 0:
        raise ValueError("the baseline throughput must be positive")
    return value / baseline


def usd_per_million_tokens(usd_per_hour: float, tokens_per_s: float, utilization: float) -> float:
    """$/1M tokens of hardware costing ``usd_per_hour`` sustaining ``tokens_per_s`` at
    ``utilization`` of it on average (the formula of blueprint/cost/tokens.py)."""
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization {utilization} is not within (0, 1]")
    return usd_per_million(usd_per_hour, tokens_per_s * 3600 * utilization)


def default_request_count(concurrency: int) -> int:
    """Requests per level: three waves of the concurrency, at least 8 (500 inter-token
    gaps at OSL 64, so a p99 is not one stall) and at most 48 (sized so the whole
    default bench fits in about six minutes on 2 cores)."""
    return max(8, min(3 * concurrency, 48))
