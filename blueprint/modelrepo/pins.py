"""What a stack serves, by content: each repo model's version folders and a digest.

The core exports these pins (``modelPins``); the edge computes its own and refuses
to deploy when a model both serve differs, so both regions answer with the same
model versions and their metrics (labelled by model and version) stay comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from hashlib import sha256
from pathlib import Path
from typing import Any

from blueprint.modelrepo.llm import MANIFEST
from blueprint.modelrepo.snapshot import snapshot
from blueprint.paths import MODEL_REPO


def model_pin(repo_model: str, repo: Path = MODEL_REPO) -> dict[str, Any]:
    """``{"versions": [...], "digest": "sha256:..."}`` of one model folder.

    The digest is the model's snapshot digest (:func:`blueprint.modelrepo.snapshot.snapshot`):
    every file the model store publishes, its weights included by their pinned hash, so
    it changes exactly when what a server loads does. An LLM (``llm.yaml``, served by
    vLLM) pins to its manifest's digest; a model missing from the repository to no
    versions and no digest.
    """
    root = repo / repo_model
    if not (root / "config.pbtxt").is_file():
        manifest = root / MANIFEST
        if manifest.is_file():
            # An LLM served by vLLM: its manifest pins engine, weights revision and
            # variants, so it is what both regions must share.
            return {"versions": [], "digest": f"sha256:{sha256(manifest.read_bytes()).hexdigest()}"}
        # Nothing to pin; no null either (outputs lose nulls on the way through state).
        return {"versions": []}
    versions = sorted((p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
    return {"versions": versions, "digest": f"sha256:{snapshot([repo_model], repo).digest}"}


def model_pins(repo_models: Iterable[str], repo: Path = MODEL_REPO) -> dict[str, dict[str, Any]]:
    return {m: model_pin(m, repo) for m in sorted(set(repo_models))}


def misaligned(
    edge: Mapping[str, Mapping[str, Any]], core: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Why the edge's pins differ from the core's, one line per model; empty when aligned.

    Every model the edge serves must be served by the core too (delegation and
    failover send the same requests there) with the same versions and digest.
    """
    problems = []
    for model, pin in sorted(edge.items()):
        theirs = core.get(model)
        if theirs is None:
            problems.append(
                f"{model}: served at the edge but not by the core; deploy it on the core first"
            )
        elif _key(pin) != _key(theirs):
            problems.append(
                f"{model}: edge serves versions {list(pin.get('versions', []))} "
                f"({pin.get('digest')}), the core {list(theirs.get('versions', []))} "
                f"({theirs.get('digest')}); deploy the core and the edge from the same commit"
            )
    return problems


def _key(pin: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    # Outputs drop null values on the way through the state backend: compare fields.
    return tuple(str(v) for v in pin.get("versions") or ()), pin.get("digest")
