"""The fault drill: real Triton under load, real Prometheus and Alertmanager, a webhook.

1. Kill Triton (SIGKILL) under load: TritonDown fires in Prometheus and reaches
   Alertmanager and the webhook within :data:`BOUND_S`; restart Triton on the same
   ports: the alert resolves in Prometheus, leaves Alertmanager and the webhook gets
   the resolved notification. The load generator accounts for every request.
2. Kill only the model's Python backend stub: Triton and its health checks stay up,
   every request fails with reason BACKEND, and TritonBackendFailures fires and reaches
   the webhook; the load generator's failures equal Triton's BACKEND failures.
3. Kill the LLM server (vLLM, SIGKILL to its whole process group) under load:
   LlmEngineDown fires in Prometheus and reaches Alertmanager and the webhook; restart
   it on the same port: the alert resolves and the resolved notification arrives. It
   uses the session's vLLM (tests/conftest.py), which it leaves running again.

Drill timings (``--drill``): rules rendered with ``DRILL_FOR`` (10 s), scrape and
evaluation every second, Alertmanager group timers 2 s / 5 s. Timings are printed,
never asserted beyond the generous bound.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from tools.llm.server import LocalVllm
from tools.local.loadgen import LoadGenerator
from tools.local.observability import Observability
from tools.local.triton import LocalTriton, TritonSettings

pytestmark = pytest.mark.slow

MODEL = "text_embedding"
BODY = {"inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": ["drill"]}]}
BOUND_S = 90
"""Fault to webhook, and recovery to resolution, at most (drill timings, shared CPU)."""
SUMMARY = "--metrics-config=summary_latencies=true"


@pytest.fixture
def settings(tmp_path: Path) -> TritonSettings:
    return TritonSettings(models=(MODEL,), work_dir=tmp_path / "triton", extra_args=(SUMMARY,))


@pytest.fixture
def triton(settings: TritonSettings) -> Iterator[LocalTriton]:
    server = LocalTriton(settings)
    with server:
        yield server


def _stack(triton: LocalTriton, tmp_path: Path) -> Observability:
    return Observability.start(
        triton_targets=(f"{triton.settings.host}:{triton.ports.metrics}",),
        models=(MODEL,),
        work_dir=tmp_path / "obs",
        drill=True,
        scrape_interval="1s",
        evaluation_interval="1s",
    )


def _wait(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def _scraped(stack: Observability) -> bool:
    return bool(
        stack.prometheus.query(f'nv_inference_request_success{{job="triton", model="{MODEL}"}}')
    )


def _counter(stack: Observability, expr: str) -> float:
    result = stack.prometheus.query(expr)
    return sum(float(r["value"][1]) for r in result)


def test_kill_triton_under_load_pages_and_resolves(
    triton: LocalTriton, settings: TritonSettings, tmp_path: Path
) -> None:
    with _stack(triton, tmp_path) as stack:
        assert _wait(lambda: _scraped(stack), 30), "Prometheus never scraped Triton"
        load = LoadGenerator(triton.http_url, MODEL, BODY, rate_rps=10).start()
        time.sleep(4)
        before = load.snapshot()
        assert before.ok > 0, f"no request succeeded before the fault: {before}"
        assert before.failed == 0, before

        killed_at = time.monotonic()
        assert triton.process is not None
        triton.process.kill()
        triton.process.wait(timeout=10)

        firing = stack.prometheus.wait_for_alert("TritonDown", timeout_s=BOUND_S)
        assert firing is not None, "TritonDown did not fire in Prometheus"
        in_prometheus = time.monotonic() - killed_at
        paged = stack.webhook.wait_for(
            lambda n: "TritonDown" in n.alertnames() and n.status == "firing",
            BOUND_S - in_prometheus,
        )
        assert paged is not None, "TritonDown did not reach the webhook"
        assert paged.receiver == "serving-pager"
        delivered = time.monotonic() - killed_at
        assert any(a["labels"]["alertname"] == "TritonDown" for a in stack.alertmanager.alerts())

        # Restart on the same ports: Prometheus's target comes back.
        ports = triton.ports
        restarted = LocalTriton(
            replace(
                settings, http_port=ports.http, grpc_port=ports.grpc, metrics_port=ports.metrics
            )
        )
        restart_at = time.monotonic()
        with restarted:
            up_at = time.monotonic()
            assert stack.prometheus.wait_until_gone("TritonDown", timeout_s=BOUND_S)
            resolved = stack.webhook.wait_for(
                lambda n: "TritonDown" in n.alertnames() and n.status == "resolved", BOUND_S
            )
            assert resolved is not None, "no resolved notification"
            resolved_in = time.monotonic() - up_at
            assert not any(
                a["labels"]["alertname"] == "TritonDown" for a in stack.alertmanager.alerts()
            )
            time.sleep(3)  # traffic flows again
            tally = load.stop()

    # Every request is accounted for, and the failures are the outage's.
    assert tally.sent == tally.ok + tally.failed, tally
    assert tally.failed > 0
    assert set(tally.failures) <= {"connection", "timeout"}, tally.failures
    assert tally.first_failure_at is not None
    assert tally.first_failure_at >= killed_at
    assert tally.ok > before.ok, "nothing succeeded after the restart"
    print(
        f"\ndrill: kill -> TritonDown firing {in_prometheus:.1f} s, -> webhook {delivered:.1f} s;"
        f" restart took {up_at - restart_at:.1f} s;"
        f" up -> resolved notification {resolved_in:.1f} s;"
        f" load: {tally.sent} sent, {tally.ok} ok, {tally.failed} failed {dict(tally.failures)}"
    )


def _stub_pids(triton_pid: int, model: str) -> list[int]:
    """The Python backend stub processes of ``model`` under the given tritonserver."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        is_stub = any(b"triton_python_backend_stub" in c for c in cmdline)
        if ppid == triton_pid and is_stub and any(f"/{model}/".encode() in c for c in cmdline):
            pids.append(int(entry.name))
    return pids


def test_dead_backend_with_healthy_server_fires_backend_failures(
    triton: LocalTriton, tmp_path: Path
) -> None:
    with _stack(triton, tmp_path) as stack:
        assert _wait(lambda: _scraped(stack), 30)
        assert triton.pid is not None
        stubs = _stub_pids(triton.pid, MODEL)
        assert stubs, "no Python backend stub found for the model"
        load = LoadGenerator(triton.http_url, MODEL, BODY, rate_rps=10).start()
        time.sleep(3)
        backend_before = _counter(
            stack, f'nv_inference_request_failure{{model="{MODEL}", reason="BACKEND"}}'
        )
        for pid in stubs:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        # The server and the model still look healthy from the outside.
        time.sleep(2)
        assert requests.get(f"{triton.http_url}/v2/health/ready", timeout=5).status_code == 200
        assert requests.get(f"{triton.http_url}/v2/models/{MODEL}/ready", timeout=5).ok

        firing = stack.prometheus.wait_for_alert("TritonBackendFailures", timeout_s=BOUND_S)
        assert firing is not None, "TritonBackendFailures did not fire"
        assert firing["labels"]["model"] == MODEL
        paged = stack.webhook.wait_for(lambda n: "TritonBackendFailures" in n.alertnames(), BOUND_S)
        assert paged is not None
        assert paged.receiver == "serving-pager"
        delivered = time.monotonic() - killed_at
        tally = load.stop()
        time.sleep(2)  # one more scrape after the last request
        backend_after = _counter(
            stack, f'nv_inference_request_failure{{model="{MODEL}", reason="BACKEND"}}'
        )

    assert tally.sent == tally.ok + tally.failed, tally
    assert set(tally.failures) == {"http_500"}, tally.failures
    # Every failure the clients saw is one Triton counted with reason="BACKEND".
    assert backend_after - backend_before == tally.failures["http_500"]
    print(
        f"\ndrill: stub killed -> TritonBackendFailures at the webhook {delivered:.1f} s;"
        f" load: {tally.sent} sent, {tally.ok} ok, {tally.failed} failed"
    )


LLM_BODY = {
    "model": "chat_llm",
    "messages": [{"role": "user", "content": "Name a colour."}],
    "max_tokens": 8,
}


def test_kill_llm_under_load_pages_and_resolves(llm: LocalVllm, tmp_path: Path) -> None:
    stack = Observability.start(
        triton_targets=(),
        models=(),
        llm_targets=(llm.metrics_target,),
        llm_models=(llm.settings.model,),
        llm_variant=llm.variant_name,
        work_dir=tmp_path / "obs",
        drill=True,
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    with stack:
        assert _wait(lambda: stack.prometheus.query('up{job="vllm"} == 1'), 30), (
            "Prometheus never scraped vLLM"
        )
        # Two short chats a second: about one request in flight on this machine.
        load = LoadGenerator(
            llm.url,
            llm.served_model_name,
            {**LLM_BODY, "model": llm.served_model_name},
            rate_rps=2,
            timeout_s=60,
            workers=16,
            path="/v1/chat/completions",
        ).start()
        time.sleep(5)
        before = load.snapshot()
        assert before.ok > 0, f"no request succeeded before the fault: {before}"
        assert before.failed == 0, before

        killed_at = time.monotonic()
        llm.kill()  # SIGKILL to the API server, EngineCore and Worker at once

        firing = stack.prometheus.wait_for_alert("LlmEngineDown", timeout_s=BOUND_S)
        assert firing is not None, "LlmEngineDown did not fire in Prometheus"
        assert firing["labels"]["deployment"] == "local"
        in_prometheus = time.monotonic() - killed_at
        paged = stack.webhook.wait_for(
            lambda n: "LlmEngineDown" in n.alertnames() and n.status == "firing",
            BOUND_S - in_prometheus,
        )
        assert paged is not None, "LlmEngineDown did not reach the webhook"
        assert paged.receiver == "serving-pager"
        delivered = time.monotonic() - killed_at
        assert any(a["labels"]["alertname"] == "LlmEngineDown" for a in stack.alertmanager.alerts())

        restart_at = time.monotonic()
        llm.start()  # the same launcher: the same port, so the same scrape target
        llm.wait_ready()
        up_at = time.monotonic()
        assert stack.prometheus.wait_until_gone("LlmEngineDown", timeout_s=BOUND_S)
        resolved = stack.webhook.wait_for(
            lambda n: "LlmEngineDown" in n.alertnames() and n.status == "resolved", BOUND_S
        )
        assert resolved is not None, "no resolved notification"
        resolved_in = time.monotonic() - up_at
        assert not any(
            a["labels"]["alertname"] == "LlmEngineDown" for a in stack.alertmanager.alerts()
        )
        time.sleep(3)  # traffic flows again
        tally = load.stop()

    assert tally.sent == tally.ok + tally.failed, tally
    assert tally.failed > 0
    assert set(tally.failures) <= {"connection", "timeout"}, tally.failures
    assert tally.first_failure_at is not None
    assert tally.first_failure_at >= killed_at
    assert tally.ok > before.ok, "nothing succeeded after the restart"
    print(
        f"\ndrill: vLLM killed -> LlmEngineDown firing {in_prometheus:.1f} s, -> webhook "
        f"{delivered:.1f} s; restart took {up_at - restart_at:.1f} s;"
        f" up -> resolved notification {resolved_in:.1f} s;"
        f" load: {tally.sent} sent, {tally.ok} ok, {tally.failed} failed {dict(tally.failures)}"
    )
