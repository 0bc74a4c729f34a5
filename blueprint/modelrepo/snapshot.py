"""A content-addressed snapshot of ``model_repo/``: what the model stores upload.

Every file Triton needs (configs, variants, version folders) is listed with its
SHA-256; the snapshot's digest is the SHA-256 of that sorted list. Object keys are
``<prefix>/<digest[:16]>/<model>/<path>``, so the keys change exactly when a
file's content changes (never on a plan that changes nothing) and Triton is
pointed at one immutable repository root per snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from blueprint.modelrepo.repo import MODEL_REPO

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class SnapshotFile:
    key: str
    """Path inside the repository, e.g. ``text_embedding/1/model.py``."""
    path: str
    """Absolute path on disk."""
    sha256: str
    size: int


@dataclass(frozen=True)
class RepositorySnapshot:
    digest: str
    files: tuple[SnapshotFile, ...]

    @property
    def short(self) -> str:
        return self.digest[:16]

    def root(self, prefix: str) -> str:
        """The repository root (object key prefix) of this snapshot."""
        return f"{prefix.strip('/')}/{self.short}"

    def object_key(self, prefix: str, file: SnapshotFile) -> str:
        return f"{self.root(prefix)}/{file.key}"


def snapshot(models: Iterable[str], repo: Path = MODEL_REPO) -> RepositorySnapshot:
    """Snapshot of the named models' folders (sorted, deterministic)."""
    files = []
    for model in sorted(set(models)):
        folder = repo / model
        if not (folder / "config.pbtxt").is_file():
            raise FileNotFoundError(f"{folder}: not a model folder (no config.pbtxt)")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(repo)
            if not path.is_file() or path.suffix in _SKIP_SUFFIXES:
                continue
            if _SKIP_DIRS.intersection(rel.parts):
                continue
            data = path.read_bytes()
            files.append(
                SnapshotFile(
                    key=rel.as_posix(),
                    path=str(path.resolve()),
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                )
            )
    manifest = "".join(f"{f.sha256}  {f.key}\n" for f in files)
    return RepositorySnapshot(
        digest=hashlib.sha256(manifest.encode()).hexdigest(), files=tuple(files)
    )
