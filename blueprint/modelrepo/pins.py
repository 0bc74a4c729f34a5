"""What a stack serves, by content: each repo model's version folders and a digest.

The core exports these pins (``modelPins``); the edge computes its own and refuses
to deploy when a model both serve differs, so both regions answer with the same
model versions and their metrics (labelled by model and version) stay comparable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from blueprint.paths import MODEL_REPO

_SKIP = {"__pycache__"}


def model_pin(repo_model: str, repo: Path = MODEL_REPO) -> dict[str, Any]:
    """``{"versions": [...], "digest": "sha256:..."}`` of one model folder.

    The digest covers every file's relative path and bytes (caches excluded), in
    sorted order, so it changes exactly when the model's content does. A model
    missing from the repository pins to no versions and no digest.
    """
    root = repo / repo_model
    if not root.is_dir():
        return {"versions": [], "digest": None}
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not _SKIP & set(p.relative_to(root).parts) and p.suffix != ".pyc"
    )
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    versions = sorted((p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
    return {"versions": versions, "digest": f"sha256:{h.hexdigest()}"}


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
