"""The real Triton (nvidia-pytriton's 2.51 server) on model_repo/: every CPU model
loads READY under strict config and EXPLICIT control, answers correctly, logs
structured request lines, and refuses the broken configs that Triton refuses too.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import yaml

from blueprint.modelrepo.snapshot import snapshot
from components.k8s.triton import RESTRICTED_APIS
from tests.conftest import REPO
from tests.test_minilm import REFERENCE_FIRST8, SENTENCES
from tests.test_modelrepo import CASES, build_case
from tools.guard.train import examples
from tools.local.triton import LocalTriton, TritonError, TritonSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    work = tmp_path_factory.mktemp("triton")
    with LocalTriton(TritonSettings(work_dir=work)) as server:
        yield server


def infer(server: LocalTriton, model: str, texts: list[str], tenant: str = "test") -> dict:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    data = np.array([[t.encode()] for t in texts], dtype=np.object_)
    inp = grpcclient.InferInput("TEXT", list(data.shape), "BYTES")
    inp.set_data_from_numpy(data)
    result = client.infer(model, [inp], parameters={"tenant": tenant})
    names = [o.name for o in result.get_response().outputs]
    return {n: result.as_numpy(n) for n in names}


def test_every_cpu_model_is_ready_and_the_llm_is_not_loaded(triton: LocalTriton) -> None:
    ready = triton.readiness()
    assert ready["text_embedding"] is True
    assert ready["prompt_guard"] is True
    assert ready.get("chat_llm") is False  # a GPU model: listed, never loaded here


def test_embeddings_are_the_real_model_normalised_and_deterministic(triton: LocalTriton) -> None:
    first = infer(triton, "text_embedding", SENTENCES)["EMBEDDING"]
    again = infer(triton, "text_embedding", SENTENCES[::-1])["EMBEDDING"][::-1]
    assert first.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first[:, :8], np.array(REFERENCE_FIRST8), atol=2e-6)
    np.testing.assert_allclose(first, again, atol=1e-5)


def test_guard_labels_its_held_out_examples(triton: LocalTriton) -> None:
    held = examples()["heldout"]
    for label, texts in held.items():
        out = infer(triton, "prompt_guard", texts)
        assert [v.decode() for v in out["LABEL"][:, 0]] == [label] * len(texts), texts
        scores = out["SCORE"][:, 0]
        assert ((scores >= 0.5) == (label == "injection")).all()


def test_batching_is_active_executions_fewer_than_inferences(triton: LocalTriton) -> None:
    before = triton.statistics("text_embedding")
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    done: list[object] = []

    def callback(result: object, error: object) -> None:
        done.append(error or result)

    for i in range(24):
        inp = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
        inp.set_data_from_numpy(np.array([[f"request number {i}".encode()]], dtype=np.object_))
        client.async_infer("text_embedding", [inp], callback)
    deadline = time.monotonic() + 120
    while len(done) < 24 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(done) == 24
    assert not [d for d in done if isinstance(d, Exception)]
    after = triton.statistics("text_embedding")
    inferences = int(after["inference_count"]) - int(before["inference_count"])
    executions = int(after["execution_count"]) - int(before["execution_count"])
    assert inferences == 24
    assert executions < inferences


def test_request_logs_carry_model_tenant_and_prompt_length(triton: LocalTriton) -> None:
    infer(triton, "prompt_guard", ["What is the capital of Australia?"], tenant="acme-support")
    time.sleep(0.5)
    records = []
    for line in triton.log_lines():
        if '"event\\": \\"inference' in line:
            payload = line.split('"', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
            records.append(json.loads(payload))
    mine = [r for r in records if r["tenant"] == "acme-support"]
    assert mine, records[-3:]
    assert mine[-1]["model"] == "prompt_guard"
    assert mine[-1]["prompt_chars"] == len("What is the capital of Australia?")
    assert mine[-1]["prompt_tokens"] == 9


REFUSED = [c for c in CASES if "triton_refuses" in yaml.safe_load(c.read_text())]


def test_real_triton_refuses_what_the_validator_refuses(tmp_path: Path) -> None:
    """Every broken case marked ``triton_refuses`` is loaded into ONE real Triton, one
    after the other (explicit model control re-reads the folder on each load), and
    Triton's refusal must name what the validator names."""
    root = tmp_path / "model_repo"
    root.mkdir()
    settings = TritonSettings(repo=root, load_at_start=False, work_dir=tmp_path / "work")
    wrong: list[str] = []
    with LocalTriton(settings) as server:
        for case_file in REFUSED:
            case = yaml.safe_load(case_file.read_text())
            built = build_case(case, tmp_path / case_file.stem)
            model = case["models"][0]
            shutil.rmtree(root / model, ignore_errors=True)
            shutil.copytree(built / model, root / model)
            try:
                server.load(model)
            except TritonError as exc:
                if case["triton_refuses"] not in str(exc):
                    wrong.append(f"{case_file.stem}: Triton said {str(exc)[-300:]!r}")
            else:
                wrong.append(f"{case_file.stem}: Triton loaded it")
    assert len(REFUSED) >= 10
    assert not wrong, "\n".join(wrong)


def test_make_local_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    # Triton only: the session's vLLM may be up (one at a time on this machine), and the
    # LLM tier's clean stop is the demo's end-to-end test (no process left behind).
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.local", "--models", "text_embedding", "--no-llm"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**__import__("os").environ, "TRITON_WORK_DIR": str(tmp_path)},
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 180
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops it" in line or time.monotonic() > deadline:
            break
    assert any("text_embedding" in ln and "READY" in ln for ln in lines), lines
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "Triton stopped" in rest
    assert "Traceback" not in rest


def test_restricted_model_control_refuses_a_load_without_the_admin_header(tmp_path: Path) -> None:
    """The flags TritonServing gives every pod, on the real server: no header, no load."""
    apis = ",".join(RESTRICTED_APIS)
    settings = TritonSettings(
        models=("prompt_guard",),
        work_dir=tmp_path,
        extra_args=(
            f"--http-restricted-api={apis}:admin-key=s3cret",
            f"--grpc-restricted-protocol={apis}:admin-key=s3cret",
        ),
        admin_headers={"admin-key": "s3cret"},
    )
    with LocalTriton(settings) as server:
        url = f"{server.http_url}/v2/repository/models/prompt_guard/unload"
        refused = requests.post(url, json={}, timeout=30)
        assert refused.status_code in (401, 403), refused.text
        assert server.readiness()["prompt_guard"] is True
        assert infer(server, "prompt_guard", ["hello"])["LABEL"].shape == (1, 1)
        allowed = requests.post(url, json={}, headers={"admin-key": "s3cret"}, timeout=60)
        assert allowed.ok, allowed.text


def weights_events(server: LocalTriton) -> dict[str, str]:
    """Model -> where its weights were read from, from the models' startup log lines."""
    found = {}
    for line in server.log_lines():
        if '"event\\": \\"weights' in line:
            payload = line.split('"', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
            record = json.loads(payload)
            found[record["model"]] = record["source"]
    return found


def test_local_triton_reads_the_installed_package(triton: LocalTriton) -> None:
    """make local: model_repo/ has no published weights, so the package's copy is read."""
    assert weights_events(triton) == {"text_embedding": "package", "prompt_guard": "package"}


def test_real_triton_loads_the_published_copy_from_its_version_folders(tmp_path: Path) -> None:
    """The repository as the model store publishes it (a temporary copy with the weights
    of weights.json in each version folder): Triton loads it READY, the models read
    their weights from their own version folders and answer with the real model."""
    repo = tmp_path / "published"
    for f in snapshot(["text_embedding", "prompt_guard"]).files:
        (repo / f.key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.path, repo / f.key)
    with LocalTriton(TritonSettings(repo=repo, work_dir=tmp_path / "work")) as server:
        assert server.readiness() == {"text_embedding": True, "prompt_guard": True}
        sources = weights_events(server)
        assert sources == {"text_embedding": "version folder", "prompt_guard": "version folder"}
        emb = infer(server, "text_embedding", SENTENCES)["EMBEDDING"]
        np.testing.assert_allclose(emb[:, :8], np.array(REFERENCE_FIRST8), atol=2e-6)
        held = examples()["heldout"]["injection"][:2]
        labels = infer(server, "prompt_guard", held)["LABEL"][:, 0]
        assert [v.decode() for v in labels] == ["injection"] * len(held)
