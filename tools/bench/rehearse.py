"""``make rehearse``: a capacity rehearsal against the local stack, with SLO verdicts.

For every CPU model with a latency budget: open-loop Poisson arrivals (perf_analyzer's
request-rate mode: requests leave on schedule whether or not earlier ones came
back) at 50 %, 80 % and 95 % of the model's measured capacity, one level after
the other. Capacity is the shipped arm's peak throughput in
``build/bench/batching.json`` when ``make bench-batching`` has run, otherwise a short
closed-loop probe measures it first (or ``--capacity model=rps``).

Per level it records p50/p95/p99 against the model's ``latency_budget_ms``, the
offered rate, the rate really sent and the rate served (both from the requests' own
timestamps in perf_analyzer's ``--profile-export-file``), and counts every request:
those the client sent, those Triton answered (``nv_inference_request_success``),
failed (``..._failure`` by reason) or still had pending; a request that is in none
of these is reported as dropped, never silently. Each level sends an exact number
of requests (rate x ``--duration``) so the client's count is known. Verdict per
model: the SLO must hold at 50 % and 80 % (p99 within budget, no errors, none
dropped, sent and achieved rates within Poisson noise of the offered rate); 95 % is
the headroom check, reported separately.

Writes ``report.md``, ``report.json`` and ``rehearsal.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from blueprint.modelrepo.repo import facts
from blueprint.paths import MODEL_REPO
from tools.bench.perf import delta, machine, run_perf_analyzer, scrape, write_input_data
from tools.local.triton import LocalTriton, TritonError, TritonSettings, local_models

LEVELS = (0.5, 0.8, 0.95)
SLO_LEVELS = (0.5, 0.8)


@dataclass
class Level:
    model: str
    share: float
    offered_rps: float
    sent_rps: float
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    budget_ms: float
    sent: int
    succeeded: int
    failed: int
    dropped: int
    delayed: int
    passed: bool
    why: str


def _count(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def measure_capacity(triton: LocalTriton, model: str, data: Path, out: Path) -> float:
    """Closed-loop probe: the best throughput over a short concurrency sweep."""
    best = 0.0
    for c in (2, 8, 16):
        result, _ = run_perf_analyzer(
            model=model,
            grpc_url=triton.grpc_url,
            data=data,
            out_csv=out / f"capacity-{model}-c{c}.csv",
            concurrency=c,
            window_ms=2000,
            max_trials=4,
        )
        if result is not None:
            best = max(best, result.throughput)
    return best


def capacities_from_bench(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text())
    return {
        m["model"]: float(m["shipped_peak_throughput"])
        for m in doc.get("models", [])
        if m.get("shipped_peak_throughput")
    }


def run_level(
    *,
    triton: LocalTriton,
    model: str,
    share: float,
    capacity: float,
    budget: float,
    data: Path,
    out: Path,
    duration_s: float,
) -> Level:
    rate = max(capacity * share, 0.5)
    count = max(int(rate * duration_s), 20)
    before = scrape(triton.metrics())
    result, output = run_perf_analyzer(
        model=model,
        grpc_url=triton.grpc_url,
        data=data,
        out_csv=out / f"rate-{model}-{int(share * 100)}.csv",
        request_rate=rate,
        request_count=count,
        tenant="rehearsal",
    )
    time.sleep(1.0)  # let the last responses land before reading the counters
    after = scrape(triton.metrics())
    d = delta(before, after, model)
    succeeded = int(d.get("nv_inference_request_success", 0))
    failed = int(d.get("nv_inference_request_failure", 0))
    pending = int(after.get(("nv_inference_pending_request_count", model), 0))
    delayed = _count(r"Delayed Request Count: (\d+)", output)
    # Every request the client sent is answered, failed, or still pending; the rest
    # were lost on the way and are reported as dropped.
    dropped = max(0, count - succeeded - failed - pending)
    if result is None:
        return Level(
            model,
            share,
            round(rate, 2),
            0,
            0,
            0,
            0,
            0,
            budget,
            count,
            succeeded,
            failed,
            dropped,
            delayed,
            False,
            "perf_analyzer failed: " + output.strip()[-200:],
        )
    # Sent and achieved rates from the requests' own timestamps (perf_analyzer's
    # windowed figure reads several percent low for a fixed-count run).
    timeline = result.timeline
    if timeline is None:
        print(
            f"  {model} {int(share * 100)} %: no per-request export to read; rates are "
            "perf_analyzer's windowed figure, which reads several percent low",
            file=sys.stderr,
        )
    sent_rps = timeline.sent_rps if timeline else result.throughput
    achieved = timeline.served_rps if timeline else result.throughput
    reasons = level_reasons(
        p99_ms=result.p99_ms,
        budget_ms=budget,
        failed=failed,
        dropped=dropped,
        sent_rps=sent_rps,
        achieved_rps=achieved,
        offered_rps=rate,
        count=count,
    )
    return Level(
        model=model,
        share=share,
        offered_rps=round(rate, 2),
        sent_rps=round(sent_rps, 2),
        achieved_rps=round(achieved, 2),
        p50_ms=round(result.p50_ms, 2),
        p95_ms=round(result.p95_ms, 2),
        p99_ms=round(result.p99_ms, 2),
        budget_ms=budget,
        sent=count,
        succeeded=succeeded,
        failed=failed,
        dropped=dropped,
        delayed=delayed,
        passed=not reasons,
        why="; ".join(reasons) or "within SLO",
    )


def rate_tolerance(count: int) -> float:
    """How far below the offered rate a level of ``count`` requests may send or be served.

    Poisson arrivals: the achieved rate of N requests varies by about 1/sqrt(N); 2.5
    standard deviations, at least 5 % and at most 15 %.
    """
    return min(max(2.5 / count**0.5, 0.05), 0.15)


def level_reasons(
    *,
    p99_ms: float,
    budget_ms: float,
    failed: int,
    dropped: int,
    sent_rps: float,
    achieved_rps: float,
    offered_rps: float,
    count: int,
) -> list[str]:
    """Why a load level breaks the SLO; empty when it holds (p99 at the budget holds)."""
    tolerance = rate_tolerance(count)
    reasons = []
    if p99_ms > budget_ms:
        reasons.append(f"p99 {p99_ms:.1f} ms > budget {budget_ms:g} ms")
    if failed:
        reasons.append(f"{failed} failed")
    if dropped:
        reasons.append(f"{dropped} dropped")
    if sent_rps < (1 - tolerance) * offered_rps:
        reasons.append(
            f"the load generator sent {sent_rps:.1f}/s < {100 * (1 - tolerance):.0f} % of "
            f"the {offered_rps:.1f}/s asked: the level did not test what it names"
        )
    if achieved_rps < (1 - tolerance) * offered_rps:
        reasons.append(
            f"achieved {achieved_rps:.1f}/s < {100 * (1 - tolerance):.0f} % of offered "
            f"{offered_rps:.1f}/s"
        )
    return reasons


def verdicts(levels: list[Level]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({lv.model for lv in levels}):
        mine = [lv for lv in levels if lv.model == model]
        slo = [lv for lv in mine if lv.share in SLO_LEVELS]
        head = [lv for lv in mine if lv.share not in SLO_LEVELS]
        out[model] = {
            # Both SLO levels measured and held: a level that never ran proves nothing.
            "slo": "PASS"
            if {lv.share for lv in slo} == set(SLO_LEVELS) and all(lv.passed for lv in slo)
            else "FAIL",
            "headroom_95": "ok" if head and all(lv.passed for lv in head) else "at risk",
            "errors": sum(lv.failed for lv in mine),
            "dropped": sum(lv.dropped for lv in mine),
        }
    return out


def plot(levels: list[Level], path: Path, title: str) -> None:
    import matplotlib  # noqa: PLC0415 (a dev dependency, imported only to plot)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    models = sorted({lv.model for lv in levels})
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(6 * max(len(models), 1), 4.5))
    if len(models) == 1:
        axes = [axes]
    for ax, model in zip(axes, models, strict=True):
        mine = sorted((lv for lv in levels if lv.model == model), key=lambda lv: lv.share)
        xs = [lv.offered_rps for lv in mine]
        for attr, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
            ax.plot(xs, [getattr(lv, attr) for lv in mine], style, label=attr.split("_")[0])
        if mine:
            ax.axhline(mine[0].budget_ms, color="red", linestyle="--", label="p99 budget")
        for lv in mine:
            ax.annotate(f"{int(lv.share * 100)}%", (lv.offered_rps, lv.p99_ms), fontsize=8)
        ax.set_title(model)
        ax.set_xlabel("offered load (requests/s, open loop)")
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out: Path, levels: list[Level], caps: dict[str, float], host: dict[str, Any]
) -> None:
    verdict = verdicts(levels)
    (out / "report.json").write_text(
        json.dumps(
            {
                "machine": host,
                "note": os.environ.get("BENCH_CONDITIONS", ""),
                "capacity_rps": caps,
                "verdicts": verdict,
                "levels": [asdict(lv) for lv in levels],
            },
            indent=1,
        )
    )
    title = f"{host.get('cpu')} x{host['cpus']}; open-loop Poisson arrivals"
    plot(levels, out / "rehearsal.png", title)
    lines = [
        "# Capacity rehearsal",
        "",
        f"Machine: {host.get('cpu')} x{host['cpus']} ({host['platform']}), load average "
        f"{host.get('loadavg_1m_at_start')} at the start. {os.environ.get('BENCH_CONDITIONS', '')}",
        "",
        "| model | load | offered/s | sent/s | achieved/s | p50 ms | p95 ms | p99 ms | budget ms "
        "| sent | ok | failed | dropped | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in levels:
        lines.append(
            f"| {lv.model} | {int(lv.share * 100)} % | {lv.offered_rps} | {lv.sent_rps} | "
            f"{lv.achieved_rps} | "
            f"{lv.p50_ms} | {lv.p95_ms} | {lv.p99_ms} | {lv.budget_ms:g} | {lv.sent} | "
            f"{lv.succeeded} | {lv.failed} | {lv.dropped} | {'pass' if lv.passed else lv.why} |"
        )
    lines += [
        "",
        "| model | capacity/s | SLO (50 %, 80 %) | headroom (95 %) | errors | dropped |",
        "|---|---|---|---|---|---|",
    ]
    for model, v in verdict.items():
        lines.append(
            f"| {model} | {caps.get(model, 0):.1f} | {v['slo']} | {v['headroom_95']} | "
            f"{v['errors']} | {v['dropped']} |"
        )
    lines += ["", "![latency against offered load](rehearsal.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines[4:]))
    print(f"\nwrote {out}/report.md, report.json, rehearsal.png")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make rehearse", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/rehearsal"))
    p.add_argument("--repo", type=Path, default=MODEL_REPO)
    p.add_argument("--bench", type=Path, default=Path("build/bench/batching.json"))
    p.add_argument("--models", default="", help="comma-separated; default: every CPU model")
    p.add_argument("--capacity", action="append", default=[], help="model=rps (repeatable)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of load per level")
    args = p.parse_args(argv)
    models = [m for m in args.models.split(",") if m] or local_models(args.repo)
    caps = capacities_from_bench(args.bench)
    for item in args.capacity:
        name, _, value = item.partition("=")
        try:
            caps[name] = float(value)
        except ValueError:
            print(f"--capacity: expected model=requests_per_second (got {item!r})")
            return 2
    budgets = {m: facts(m, args.repo).latency_budget_ms for m in models}
    missing = [m for m, b in budgets.items() if b is None]
    if missing:
        print(f"no latency_budget_ms declared for {missing}: run make check-models")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    data = write_input_data(args.out / "prompts.json")
    host = machine()
    levels: list[Level] = []
    triton = LocalTriton(TritonSettings(repo=args.repo, models=tuple(models)))
    try:
        triton.start()
        triton.wait_ready()
        for model in models:
            if not caps.get(model):
                caps[model] = round(measure_capacity(triton, model, data, args.out), 2)
                print(f"{model}: measured capacity {caps[model]:.1f} requests/s", flush=True)
            for share in LEVELS:
                lv = run_level(
                    triton=triton,
                    model=model,
                    share=share,
                    capacity=caps[model],
                    budget=float(budgets[model] or 0),
                    data=data,
                    out=args.out,
                    duration_s=args.duration,
                )
                levels.append(lv)
                print(
                    f"  {model:<15} {int(share * 100):>3} %  offered {lv.offered_rps:>7.1f}/s  "
                    f"achieved {lv.achieved_rps:>7.1f}/s  p99 {lv.p99_ms:>7.1f} ms  {lv.why}",
                    flush=True,
                )
    except (TritonError, OSError) as exc:
        print(f"rehearse: {exc}", file=sys.stderr)
        return 1
    finally:
        triton.stop()
    write_report(args.out, levels, caps, host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
