"""Rules about serving images: every model a stack serves can run in its image.

A Triton image carries some backends, and its Python backend can import some
modules (``blueprint/modelrepo/images.yaml``, with sources); a model config needs
its backend and the modules its ``python_modules`` parameter lists. The stock
``-py3`` image, for one, has numpy but no torch Python package, so a KIND_GPU model
that runs PyTorch from the Python backend would crash-loop there on
``ModuleNotFoundError`` after the GPU node was paid for. Refused here, before
anything is created, for model deployments and serverless endpoints alike.
"""

from __future__ import annotations

from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.modelrepo.images import (
    config_needs,
    flavour_of,
    flavours_providing,
    lacking,
    load_flavours,
)
from blueprint.schema import StackConfig


def _check(
    path: tuple[str, ...], image: str, served: list[tuple[str, str | None]], default: str
) -> Iterator[ConfigIssue]:
    """Issues for ``image`` serving ``(model, variant)`` pairs; ``default`` names where
    the image came from when the deployment does not set one."""
    where = f"{default}; " if default else ""
    for model, variant in served:
        needs = config_needs(model, variant)
        if needs is None:
            continue  # missing variant or broken config: the model validator says which
        missing = lacking(image, needs)
        config = f"{model}/configs/{variant}.pbtxt" if variant else f"{model}/config.pbtxt"
        if missing is None:
            known = ", ".join(sorted(load_flavours()))
            yield ConfigIssue(
                path,
                f"the image{f' ({default})' if default else ''} has no known Triton flavour "
                f"in its tag ('<release>-<flavour>', flavour one of {known}), so whether it "
                f"can serve {config} cannot be checked; use such a tag (a mirror keeps NGC's), "
                "or add your image's flavour to blueprint/modelrepo/images.yaml with what it "
                "contains",
                image,
            )
            return
        if missing:
            fits = flavours_providing(needs)
            yield ConfigIssue(
                path,
                f"model_repo/{config} needs {' and '.join(missing)}, which the image "
                f"({where}flavour {flavour_of(image)}) does not have; set {_key(path)} to an "
                "image of flavour "
                + (" or ".join(fits) if fits else "(none known: build one, add it to images.yaml)"),
                image,
            )


def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


@rule
def images_serve_their_models(cfg: StackConfig) -> Iterator[ConfigIssue]:
    default = cfg.serving.triton_image if cfg.serving else None
    for name, d in cfg.models.items():
        image = d.image or default
        if image is None:
            continue  # no serving section: nothing deploys Triton
        served = [(m, d.variant) for m in d.repo_models]
        origin = "" if d.image else "the default serving.tritonImage"
        yield from _check(("models", name, "image"), image, served, origin)
    for name, ep in cfg.serverless.items():
        yield from _check(("serverless", name, "image"), ep.image, [(ep.repo_model, None)], "")
