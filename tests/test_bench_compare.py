"""tools/bench/compare.py: a pull request's benchmark against its base's, on real result files.

The batching files are the recorded runs under benchmarks/ (what tools/bench/batching.py
writes); the LLM file is a real tools/bench/llm.py results.json (tests/bench_cases/).
Each variant changes a real figure of a real file, never the file's shape.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tools.bench import compare

RUNS = REPO / "benchmarks" / "cpu-2026-11-28"
SHIPPED = RUNS / "bench-batching" / "batching.json"
MAX_BATCH_8 = RUNS / "prompt_guard-max-batch-8" / "batching.json"
LLM = REPO / "tests" / "bench_cases" / "llm-results.json"


def read(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / ("batching.json" if "points" in doc else "results.json")
    path.write_text(json.dumps(doc))
    return path


def scale_throughput(doc: dict[str, Any], model: str, factor: float) -> dict[str, Any]:
    """The shipped arm of ``model`` at ``factor`` times its measured throughput."""
    out = copy.deepcopy(doc)
    for m in out["models"]:
        if m["model"] == model:
            m["shipped_peak_throughput"] *= factor
    for p in out["points"]:
        if p["model"] == model and p["arm"] == "shipped":
            p["throughput"] *= factor
    return out


def scale_p99(doc: dict[str, Any], model: str, factor: float) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for p in out["points"]:
        if p["model"] == model and p["arm"] == "shipped":
            p["p99_ms"] *= factor
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------
# make bench-batching


def test_the_same_run_twice_is_no_regression(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, SHIPPED, SHIPPED)
    assert status == 0
    assert "No regression beyond the tolerance" in out
    for model in ("prompt_guard", "text_embedding"):
        assert f"| {model} | peak throughput (infer/s) |" in out
    # text_embedding peaked at concurrency 4 (93.3/s): its p99 is judged there.
    assert "| text_embedding | p99 at concurrency 4 (ms) | 47.2 | 47.2 | +0.0 % | ok |" in out


def test_a_throughput_drop_beyond_the_tolerance_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = write(tmp_path, "pr", scale_throughput(read(SHIPPED), "text_embedding", 0.85))
    status, out, _ = run(capsys, SHIPPED, pr)
    assert status == compare.EXIT_REGRESSION
    assert (
        "| text_embedding | peak throughput (infer/s) | 93.3 | 79.3 | -15.0 % | "
        "**regression** (limit 10 %) |" in out
    )
    assert "| prompt_guard | peak throughput (infer/s) | 99.1 | 99.1 | +0.0 % | ok |" in out
    # The tolerance is a flag.
    assert run(capsys, SHIPPED, pr, "--max-throughput-drop", "20")[0] == 0


def test_a_drop_within_the_tolerance_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = write(tmp_path, "pr", scale_throughput(read(SHIPPED), "text_embedding", 0.92))
    status, out, _ = run(capsys, SHIPPED, pr)
    assert status == 0
    assert "-8.0 % | ok |" in out


def test_a_p99_rise_at_the_operating_point_fails_beyond_15_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worse = write(tmp_path, "worse", scale_p99(read(SHIPPED), "prompt_guard", 1.2))
    status, out, _ = run(capsys, SHIPPED, worse)
    assert status == compare.EXIT_REGRESSION
    assert "| prompt_guard | p99 at concurrency 16 (ms) | 176.1 | 211.3 | +20.0 % |" in out
    slightly = write(tmp_path, "slightly", scale_p99(read(SHIPPED), "prompt_guard", 1.12))
    assert run(capsys, SHIPPED, slightly)[0] == 0
    assert run(capsys, SHIPPED, worse, "--max-latency-rise", "25")[0] == 0


def test_the_recorded_alternative_that_was_not_shipped_is_a_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """benchmarks/README.md: prompt_guard with max batch 8 was measured and not shipped."""
    status, out, _ = run(capsys, SHIPPED, MAX_BATCH_8)
    assert status == compare.EXIT_REGRESSION
    assert "| prompt_guard | p99 at concurrency 16 (ms) | 176.1 | 226.8 | +28.8 % |" in out
    # That run measured prompt_guard only: text_embedding is listed, not judged.
    assert "`text_embedding` is measured on the base only: listed, not judged." in out
    assert "| text_embedding | peak throughput (infer/s) | 93.3 | - | - | not judged |" in out


def test_every_level_is_in_the_folded_table(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, SHIPPED, MAX_BATCH_8)
    assert "<details><summary>Every concurrency level</summary>" in out
    assert "| prompt_guard | 8 | 96.0 | 84.8 | -11.6 % | 109.0 | 153.5 | +40.8 % |" in out


# ---------------------------------------------------------------------------
# make bench-llm


def scale_level(doc: dict[str, Any], run_name: str, key: str, factor: float) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    (level,) = [lv for lv in out["levels"] if lv["run"] == run_name]
    level[key] *= factor
    return out


def test_an_llm_run_against_itself_passes_at_the_best_level_within_the_slo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, LLM, LLM)
    assert status == 0
    assert read(LLM)["best_concurrency_within_slo"] == 4
    assert "Judged at concurrency 4: the base's best concurrency within the SLO." in out
    assert "| chat_llm (cpu) | output tokens/s at concurrency 4 (tok/s) | 49.3 | 49.3 |" in out
    assert "| chat_llm (cpu) | TTFT p99 at concurrency 4 (ms) | 992.0 | 992.0 |" in out
    assert "| chat_llm (cpu) | ITL p99 at concurrency 4 (ms) | 78.0 | 78.0 |" in out


@pytest.mark.parametrize(
    ("key", "factor", "figure"),
    [
        ("output_tok_s", 0.8, "output tokens/s at concurrency 4"),
        ("ttft_p99_ms", 1.3, "TTFT p99 at concurrency 4"),
        ("itl_p99_ms", 1.2, "ITL p99 at concurrency 4"),
    ],
)
def test_an_llm_regression_at_the_operating_point_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, factor: float, figure: str
) -> None:
    pr = write(tmp_path, "pr", scale_level(read(LLM), "sweep-c4", key, factor))
    status, out, _ = run(capsys, LLM, pr)
    assert status == compare.EXIT_REGRESSION
    (line,) = [line for line in out.splitlines() if figure in line]
    assert "**regression**" in line


def test_a_slower_level_away_from_the_operating_point_is_shown_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = write(tmp_path, "pr", scale_level(read(LLM), "sweep-c16", "ttft_p99_ms", 2.0))
    status, out, _ = run(capsys, LLM, pr)
    assert status == 0
    assert "| chat_llm (cpu) | 16 |" in out
    assert "+100.0 %" in out


def test_without_a_level_in_the_slo_the_highest_common_level_is_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = read(LLM)
    doc["best_concurrency_within_slo"] = None
    base = write(tmp_path, "base", doc)
    status, out, _ = run(capsys, base, base)
    assert status == 0
    assert "Judged at concurrency 16: the highest concurrency both swept" in out


def test_the_prefix_cache_and_one_sequence_arms_are_not_part_of_the_sweep() -> None:
    llm_run = compare.LlmRun.read(LLM, read(LLM))
    assert sorted(llm_run.sweep) == [1, 2, 4, 8, 16]


# ---------------------------------------------------------------------------
# Output and bad input


def test_the_table_goes_to_the_comment_file_and_the_job_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    comment = tmp_path / "comment.md"
    comment.write_text("<!-- model-repo-bench -->\n")
    run(capsys, SHIPPED, SHIPPED, "--markdown", comment)
    run(capsys, LLM, LLM, "--markdown", comment)
    text = comment.read_text()
    assert text.startswith("<!-- model-repo-bench -->\n")  # appended, not overwritten
    assert "Dynamic batching" in text
    assert "LLM serving" in text
    assert summary.read_text().count("pull request against base") == 2


def bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t / "absent.json", "absent.json: no such file"),
        (lambda t: bad(t, "broken.json", '{"models": ['), "broken.json: not JSON (line 1"),
        (lambda t: bad(t, "list.json", "[]"), "list.json: expected a JSON object (got list)"),
        (
            lambda t: bad(t, "other.json", '{"stack": "dev"}'),
            "other.json: not a benchmark result: expected the keys 'models' and 'points'",
        ),
        (lambda t: t, "expected exactly one of batching.json or results.json in the folder"),
    ],
)
def test_a_bad_file_is_named_with_exit_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    status, _, err = run(capsys, SHIPPED, make(tmp_path))
    assert status == compare.EXIT_BAD_INPUT
    assert message in err
    assert "Traceback" not in err


def test_a_missing_key_is_named_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = read(SHIPPED)
    i = next(i for i, p in enumerate(doc["points"]) if p["arm"] == "shipped")
    del doc["points"][i]["p99_ms"]
    status, _, err = run(capsys, SHIPPED, write(tmp_path, "pr", doc))
    assert status == compare.EXIT_BAD_INPUT
    assert f"batching.json: points[{i}]: missing key 'p99_ms'" in err
    doc = read(LLM)
    doc["levels"][0]["itl_p99_ms"] = "fast"
    status, _, err = run(capsys, LLM, write(tmp_path, "llm", doc))
    assert "results.json: levels[0].itl_p99_ms: expected a number (got 'fast')" in err


def test_two_different_benchmarks_are_not_compared(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, SHIPPED, LLM)
    assert status == compare.EXIT_BAD_INPUT
    assert "compare two runs of the same benchmark" in err


@pytest.mark.parametrize("value", ["ten", "-5", "1e9"])
def test_a_bad_tolerance_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exc:
        compare.main([str(SHIPPED), str(SHIPPED), "--max-throughput-drop", value])
    assert exc.value.code == 2
    assert "--max-throughput-drop" in capsys.readouterr().err
