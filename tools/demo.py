"""``make demo``: the main job, on the embedded default configuration.

1. Every stack previewed offline (no cloud credentials): plan written under
   ``<build>/plan/``, the policy pack evaluated against it, monthly cost estimated.
2. The local serving stack up: the real Triton on ``model_repo/``'s CPU models, the
   real Prometheus (production alert rules, scraping Triton) and Alertmanager.
3. A short rehearsal per model: capacity probed closed-loop, then open-loop load at
   50 % and 80 % of it, every request counted, p99 against the model's budget.
4. The LLM tier, once Triton is stopped (one heavy server at a time on a small
   machine): vLLM's OpenAI server for chat_llm (variant ``cpu``), scraped by the
   local Prometheus, under a short aiperf load (streaming chat, 128 prompt / 64 output
   tokens) at the concurrency ``make bench-llm`` found to hold the SLO: output
   tokens/s, TTFT and ITL p50/p99 against the variant's budgets. That record was
   measured on one machine; where this one misses the SLO at that level, the demo
   halves the concurrency (at most ``LLM_MAX_LEVELS`` levels in all) and prices the
   first level that holds it, reporting every level it tried.
5. A report (``<build>/demo/report.md`` and ``report.json``): the stacks, the
   rehearsal verdicts, the LLM's figures, what Prometheus saw, and $/1M tokens from
   the measured throughput with every assumption stated. Then everything is stopped.

Exit status: 0 when every stack previews without a mandatory policy violation and
the local stack came up and answered; 1 otherwise; 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from blueprint.cost import estimate
from blueprint.cost.estimate import usd
from blueprint.cost.tokens import PricedThroughput, cpu_price, gpu_price, price_throughput
from blueprint.modelrepo.repo import facts
from blueprint.paths import REPO_ROOT
from policies.config import PolicyConfigError
from policies.config import load as load_policy_config
from policies.engine import evaluate
from tools.bench import llm as llm_bench
from tools.bench.llm_math import Budgets
from tools.bench.perf import machine, write_input_data
from tools.bench.rehearse import Level, measure_capacity, run_level
from tools.llm.paths import LlmPaths, MissingVenv
from tools.llm.server import LocalVllm, VllmError, VllmSettings, check_memory
from tools.local._proc import LaunchError
from tools.local.observability import Observability
from tools.local.triton import LocalTriton, TritonError, TritonSettings, local_models
from tools.preview.__main__ import known_stacks
from tools.preview.render import table, type_counts
from tools.preview.run import preview_stacks, write_plan

GPU_RECORD = REPO_ROOT / "benchmarks" / "h200-2026-11-28" / "run2" / "batching.json"
"""The batching benchmark measured on a lent H200 (see benchmarks/h200-2026-11-28)."""

DEMO_LEVELS = (0.5, 0.8)

LLM_RECORD = REPO_ROOT / "benchmarks" / "cpu-2026-12-03" / "llm" / "results.json"
"""make bench-llm on this machine: the concurrency that held the cpu variant's SLO."""
LLM_DEFAULT_CONCURRENCY = 8
LLM_UTILIZATION = 0.6
LLM_MAX_LEVELS = 3
"""Levels the demo tries (the record's, then halved) before it reports a miss."""


@dataclass
class LocalRun:
    """What the local stack showed during the demo."""

    models: dict[str, bool] = field(default_factory=dict)
    capacity_rps: dict[str, float] = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    tokens_per_request: dict[str, float] = field(default_factory=dict)
    targets_up: int = 0
    targets: int = 0
    firing: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class LlmRun:
    """What the LLM tier showed during the demo."""

    model: str = ""
    variant: str = ""
    concurrency: int = 0
    concurrency_source: str = ""
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    ready_s: float | None = None
    output_tok_s: float = 0.0
    requests_per_s: float = 0.0
    ttft_p50_ms: float = 0.0
    ttft_p99_ms: float = 0.0
    itl_p50_ms: float = 0.0
    itl_p99_ms: float = 0.0
    """aiperf's (per-request mean)."""
    server_itl_p99_ms: float = 0.0
    """Per token, from vLLM's histogram (what the SLO rules count)."""
    budget_ttft_ms: float = 0.0
    budget_itl_ms: float = 0.0
    within_slo: bool = False
    why: str = ""
    failed: int = 0
    load_s: float = 0.0
    targets_up: int = 0
    targets: int = 0
    firing: list[str] = field(default_factory=list)
    error: str | None = None
    tried: list[dict[str, Any]] = field(default_factory=list)
    """Every level run, in order; the fields above are the priced one's."""


def llm_levels(concurrency: int, source: str) -> list[int]:
    """The concurrencies the demo may try: the one asked for exactly; the bench
    record's (or the default), then halved while above 1, at most LLM_MAX_LEVELS."""
    if source == "--llm-concurrency":
        return [concurrency]
    levels = [concurrency]
    while len(levels) < LLM_MAX_LEVELS and levels[-1] > 1:
        levels.append(levels[-1] // 2)
    return levels


def llm_concurrency(requested: int | None) -> tuple[int, str]:
    """The concurrency of the demo's LLM load: asked for, or what make bench-llm found."""
    if requested:
        return requested, "--llm-concurrency"
    try:
        best = json.loads(LLM_RECORD.read_text()).get("best_concurrency_within_slo")
    except (OSError, ValueError):
        best = None
    if isinstance(best, int) and best > 0:
        return best, f"the best level within the SLO in {LLM_RECORD.relative_to(REPO_ROOT)}"
    return LLM_DEFAULT_CONCURRENCY, "default (no make bench-llm record)"


def level_row(level: llm_bench.Level) -> dict[str, Any]:
    """The figures of one demo level, as the report keeps them."""
    a = level.aiperf
    return {
        "concurrency": level.concurrency,
        "requests": level.requests,
        "output_tok_s": round(a["output_tok_s"], 2),
        "requests_per_s": round(a["requests_per_s"], 3),
        "ttft_p50_ms": round(a["ttft_p50_ms"], 1),
        "ttft_p99_ms": round(a["ttft_p99_ms"], 1),
        "itl_p50_ms": round(a["itl_p50_ms"], 1),
        "itl_p99_ms": round(a["itl_p99_ms"], 1),
        "server_itl_p99_ms": round(level.server.itl_p99_ms, 1),
        "within_slo": level.within_slo,
        "why": level.why,
        "failed": level.client.errors,
    }


def take_level(run: LlmRun, chosen: dict[str, Any]) -> None:
    """Make ``chosen`` (one of ``run.tried``) the level the run reports and prices."""
    run.concurrency, run.requests = chosen["concurrency"], chosen["requests"]
    run.output_tok_s, run.requests_per_s = chosen["output_tok_s"], chosen["requests_per_s"]
    run.ttft_p50_ms, run.ttft_p99_ms = chosen["ttft_p50_ms"], chosen["ttft_p99_ms"]
    run.itl_p50_ms, run.itl_p99_ms = chosen["itl_p50_ms"], chosen["itl_p99_ms"]
    run.server_itl_p99_ms = chosen["server_itl_p99_ms"]
    run.within_slo, run.why = chosen["within_slo"], chosen["why"]
    run.failed = sum(t["failed"] for t in run.tried)


def llm_section(out: Path, concurrency: int | None, requests: int | None) -> LlmRun:
    """vLLM up, scraped by Prometheus, a short aiperf load at one concurrency, all stopped."""
    run = LlmRun()
    c, source = llm_concurrency(concurrency)
    run.concurrency, run.concurrency_source = c, source
    run.requests = requests or 4 * c
    workload = llm_bench.Workload()
    run.prompt_tokens, run.output_tokens = workload.isl, workload.osl
    llm: LocalVllm | None = None
    observability: Observability | None = None
    print(
        f"\n== 4. LLM tier: vLLM's OpenAI server, aiperf at concurrency {c} ({source}), "
        f"{run.requests} streamed chats of {workload.isl} prompt / {workload.osl} output tokens"
        + ("" if source == "--llm-concurrency" else "; halved if this machine misses the SLO")
    )
    try:
        llm = LocalVllm(VllmSettings(work_dir=out / "vllm"))
        run.model, run.variant = llm.served_model_name, llm.variant_name
        slo = llm.variant.slo
        budgets = Budgets(slo.ttft_p99_ms, slo.itl_p99_ms, slo.objective)
        run.budget_ttft_ms, run.budget_itl_ms = budgets.ttft_p99_ms, budgets.itl_p99_ms
        aiperf = LlmPaths().aiperf
        check_memory()
        llm.start()
        run.ready_s = round(llm.wait_ready(), 1)
        observability = Observability.start(
            triton_targets=(),
            models=(),
            llm_targets=(llm.metrics_target,),
            llm_models=(llm.settings.model,),
            llm_variant=llm.variant_name,
            work_dir=out / "observability-llm",
        )
        print(
            f"vLLM ready in {run.ready_s:.0f} s: OpenAI base URL {llm.openai_url} (model "
            f'"{llm.served_model_name}", variant {llm.variant_name}); Prometheus '
            f"{observability.prometheus.url}",
            flush=True,
        )
        # The warm-up runs at the first level's concurrency, so that batch size's first
        # use (kernels, buffers) is not paid by the measured requests.
        llm_bench.warm_up(llm, requests_=max(4, c))
        started = time.monotonic()
        for level_c in llm_levels(c, source):
            n = requests or 4 * level_c
            level = llm_bench.run_level(
                llm,
                aiperf,
                name=f"demo-c{level_c}",
                engine=f"max-num-seqs {llm.variant.engine.max_num_seqs}",
                concurrency=level_c,
                requests=n,
                workload=workload,
                out=out / "llm",
                budgets=budgets,
            )
            attempt = level_row(level)
            run.tried.append(attempt)
            print(
                f"  {level_c} concurrent: {attempt['output_tok_s']:.1f} output tokens/s, "
                f"TTFT p50/p99 {attempt['ttft_p50_ms']:.0f}/{attempt['ttft_p99_ms']:.0f} ms "
                f"(budget {budgets.ttft_p99_ms:g}), ITL p50/p99 {attempt['itl_p50_ms']:.0f}/"
                f"{attempt['itl_p99_ms']:.0f} ms, per token p99 "
                f"{attempt['server_itl_p99_ms']:.0f} ms (budget {budgets.itl_p99_ms:g}): "
                f"{level.why}",
                flush=True,
            )
            if level.within_slo:
                break
        run.load_s = round(time.monotonic() - started, 1)
        take_level(run, run.tried[-1])  # the first within the SLO, else the lowest tried
        if len(run.tried) > 1:
            run.concurrency_source = (
                f"{c} from {run.concurrency_source} missed the SLO on this machine; "
                f"halved to {run.concurrency}"
            )
        time.sleep(6)  # a scrape after the load
        run.targets_up, run.targets = observability.prometheus.targets_up()
        run.firing = observability.prometheus.firing()
    except (VllmError, llm_bench.BenchError, MissingVenv, LaunchError, OSError) as exc:
        run.error = str(exc)
        print(f"LLM tier: {exc}", file=sys.stderr)
    finally:
        if observability is not None:
            observability.stop()
        if llm is not None:
            llm.stop()
        print("LLM tier stopped")
    return run


def llm_price(run: LlmRun) -> tuple[PricedThroughput | None, list[str]]:
    """$/1M output tokens of the LLM run, and what that figure assumes."""
    if run.error or not run.output_tok_s:
        return None, []
    host_cpus = os.cpu_count() or 1
    priced = price_throughput(
        f"{run.model} (vLLM, variant {run.variant})",
        run.output_tok_s,
        cpu_price(host_cpus),
        f"this run: {run.output_tok_s:.1f} output tokens/s at concurrency {run.concurrency}, "
        f"{'within' if run.within_slo else 'NOT within'} the variant's SLO",
        utilization=LLM_UTILIZATION,
    )
    assumptions = [
        f"{run.model}: output tokens only (the {run.prompt_tokens} prompt tokens of each request "
        f"are not counted, so this is $/1M generated tokens); every request {run.prompt_tokens} "
        f"prompt + {run.output_tokens} output tokens (exact: ignore_eos and min_tokens), "
        f"streamed, {run.concurrency} at a time ({run.concurrency_source})",
        f"{run.model}: {LLM_UTILIZATION:.0%} average utilization of the throughput measured at "
        "that concurrency; the whole machine is priced, though vLLM's engine uses one core "
        "and the other serves the API, the client and the rest of the demo",
        f"{run.model}: SmolLM2-135M-Instruct in float32 on CPU (the local stack's model), not "
        "the 8B model the GPU variants serve: the figure prices this machine, not production",
    ]
    return priced, assumptions


def preview_section(build: Path) -> tuple[int, list[list[str]], list[dict[str, Any]]]:
    try:
        policy_settings = load_policy_config()
    except PolicyConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2, [], []
    stacks = known_stacks()
    print(
        f"== 1. Previewing {len(stacks)} stacks offline under Pulumi's mocks: {', '.join(stacks)}"
    )
    started = time.perf_counter()
    results = preview_stacks(stacks)
    elapsed = time.perf_counter() - started
    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    status = 0
    for result in results:
        if result.plan is None:
            status = max(status, 2)
            print(str(result.error), file=sys.stderr)
            rows.append([result.stack, "error", "-", "-", "-", "-", "-", "-", "-"])
            continue
        plan = result.plan
        write_plan(plan, build / "plan")
        assert result.config is not None
        env = result.config.environment.value
        report = evaluate(plan.to_json(), policy_settings[env], env)
        cost = estimate(result.config, plan.stack)
        if report.mandatory:
            status = max(status, 1)
        passed = len(report.ran) - len(report.failed_policies("mandatory"))
        rows.append(
            [
                plan.stack,
                str(len(plan.resources)),
                str(len(plan.custom)),
                str(len(type_counts(plan))),
                usd(cost.floor),
                usd(cost.ceiling),
                f"{passed}/{len(report.ran)}",
                str(len(report.mandatory)),
                str(len(report.advisory)),
            ]
        )
        records.append(
            {
                "stack": plan.stack,
                "resources": len(plan.resources),
                "floor_usd_month": round(cost.floor, 2),
                "ceiling_usd_month": round(cost.ceiling, 2),
                "mandatory_violations": len(report.mandatory),
                "advisory_violations": len(report.advisory),
            }
        )
    print("\n".join(table(PREVIEW_HEADERS, rows)))
    print(
        f"{len(stacks)} stacks previewed in {elapsed:.1f} s "
        f"(Python {platform.python_version()}, {platform.machine()})"
    )
    return status, rows, records


PREVIEW_HEADERS = [
    "stack",
    "resources",
    "cloud",
    "types",
    "floor/month",
    "ceiling/month",
    "policies passed",
    "mandatory",
    "advisory",
]


def mean_prompt_tokens(triton: LocalTriton) -> dict[str, float]:
    """Mean prompt tokens per request per model, from the models' own request logs.

    The Python backend writes each JSON record as a quoted string after Triton's
    log prefix (``... model.py:107] "{\\"batch\\": 2, ...}"``).
    """
    totals: dict[str, list[int]] = {}
    for line in triton.log_lines():
        if "inference" not in line or "prompt_tokens" not in line:
            continue
        _, _, payload = line.partition("] ")
        try:
            record: Any = json.loads(payload)
            if isinstance(record, str):
                record = json.loads(record)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "inference":
            totals.setdefault(str(record["model"]), []).append(int(record["prompt_tokens"]))
    return {m: sum(v) / len(v) for m, v in totals.items() if v}


def local_section(out: Path, duration_s: float) -> LocalRun:
    run = LocalRun()
    models = local_models()
    data = write_input_data(out / "prompts.json")
    triton = LocalTriton(TritonSettings(models=tuple(models), work_dir=out / "triton"))
    observability: Observability | None = None
    print(f"\n== 2. Local serving stack: real Triton on model_repo/ ({', '.join(models)})")
    try:
        triton.start()
        ready = triton.wait_ready()
        run.models = {m: bool(ready.get(m)) for m in models}
        observability = Observability.start(
            triton_targets=(f"{triton.settings.host}:{triton.ports.metrics}",),
            models=tuple(sorted(m for m, ok in run.models.items() if ok)),
            work_dir=out / "observability",
        )
        print(
            f"Triton {triton.grpc_url} (gRPC); Prometheus {observability.prometheus.url}; "
            f"Alertmanager {observability.alertmanager.url}"
        )
        print(
            "\n== 3. Rehearsal: capacity, then open-loop load at 50 % and 80 % "
            f"({duration_s:g} s each)"
        )
        for model in models:
            budget = facts(model).latency_budget_ms or 0.0
            capacity = measure_capacity(triton, model, data, out)
            run.capacity_rps[model] = round(capacity, 2)
            print(f"  {model:<15} capacity {capacity:7.1f} requests/s (closed loop)", flush=True)
            for share in DEMO_LEVELS:
                level = run_level(
                    triton=triton,
                    model=model,
                    share=share,
                    capacity=capacity,
                    budget=float(budget),
                    data=data,
                    out=out,
                    duration_s=duration_s,
                )
                run.levels.append(level)
                print(
                    f"  {model:<15} {int(share * 100):>3} %  sent {level.sent:>4}  ok "
                    f"{level.succeeded:>4}  failed {level.failed}  dropped {level.dropped}  "
                    f"p99 {level.p99_ms:6.1f} ms (budget {budget:g})  {level.why}",
                    flush=True,
                )
        run.tokens_per_request = mean_prompt_tokens(triton)
        run.targets_up, run.targets = observability.prometheus.targets_up()
        run.firing = observability.prometheus.firing()
    except (TritonError, LaunchError, OSError) as exc:
        run.error = str(exc)
        print(f"local stack: {exc}", file=sys.stderr)
    finally:
        if observability is not None:
            observability.stop()
        triton.stop()
        print("local stack stopped")
    return run


def token_prices(run: LocalRun) -> tuple[list[PricedThroughput], list[str]]:
    """$/1M tokens from what was measured, and the assumptions behind the figures."""
    priced: list[PricedThroughput] = []
    host_cpus = os.cpu_count() or 1
    for model in sorted(run.capacity_rps):
        tokens = run.tokens_per_request.get(model)
        passing = [lv for lv in run.levels if lv.model == model and lv.passed]
        if not tokens or not passing:
            continue
        best = max(passing, key=lambda lv: lv.achieved_rps)
        priced.append(
            price_throughput(
                model,
                best.achieved_rps * tokens,
                cpu_price(host_cpus),
                f"this run: {best.achieved_rps:.1f} requests/s at {int(best.share * 100)} % "
                f"load within the p99 budget, {tokens:.1f} prompt tokens/request",
            )
        )
    if GPU_RECORD.is_file() and run.tokens_per_request.get("text_embedding"):
        record = json.loads(GPU_RECORD.read_text())
        tokens = run.tokens_per_request["text_embedding"]
        for summary in record.get("models", []):
            if summary.get("model") != "text_embedding" or not summary.get(
                "shipped_peak_throughput"
            ):
                continue
            rps = float(summary["shipped_peak_throughput"])
            priced.append(
                price_throughput(
                    "text_embedding (gpu variant)",
                    rps * tokens,
                    gpu_price("H200-141GB"),
                    f"{GPU_RECORD.relative_to(REPO_ROOT).parent}: {rps:,.0f} requests/s on "
                    "one H200 (stand-in weights of the same shapes), "
                    f"{tokens:.1f} prompt tokens/request",
                )
            )
    assumptions = [
        "throughput is what was measured, on the hardware it was measured on; the price is "
        "that hardware's share of the catalog's cheapest instance carrying it "
        "(blueprint/catalog/instances.yaml, dated prices; spot at the high end seen)",
        "tokens are prompt tokens of the rehearsal's prompt set, counted by the models' own "
        "tokenizer and read from their request logs; embedding and guard models generate none",
        "60 % average utilization of the sustained throughput (headroom for bursts and p99)",
        "not priced: chat_llm's GPU variants (H100/H200/A100/L40S/L4; no GPU here), storage, "
        "network, control plane",
    ]
    return priced, assumptions


def llm_price_line(p: PricedThroughput) -> str:
    spot = "" if p.usd_per_million_spot is None else f", spot ${p.usd_per_million_spot:.4f}"
    return (
        f"{p.model} on {p.price.label}: ${p.usd_per_million_on_demand:.4f}/1M output tokens "
        f"on-demand{spot} ({p.tokens_per_second:.1f} output tokens/s measured, "
        f"{p.utilization:.0%} utilization; {p.source})"
    )


def llm_report_lines(llm: LlmRun) -> list[str]:
    if llm.error:
        return [f"- error: {llm.error}"]
    head = ["concurrency", "requests", "output tok/s", "req/s", "TTFT p50 ms", "TTFT p99 ms"]
    head += ["ITL p50 ms", "ITL p99 ms", "ITL p99 per token ms", "budgets ms", "verdict"]
    rows = []
    for t in llm.tried:
        cells = [t["concurrency"], t["requests"], f"{t['output_tok_s']:.1f}"]
        cells += [f"{t['requests_per_s']:.2f}", f"{t['ttft_p50_ms']:.0f}"]
        cells += [f"{t['ttft_p99_ms']:.0f}", f"{t['itl_p50_ms']:.1f}", f"{t['itl_p99_ms']:.1f}"]
        cells += [f"{t['server_itl_p99_ms']:.1f}"]
        cells += [f"TTFT {llm.budget_ttft_ms:g}, ITL {llm.budget_itl_ms:g}", t["why"]]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return [
        f"- {llm.model}, variant {llm.variant}; vLLM ready in {llm.ready_s} s; priced at "
        f"{llm.concurrency} concurrent streamed chats ({llm.concurrency_source}), "
        f"{llm.prompt_tokens} prompt / {llm.output_tokens} output tokens each, "
        f"{llm.load_s:.0f} s of load; failed requests: {llm.failed}",
        f"- Prometheus targets up: {llm.targets_up}/{llm.targets}; alerts firing: "
        f"{', '.join(llm.firing) or 'none'}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *rows,
        "",
        "TTFT, ITL p50/p99, tokens/s: aiperf's export (its ITL is a mean per request); "
        "ITL p99 per token: vLLM's histogram, what the SLO rules count.",
    ]


def write_report(
    path: Path,
    *,
    preview_rows: list[list[str]],
    preview_records: list[dict[str, Any]],
    run: LocalRun | None,
    priced: list[PricedThroughput],
    assumptions: list[str],
    llm: LlmRun | None = None,
    llm_priced: PricedThroughput | None = None,
    wall_s: float | None = None,
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    lines = ["# make demo report", "", f"Machine: {json.dumps(machine())}", "", "## Stacks", ""]
    lines += ["| " + " | ".join(PREVIEW_HEADERS) + " |", "|" + "---|" * len(PREVIEW_HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in preview_rows]
    if run is not None:
        lines += ["", "## Local serving stack", ""]
        lines += [
            f"- {m}: {'READY' if ok else 'not ready'}" for m, ok in sorted(run.models.items())
        ]
        lines += [
            f"- Prometheus targets up: {run.targets_up}/{run.targets}; "
            f"alerts firing: {', '.join(run.firing) or 'none'}",
        ]
        if run.error:
            lines.append(f"- error: {run.error}")
        head = ["model", "load", "sent", "ok", "failed", "dropped", "p50 ms", "p99 ms"]
        head += ["budget ms", "verdict"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lv in run.levels:
            cells = [lv.model, f"{int(lv.share * 100)} %", lv.sent, lv.succeeded, lv.failed]
            cells += [lv.dropped, f"{lv.p50_ms:.1f}", f"{lv.p99_ms:.1f}", f"{lv.budget_ms:g}"]
            cells += [lv.why]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if llm is not None:
        lines += ["", "## LLM tier (vLLM's OpenAI server)", ""]
        lines += llm_report_lines(llm)
    lines += ["", "## $/1M tokens", ""]
    lines += [f"- {p.line()}" for p in priced] or ["- nothing measured"]
    if llm_priced is not None:
        lines.append(f"- {llm_price_line(llm_priced)}")
    lines += ["", "Assumptions:", ""] + [f"- {a}" for a in assumptions]
    if wall_s is not None:
        lines += ["", f"The demo took {wall_s:.0f} s."]
    (path / "report.md").write_text("\n".join(lines) + "\n")
    (path / "report.json").write_text(
        json.dumps(
            {
                "stacks": preview_records,
                "local": None if run is None else asdict(run),
                "usd_per_million_tokens": [asdict(p) for p in priced],
                "llm": None if llm is None else asdict(llm),
                "llm_usd_per_million_output_tokens": None
                if llm_priced is None
                else asdict(llm_priced),
                "assumptions": assumptions,
                "wall_s": None if wall_s is None else round(wall_s, 1),
            },
            indent=1,
        )
    )


def print_prices(
    priced: list[PricedThroughput], llm_priced: PricedThroughput | None, assumptions: list[str]
) -> None:
    print("\n== 5. $/1M tokens, from measured throughput")
    for p in priced:
        print(f"  {p.line()}")
    if llm_priced is not None:
        print(f"  {llm_price_line(llm_priced)}")
    if not priced and llm_priced is None:
        print("  nothing measured (run without --no-local)")
    for a in assumptions:
        print(f"  assumed: {a}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="output directory")
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("DEMO_LEVEL_SECONDS", "12")),
        help="seconds of load per rehearsal level (env DEMO_LEVEL_SECONDS)",
    )
    parser.add_argument(
        "--no-local", action="store_true", help="previews only; do not start the local stack"
    )
    parser.add_argument("--no-llm", action="store_true", help="skip the LLM tier (vLLM)")
    parser.add_argument(
        "--llm-concurrency",
        type=int,
        default=None,
        help="concurrent chats of the LLM load (default: what make bench-llm found)",
    )
    parser.add_argument(
        "--llm-requests",
        type=int,
        default=None,
        help="requests of the LLM load (default: 4 x the concurrency, about 30-45 s)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0:
        parser.error(f"--duration must be positive (got {args.duration:g})")
    for flag in ("llm_concurrency", "llm_requests"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1 (got {value})")
    started = time.monotonic()

    status, rows, records = preview_section(args.build)
    if status == 2:
        return 2
    run: LocalRun | None = None
    llm: LlmRun | None = None
    out = args.build / "demo"
    if not args.no_local:
        run = local_section(out, args.duration)
        if run.error or not run.models or not all(run.models.values()):
            status = max(status, 1)
        # Latency verdicts are reported, not enforced (a busy laptop is not prod);
        # a failed or lost request is a broken stack.
        if any(lv.failed or lv.dropped for lv in run.levels):
            status = max(status, 1)
        if not args.no_llm:
            llm = llm_section(out, args.llm_concurrency, args.llm_requests)
            if llm.error or llm.failed:
                status = max(status, 1)
    priced, assumptions = token_prices(run) if run is not None else ([], [])
    llm_priced, llm_assumptions = llm_price(llm) if llm is not None else (None, [])
    assumptions += llm_assumptions
    print_prices(priced, llm_priced, assumptions)
    wall_s = time.monotonic() - started
    write_report(
        out,
        preview_rows=rows,
        preview_records=records,
        run=run,
        priced=priced,
        assumptions=assumptions,
        llm=llm,
        llm_priced=llm_priced,
        wall_s=wall_s,
    )
    print(f"\nreport: {out / 'report.md'} (the demo took {wall_s:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
