"""Which Triton image can serve which model config: image flavours and model needs.

An image's *flavour* is its tag after the release (``24.10-vllm-python-py3`` ->
``vllm-python-py3``); ``images.yaml`` beside this module says, with its sources,
which backends each flavour carries and which Python modules its Python backend can
import. A model config *needs* its backend and, for the Python backend, the modules
its ``python_modules`` parameter lists (declared once in the config, like
``latency_budget_ms``; the validator checks it covers the code's module-level
imports). The config rule ``blueprint/config/rules/images.py`` refuses a stack that
would send a model to an image lacking one of them, before anything is created: a
pod would otherwise crash-loop on ``ModuleNotFoundError`` after the node was paid for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from blueprint.modelrepo.repo import ConfigParseError, parameter, parse_config
from blueprint.paths import MODEL_REPO

IMAGES = Path(__file__).with_name("images.yaml")
PYTHON_MODULES = "python_modules"
"""Config parameter: comma-separated Python modules the model imports beyond the
standard library and its own folder (e.g. ``numpy,torch``)."""

_FLAVOUR_TAG = re.compile(r"^\d+\.\d+-(?P<flavour>[A-Za-z0-9._-]+)$")


@dataclass(frozen=True)
class Flavour:
    name: str
    backends: frozenset[str]
    python_modules: frozenset[str]


@dataclass(frozen=True)
class Needs:
    """What a model config needs from the image that serves it."""

    backend: str
    python_modules: tuple[str, ...]


@cache
def load_flavours(path: Path = IMAGES) -> dict[str, Flavour]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: Flavour(
            name=name,
            backends=frozenset(spec.get("backends") or ()),
            python_modules=frozenset(spec.get("pythonModules") or ()),
        )
        for name, spec in doc["flavours"].items()
    }


def flavour_of(image: str) -> str | None:
    """``registry/repo:24.10-py3[@sha256:...]`` -> ``py3``; None without a release tag."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    m = _FLAVOUR_TAG.match(tag)
    return m.group("flavour") if m else None


def declared_modules(raw: str | None) -> tuple[str, ...]:
    """The ``python_modules`` parameter as a sorted tuple of module names."""
    if not raw:
        return ()
    return tuple(sorted({m.strip() for m in raw.split(",") if m.strip()}))


@cache
def config_needs(repo_model: str, variant: str | None, repo: Path = MODEL_REPO) -> Needs | None:
    """What ``repo_model``'s config (or ``configs/<variant>.pbtxt``) needs; None when the
    file is missing or unparsable (the model validator reports those, with their line)."""
    folder = repo / repo_model
    path = folder / "config.pbtxt" if variant is None else folder / "configs" / f"{variant}.pbtxt"
    if not path.is_file():
        return None
    try:
        config = parse_config(path)
    except ConfigParseError:
        return None
    backend = config.backend or config.platform
    modules = declared_modules(parameter(config, PYTHON_MODULES)) if backend == "python" else ()
    return Needs(backend=backend, python_modules=modules)


def lacking(image: str, needs: Needs) -> list[str] | None:
    """What ``image`` lacks for ``needs`` (empty: nothing); None when its flavour is unknown."""
    flavour = load_flavours().get(flavour_of(image) or "")
    if flavour is None:
        return None
    out = []
    if needs.backend and needs.backend != "ensemble" and needs.backend not in flavour.backends:
        out.append(f"the {needs.backend} backend")
    out += [
        f"the Python module {m}" for m in needs.python_modules if m not in flavour.python_modules
    ]
    return out


def flavours_providing(needs: Needs) -> list[str]:
    """Flavours that would serve ``needs``, for the fix in an error message."""
    return sorted(
        f.name
        for f in load_flavours().values()
        if needs.backend in f.backends and set(needs.python_modules) <= f.python_modules
    )
