"""Each fact the blueprint relies on is written once; everything else imports it.

These checks read the source of the program, the policy pack and the tools (not the
tests) and fail when a fact is spelled out again: a label key, a health path, a
repository path, a CMEK key ring, a taint-effect table, or a function that decides
placement, GPU need or the budget split a second time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("blueprint", "components", "composition", "policies", "tools", "stacks")


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        # A virtualenv inside a package is not the project's code (`make policy-venv`
        # puts the policy pack's own in policies/venv).
        venvs = [cfg.parent for cfg in (REPO / package).glob("*/pyvenv.cfg")]
        for path in sorted((REPO / package).rglob("*.py")):
            if any(path.is_relative_to(venv) for venv in venvs):
                continue
            yield path.relative_to(REPO), ast.parse(path.read_text(encoding="utf-8"))


def string_constants(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """String literals that are code, not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


# Each fact, the one module allowed to spell it, and how to recognise a re-spelling.
LITERALS = {
    "the blueprint's Kubernetes label keys": (
        "blueprint/tags.py",
        lambda s: s.startswith("llm-inference/"),
    ),
    "NVIDIA's extended resources": ("blueprint/capacity.py", lambda s: s.startswith("nvidia.com/")),
    "Triton's health endpoints": ("blueprint/triton.py", lambda s: "/v2/health/" in s),
    "well-known node labels": (
        "blueprint/capacity.py",
        lambda s: (
            s
            in {
                "node.kubernetes.io/instance-type",
                "topology.kubernetes.io/zone",
                "kubernetes.io/hostname",
                "karpenter.sh/capacity-type",
                "cloud.google.com/gke-accelerator",
                "cloud.google.com/gke-gpu-partition-size",
                "cloud.google.com/compute-class",
            }
        ),
    ),
    "the node-pool taint effects": ("blueprint/capacity.py", lambda s: s == "PREFER_NO_SCHEDULE"),
    "the Cloud KMS encrypter role": (
        "components/gcp/kms.py",
        lambda s: s == "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    ),
}


@pytest.mark.parametrize("fact", sorted(LITERALS))
def test_a_fact_is_spelled_in_one_module(fact: str) -> None:
    home, looks_like = LITERALS[fact]
    found = [
        f"{path}:{line}: {value!r}"
        for path, tree in sources()
        if str(path) != home
        for line, value in string_constants(tree)
        if looks_like(value)
    ]
    assert not found, f"{fact} belong in {home}; spelled again at:\n" + "\n".join(found)


# Names that may be defined (assigned or def'd) in one module only.
DEFINITIONS = {
    "REPO_ROOT": "blueprint/paths.py",
    "MODEL_REPO": "blueprint/paths.py",
    "STACK_DIR": "blueprint/paths.py",
    "MONITORING_DIR": "blueprint/paths.py",
    "RUNBOOKS_DIR": "blueprint/paths.py",
    "placements": "blueprint/placement.py",
    "gpu_reason": "blueprint/modelrepo/repo.py",
    "split_budget": "blueprint/cost/budget.py",
    "snapshot": "blueprint/modelrepo/snapshot.py",
    "cmek_key": "components/gcp/kms.py",
}


def definitions(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Module-level functions, classes and constants (not methods or dataclass fields)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            yield node.lineno, node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield node.lineno, target.id


def test_shared_names_are_defined_once() -> None:
    found: dict[str, list[str]] = {}
    for path, tree in sources():
        for line, name in definitions(tree):
            if name in DEFINITIONS:
                found.setdefault(name, []).append(f"{path}:{line}")
    for name, home in DEFINITIONS.items():
        places = found.get(name, [])
        assert {p.split(":")[0] for p in places} == {home}, f"{name}: defined at {places}"


def test_repository_paths_are_computed_only_in_the_paths_module() -> None:
    """``Path(__file__).parents[...]`` is how a second REPO_ROOT starts."""
    found = [
        f"{path}:{node.lineno}"
        for path, tree in sources()
        if str(path) != "blueprint/paths.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "parents"
        and isinstance(node.value, ast.Call)
        and "__file__" in ast.unparse(node.value)
    ]
    assert not found, "compute repository paths in blueprint/paths.py:\n" + "\n".join(found)


def test_no_project_module_is_imported_dynamically() -> None:
    """A cycle hid behind importlib once; the project's own imports are all static now
    (the policy pack still looks provider SDK classes up by resource type)."""
    found = [
        f"{path}:{node.lineno}"
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and "import_module" in ast.unparse(node.func)
        and any(name in ast.unparse(arg) for arg in node.args for name in (*PACKAGES, "__name__"))
    ]
    assert not found, "\n".join(found)
