"""Shared fixtures: the committed stacks' configs and plans, recorded once per session, and
the real vLLM server, started once per session when a test first asks for it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import StackConfig, load_stack_file, stack_file
from blueprint.config.loader import STACK_DIR
from tools.llm.server import LocalVllm, VllmSettings
from tools.preview.recorder import Plan
from tools.preview.run import preview_stacks

REPO = Path(__file__).resolve().parents[1]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACK_DIR.glob("Pulumi.*.yaml"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests that need a real GPU node")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The slow tests start real servers (Triton, vLLM, Prometheus, Alertmanager, the demo).
    # Under `pytest -n 2 --dist loadgroup` (make test) they share one worker and run one
    # after another, so two heavy servers never run at once and the session's one vLLM
    # (shared_llm) serves them all; the other worker takes the rest.
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(pytest.mark.xdist_group("servers"))
    if config.getoption("--run-gpu"):
        return
    skip = pytest.mark.skip(reason="needs a real GPU node; run with --run-gpu")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def configs() -> dict[str, StackConfig]:
    return {s: load_stack_file(stack_file(s)) for s in STACKS}


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """Every committed stack previewed once (the same path as ``make preview``)."""
    results = preview_stacks(STACKS)
    out = {}
    for result in results:
        assert result.plan is not None, str(result.error)
        out[result.stack] = result.plan
    return out


def stack_document(stack: str) -> dict[str, Any]:
    """A committed stack file as data, for tests that change one key of it."""
    return copy.deepcopy(yaml.safe_load(stack_file(stack).read_text()))


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``section.key.key`` (section without namespace) in a stack document."""
    section, *rest = dotted.split(".")
    node = doc["config"].setdefault(f"llm-inference:{section}", {})
    if not rest:
        doc["config"][f"llm-inference:{section}"] = value
        return
    for part in rest[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(rest[-1])] = value
    else:
        node[rest[-1]] = value


def unset_path(doc: dict[str, Any], dotted: str) -> None:
    section, *rest = dotted.split(".")
    if not rest:
        del doc["config"][f"llm-inference:{section}"]
        return
    node = doc["config"][f"llm-inference:{section}"]
    for part in rest[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[rest[-1]]


class SharedLlm:
    """The session's one vLLM server (about 4 GB, 35-60 s to start): started by the first
    test that asks for it, kept for the others, stopped at the end of the session.

    Only one vLLM runs at a time on a small machine: a test that starts its own (the
    demo's end-to-end run) asks for :func:`no_shared_llm` first. The fault drill kills
    this server and restarts it on the same port; a test that finds it dead gets it
    restarted.
    """

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.server: LocalVllm | None = None
        self.starts: list[float] = []
        """Seconds to /health 200 of every start (printed at the end)."""

    def get(self) -> LocalVllm:
        if self.server is None:
            self.server = LocalVllm(VllmSettings(work_dir=self.work_dir))
        if not self.server.running():
            self.server.start()
            try:
                self.starts.append(self.server.wait_ready())
            except BaseException:
                self.server.stop()
                raise
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def shared_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLlm]:
    shared = SharedLlm(tmp_path_factory.mktemp("vllm"))
    yield shared
    shared.stop()
    if shared.starts:
        print(f"\nvLLM session server: starts to /health 200 {[round(s) for s in shared.starts]} s")


@pytest.fixture
def llm(shared_llm: SharedLlm) -> LocalVllm:
    """The real vLLM serving chat_llm's default variant (the session's one server)."""
    return shared_llm.get()


@pytest.fixture
def no_shared_llm(shared_llm: SharedLlm) -> None:
    """Stop the session's vLLM (if it runs) before a test that starts its own."""
    shared_llm.stop()
