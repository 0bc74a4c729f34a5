"""``make demo``: the main job, on the embedded default configuration.

1. Every stack previewed offline (no cloud credentials): plan written under
   ``<build>/plan/``, the policy pack evaluated against it, monthly cost estimated.
2. The local serving stack up: the real Triton on ``model_repo/``'s CPU models, the
   real Prometheus (production alert rules, scraping Triton) and Alertmanager.
3. A short rehearsal per model: capacity probed closed-loop, then open-loop load at
   50 % and 80 % of it, every request counted, p99 against the model's budget.
4. A report (``<build>/demo/report.md`` and ``report.json``): the stacks, the
   rehearsal verdicts, what Prometheus saw, and $/1M tokens from the measured
   throughput with every assumption stated. Then everything is stopped.

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
from tools.bench.perf import machine, write_input_data
from tools.bench.rehearse import Level, measure_capacity, run_level
from tools.local._proc import LaunchError
from tools.local.observability import Observability
from tools.local.triton import LocalTriton, TritonError, TritonSettings, local_models
from tools.preview.__main__ import known_stacks
from tools.preview.render import table, type_counts
from tools.preview.run import preview_stacks, write_plan

GPU_RECORD = REPO_ROOT / "benchmarks" / "h200-2026-11-28" / "run2" / "batching.json"
"""The batching benchmark measured on a lent H200 (see benchmarks/h200-2026-11-28)."""

DEMO_LEVELS = (0.5, 0.8)


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
        targets = observability.prometheus.query("up")
        run.targets = len(targets)
        run.targets_up = sum(1 for t in targets if t["value"][1] == "1")
        run.firing = sorted(
            {
                a["labels"]["alertname"]
                for a in observability.prometheus.alerts()
                if a["state"] == "firing"
            }
        )
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
        "not priced: chat_llm (vLLM on H100/H200/A100/L40S/L4) - no LLM runs on this machine, "
        "so no measured throughput exists for it; storage, network, control plane",
    ]
    return priced, assumptions


def write_report(
    path: Path,
    *,
    preview_rows: list[list[str]],
    preview_records: list[dict[str, Any]],
    run: LocalRun | None,
    priced: list[PricedThroughput],
    assumptions: list[str],
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
    lines += ["", "## $/1M tokens", ""]
    lines += [f"- {p.line()}" for p in priced] or ["- nothing measured"]
    lines += ["", "Assumptions:", ""] + [f"- {a}" for a in assumptions]
    (path / "report.md").write_text("\n".join(lines) + "\n")
    (path / "report.json").write_text(
        json.dumps(
            {
                "stacks": preview_records,
                "local": None if run is None else asdict(run),
                "usd_per_million_tokens": [asdict(p) for p in priced],
                "assumptions": assumptions,
            },
            indent=1,
        )
    )


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
    args = parser.parse_args(argv)
    if args.duration <= 0:
        parser.error(f"--duration must be positive (got {args.duration:g})")

    status, rows, records = preview_section(args.build)
    if status == 2:
        return 2
    run: LocalRun | None = None
    out = args.build / "demo"
    if not args.no_local:
        run = local_section(out, args.duration)
        if run.error or not run.models or not all(run.models.values()):
            status = max(status, 1)
        # Latency verdicts are reported, not enforced (a busy laptop is not prod);
        # a failed or lost request is a broken stack.
        if any(lv.failed or lv.dropped for lv in run.levels):
            status = max(status, 1)
    priced, assumptions = token_prices(run) if run is not None else ([], [])
    print("\n== 4. $/1M tokens, from measured throughput")
    for p in priced:
        print(f"  {p.line()}")
    if not priced:
        print("  nothing measured (run without --no-local)")
    for a in assumptions:
        print(f"  assumed: {a}")
    write_report(
        out,
        preview_rows=rows,
        preview_records=records,
        run=run,
        priced=priced,
        assumptions=assumptions,
    )
    print(f"\nreport: {out / 'report.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
