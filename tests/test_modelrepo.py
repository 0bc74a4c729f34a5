"""The model repository validator: the committed repo is clean, and each broken
config under model_cases/ is refused with exactly the errors listed next to it.

A case copies the models it names from model_repo/ into a temporary repository,
applies its edits (``edit``: file -> [[old, new]], each ``old`` must occur) and
renames, and validates it, against the deployment ``target`` it gives if any.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import StackConfig
from blueprint.modelrepo.llm import is_llm, load_llm
from blueprint.modelrepo.repo import latency_budgets, model_names, parse_config
from tests.conftest import REPO
from tools.modelcheck.validate import Target, iter_lines, validate

CASES = sorted((Path(__file__).parent / "model_cases").glob("*.yaml"))


def build_case(case: dict[str, Any], root: Path) -> Path:
    repo = root / "model_repo"
    repo.mkdir(parents=True)
    for model in case["models"]:
        shutil.copytree(REPO / "model_repo" / model, repo / model)
    for rel, edits in (case.get("edit") or {}).items():
        path = repo / rel
        text = path.read_text()
        for old, new in edits:
            assert old in text, f"{rel}: {old!r} not found; update the case"
            text = text.replace(old, new, 1)
        path.write_text(text)
    for old, new in (case.get("rename") or {}).items():
        (repo / old).rename(repo / new)
    return repo


def case_target(case: dict[str, Any], root: Path) -> list[Target]:
    spec = case.get("target")
    if not spec:
        return []
    fields = {**spec, "models": tuple(spec["models"])}
    return [Target(source=root / "Pulumi.case.yaml", line=7, **fields)]


def case_errors(case: dict[str, Any], root: Path) -> list[str]:
    repo = build_case(case, root)
    return list(iter_lines(validate(repo, case_target(case, root)), root=root))


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_broken_config_is_refused_with_its_exact_errors(case_file: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    got = case_errors(case, tmp_path)
    assert "errors" in case, f"{case_file.name}: add the expected errors:\n" + yaml.safe_dump(
        {"errors": got}, width=1000, allow_unicode=True
    )
    assert got == case["errors"]
    for line in got:  # every error names the file and a fix
        assert line.startswith("model_repo/") or line.startswith("Pulumi.case.yaml")
        assert "(got " in line
        assert "; fix: " in line


def test_committed_repository_and_stacks_are_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.modelcheck"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "deployments checked against their pools" in proc.stdout


def test_check_models_exits_2_without_traceback(tmp_path: Path) -> None:
    case = yaml.safe_load((Path(__file__).parent / "model_cases" / "parse-error.yaml").read_text())
    repo = build_case(case, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "tools.modelcheck", "--repo", str(repo), "--no-stacks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "config.pbtxt:6: config: Triton's ModelConfig schema refuses it" in proc.stderr


def test_every_model_declares_its_latency_budget_once() -> None:
    budgets = latency_budgets()
    assert set(budgets) == {"prompt_guard", "text_embedding"}
    assert all(b is not None and b > 0 for b in budgets.values())
    # The LLM declares per-variant TTFT and ITL budgets in its manifest instead.
    for variant in load_llm("chat_llm").variants.values():
        assert variant.slo.ttft_p99_ms > 0
        assert variant.slo.itl_p99_ms > 0


def test_variants_are_whole_configs_of_the_same_model() -> None:
    for model in model_names():
        for variant in (REPO / "model_repo" / model / "configs").glob("*.pbtxt"):
            cfg = parse_config(variant)
            assert cfg.name == model, variant
            assert cfg.parameters["latency_budget_ms"].string_value, variant


def test_stack_variants_exist(configs: dict[str, StackConfig]) -> None:
    """Every variant a committed stack serves exists: a Triton config or an LLM variant."""
    for stack, cfg in configs.items():
        for name, dep in cfg.models.items():
            for model in dep.repo_models:
                if dep.variant is None:
                    continue
                if is_llm(model):
                    assert dep.variant in load_llm(model).variants, (stack, name)
                else:
                    assert (
                        REPO / "model_repo" / model / "configs" / f"{dep.variant}.pbtxt"
                    ).is_file()


def test_guard_head_matches_its_training_examples() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.guard.train", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
