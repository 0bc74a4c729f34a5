"""The Triton metric names in monitoring/metrics/triton.yaml against a live Triton 2.51.

A tiny repository of two Python models (one with the response cache) is served by the
local Triton launcher with the flags the platform uses (summary latencies, a cache);
one request each makes every per-model series appear. Then: every ``nv_`` series the
server exports is in the catalog with its labels, and every name the catalog says was
seen is exported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from blueprint.monitoring.catalog import load_catalog
from tools.local import triton as triton_launcher

pytestmark = pytest.mark.slow

MODEL_PY = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse(
                [pb_utils.Tensor("OUT", pb_utils.get_input_tensor_by_name(r, "IN").as_numpy())]
            )
            for r in requests
        ]
"""

CONFIG = """
name: "{name}"
backend: "python"
max_batch_size: 8
input [ {{ name: "IN" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] }} ]
dynamic_batching {{ }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
{extra}
"""

SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[^}]*)\})? ", re.M)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name, extra in (("plain", ""), ("cached", "response_cache { enable: true }")):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "config.pbtxt").write_text(CONFIG.format(name=name, extra=extra))
        (repo / name / "1" / "model.py").write_text(MODEL_PY)
    return repo


def test_catalog_names_match_a_live_triton(tmp_path: Path) -> None:
    caches = triton_launcher.pytriton_home() / "caches"
    settings = triton_launcher.TritonSettings(
        repo=_repo(tmp_path),
        models=("plain", "cached"),
        work_dir=tmp_path / "triton",
        extra_args=(
            "--metrics-config=summary_latencies=true",
            f"--cache-directory={caches}",
            "--cache-config=local,size=1048576",
        ),
    )
    with triton_launcher.LocalTriton(settings) as triton:
        body = {
            "inputs": [{"name": "IN", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]
        }
        for model in ("plain", "cached", "cached"):
            r = requests.post(f"{triton.http_url}/v2/models/{model}/infer", json=body, timeout=30)
            assert r.status_code == 200, r.text
        text = triton.metrics()

    live: dict[str, set[str]] = {}
    for m in SERIES.finditer(text):
        labels = {kv.split("=", 1)[0] for kv in (m.group("labels") or "").split(",") if kv}
        live.setdefault(m.group("name"), set()).update(labels)
    catalog = load_catalog()
    triton_names = {n: m for n, m in catalog.metrics.items() if m.exporter == "triton"}

    unknown = sorted(n for n in live if n.startswith("nv_") and n not in triton_names)
    assert unknown == [], "exported by Triton but missing from monitoring/metrics/triton.yaml"
    for name, labels in live.items():
        if name in triton_names:
            assert labels <= triton_names[name].labels, (name, labels)
    missing = sorted(n for n, m in triton_names.items() if m.seen and n not in live)
    assert missing == [], "listed as seen in monitoring/metrics/triton.yaml, not exported"
    assert live["nv_inference_request_failure"] >= {"model", "version", "reason"}
