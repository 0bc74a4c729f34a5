"""make demo: the token pricing it prints, the log parsing it relies on, and one real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blueprint.catalog import load_catalog
from blueprint.cost.tokens import cpu_price, gpu_price, price_throughput
from tests.conftest import REPO
from tools.demo import (
    LLM_MAX_LEVELS,
    LlmRun,
    llm_concurrency,
    llm_levels,
    llm_price,
    llm_report_lines,
    mean_prompt_tokens,
    take_level,
)


def test_cpu_price_is_the_cheapest_vcpu_hour_of_the_catalog() -> None:
    catalog = load_catalog()
    per_vcpu = min(
        i.on_demand / i.vcpus for i in catalog.instances.values() if i.cloud == "aws" and not i.gpus
    )
    assert cpu_price(2).on_demand == pytest.approx(2 * per_vcpu)


def test_gpu_price_is_a_share_of_the_instance_carrying_it() -> None:
    price = gpu_price("H200-141GB")
    p5en = load_catalog().instances["p5en.48xlarge"]
    assert price.on_demand == pytest.approx(p5en.on_demand / p5en.gpus)
    assert price.spot is not None
    assert price.spot < price.on_demand


def test_price_throughput_arithmetic() -> None:
    price = gpu_price("H200-141GB")
    priced = price_throughput("m", 1000.0, price, "given", utilization=0.5)
    # 1000 tokens/s at half utilization is 1.8M tokens an hour.
    assert priced.usd_per_million_on_demand == pytest.approx(price.on_demand / 1.8)


def test_price_throughput_refuses_zero() -> None:
    with pytest.raises(ValueError, match="positive"):
        price_throughput("m", 0.0, cpu_price(2), "given")


class _Log:
    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def log_lines(self) -> list[str]:
        return self._lines


def test_mean_prompt_tokens_reads_the_models_request_logs() -> None:
    record = {"event": "inference", "model": "text_embedding", "prompt_tokens": 10}
    quoted = json.dumps(json.dumps(record))
    other = json.dumps(json.dumps({**record, "prompt_tokens": 20}))
    lines = [
        f"2026-11-28T01:25:43Z I 29442 model.py:107] {quoted}",
        f"2026-11-28T01:25:43Z I 29442 model.py:107] {other}",
        "I1128 01:25:40 server.cc:674] not a request log",
    ]
    assert mean_prompt_tokens(_Log(lines)) == {"text_embedding": 15.0}  # type: ignore[arg-type]


def test_llm_price_is_per_million_output_tokens_of_the_measured_rate() -> None:
    run = LlmRun(model="chat_llm", variant="cpu", concurrency=8, output_tok_s=50.0)
    run.prompt_tokens, run.output_tokens, run.within_slo = 128, 64, True
    priced, assumptions = llm_price(run)
    assert priced is not None
    hourly = cpu_price(os.cpu_count() or 1).on_demand
    assert priced.usd_per_million_on_demand == pytest.approx(hourly / (50 * 3600 * 0.6) * 1e6)
    assert any("output tokens only" in a for a in assumptions)
    assert any("128 prompt + 64 output tokens" in a for a in assumptions)
    assert llm_price(LlmRun(error="vLLM did not start")) == (None, [])


def test_llm_concurrency_comes_from_the_bench_record_unless_asked() -> None:
    assert llm_concurrency(3) == (3, "--llm-concurrency")
    c, source = llm_concurrency(None)
    assert c >= 1
    assert "results.json" in source or source.startswith("default")


def test_llm_levels_halve_from_the_record_but_keep_an_explicit_concurrency() -> None:
    assert llm_levels(5, "--llm-concurrency") == [5]
    assert llm_levels(16, "the best level within the SLO in results.json") == [16, 8, 4]
    assert len(llm_levels(64, "default")) == LLM_MAX_LEVELS
    assert llm_levels(2, "default") == [2, 1]
    assert llm_levels(1, "default") == [1]


def test_llm_report_lists_every_level_tried() -> None:
    def tried(c: int, ok: bool, why: str) -> dict[str, object]:
        figures = {"output_tok_s": 70.0 + c, "requests_per_s": 1.0, "ttft_p50_ms": 100.0}
        figures |= {"ttft_p99_ms": 200.0, "itl_p50_ms": 50.0, "itl_p99_ms": 60.0}
        return {
            "concurrency": c,
            "requests": 4 * c,
            **figures,
            "server_itl_p99_ms": 61.0,
            "within_slo": ok,
            "why": why,
            "failed": 0,
        }

    run = LlmRun(model="chat_llm", variant="cpu", concurrency=8, budget_ttft_ms=5000)
    run.tried = [tried(16, False, "TTFT p99 5544 > 5000 ms"), tried(8, True, "within SLO")]
    lines = llm_report_lines(run)
    rows = [line for line in lines if line.startswith("| 16 ") or line.startswith("| 8 ")]
    assert len(rows) == 2
    assert "TTFT p99 5544 > 5000 ms" in rows[0]
    assert "within SLO" in rows[1]
    assert "priced at 8 concurrent" in lines[0]
    take_level(run, run.tried[1])
    assert (run.concurrency, run.requests, run.within_slo) == (8, 32, True)
    assert run.output_tok_s == 78.0


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line or environment names ``text`` (vLLM's engine
    processes carry the demo's folder only in TMPDIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.usefixtures("no_shared_llm")  # one vLLM at a time: the demo starts its own
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """The main job: previews, the local stack, a short rehearsal, a report, all stopped."""
    # A relative build folder, as `make demo` passes it (BUILD ?= build).
    build = os.path.relpath(tmp_path, REPO)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "tools.demo", "--build", build, "--duration", "4"),
            *("--llm-concurrency", "4", "--llm-requests", "8"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert {s["stack"] for s in report["stacks"]} == {"dev", "staging", "prod", "edge"}
    assert all(s["mandatory_violations"] == 0 for s in report["stacks"])
    local = report["local"]
    assert local["models"]
    assert all(local["models"].values())
    assert local["targets_up"] == local["targets"] > 0
    assert "Watchdog" in local["firing"]
    for level in local["levels"]:
        assert level["sent"] > 0
        assert level["failed"] == 0
        assert level["dropped"] == 0
    assert report["usd_per_million_tokens"], "no $/1M tokens figure"
    llm = report["llm"]
    assert llm["error"] is None
    assert llm["failed"] == 0
    assert llm["output_tok_s"] > 0
    assert 0 < llm["ttft_p50_ms"] <= llm["ttft_p99_ms"]
    assert 0 < llm["itl_p50_ms"] <= llm["itl_p99_ms"]
    assert llm["targets_up"] == llm["targets"] == 2  # Prometheus itself and vLLM
    assert report["llm_usd_per_million_output_tokens"]["usd_per_million_on_demand"] > 0
    assert not any("chat_llm (vLLM on" in a for a in report["assumptions"])
    assert "local stack stopped" in proc.stdout
    assert "LLM tier stopped" in proc.stdout
    # Nothing left running: the launchers' processes are gone, vLLM's engine included.
    # pytest-N/<test>0: the bare folder name recurs across pytest sessions.
    assert _processes_mentioning(f"{tmp_path.parent.name}/{tmp_path.name}") == []
