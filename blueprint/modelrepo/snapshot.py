"""A content-addressed snapshot of ``model_repo/``: what the model stores upload.

Every file Triton needs (configs, variants, version folders) is listed with its
SHA-256; the snapshot's digest is the SHA-256 of that sorted list. Object keys are
``<prefix>/<digest[:16]>/<model>/<path>``, so the keys change exactly when a
file's content changes (never on a plan that changes nothing) and Triton is
pointed at one immutable repository root per snapshot.

The weights a version opens travel with it: the files its ``weights.json`` lists
(blueprint/modelrepo/weights.py) are part of the snapshot at
``<model>/<version>/<key>``, hashed by their pin, so a deployment's model folder in
the bucket holds every file its model reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from blueprint.modelrepo.weights import STAGE_DIR, external_files, stage
from blueprint.paths import MODEL_REPO

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class SnapshotFile:
    key: str
    """Path inside the repository, e.g. ``text_embedding/1/model.py``."""
    path: str
    """Absolute path on disk (weights: their staged, content-addressed copy)."""
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


def snapshot(
    models: Iterable[str], repo: Path = MODEL_REPO, stage_dir: Path = STAGE_DIR
) -> RepositorySnapshot:
    """Snapshot of the named models' folders and their weights (sorted, deterministic).

    Raises :class:`blueprint.modelrepo.weights.WeightsError` when a version's weights
    are not installed as pinned.
    """
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
        for version in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
            for ext in external_files(version):
                files.append(
                    SnapshotFile(
                        key=f"{model}/{version.name}/{ext.key}",
                        path=str(stage(ext, stage_dir)),
                        sha256=ext.sha256,
                        size=ext.size,
                    )
                )
    files.sort(key=lambda f: f.key)
    manifest = "".join(f"{f.sha256}  {f.key}\n" for f in files)
    return RepositorySnapshot(
        digest=hashlib.sha256(manifest.encode()).hexdigest(), files=tuple(files)
    )


def build_tarball(models: Iterable[str], dest_dir: Path, repo: Path = MODEL_REPO) -> Path:
    """A reproducible ``model.tar.gz`` of the models' folders (a repository root).

    SageMaker's Triton container takes the model repository as one tarball. Entries
    are sorted, owned by 0:0, dated 0, and gzip carries no timestamp, so the same
    content gives the same bytes; the file is named by the snapshot's digest.
    """
    import gzip  # noqa: PLC0415 (only the SageMaker artifact needs these)
    import io  # noqa: PLC0415
    import tarfile  # noqa: PLC0415

    snap = snapshot(models, repo)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"model-{snap.short}.tar.gz"
    if target.is_file():
        return target
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in snap.files:
            data = Path(f.path).read_bytes()
            info = tarfile.TarInfo(f.key)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    tmp.replace(target)
    return target


def artifact_key(repo_model: str, digest: str | None, kind: str) -> str:
    """Where the model store publishes a model for a managed endpoint of ``kind``.

    ``<kind>/<model>/<content digest[:16]>``: a new model version is a new location,
    so an endpoint that names it is replaced exactly when the model changes. The
    store (which uploads) and the endpoint (which reads) both take the key from here.
    """
    short = (digest or "sha256:unpublished").split(":", 1)[1][:16]
    return f"{kind}/{repo_model}/{short}"
