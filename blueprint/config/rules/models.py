"""Rules about what a stack serves from the model repository: models and variants exist.

A deployment names folders under ``model_repo/`` and, optionally, a config variant
(``configs/<variant>.pbtxt``); a serverless endpoint names one folder. A typo
(``l40`` for ``l40s``) is refused here with the names there are, before the
monitoring, serving and cost sections would each read a file that is not there.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.modelrepo.repo import model_names, variants
from blueprint.schema import StackConfig


def _hint(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f"did you mean {close[0]}? " if close else ""


@rule
def served_models_exist(cfg: StackConfig) -> Iterator[ConfigIssue]:
    known = model_names()
    listed = ", ".join(known) or "none"
    for name, dep in cfg.models.items():
        present = []
        for i, model in enumerate(dep.repo_models):
            if model in known:
                present.append(model)
                continue
            yield ConfigIssue(
                ("models", name, "repoModels", i),
                f"no such model in model_repo/ (a folder with config.pbtxt); "
                f"{_hint(model, known)}models: {listed}",
                model,
            )
        if dep.variant is None:
            continue
        for model in present:
            have = variants(model)
            if dep.variant not in have:
                yield ConfigIssue(
                    ("models", name, "variant"),
                    f"model_repo/{model} has no variant {dep.variant} "
                    f"(configs/{dep.variant}.pbtxt); {_hint(dep.variant, have)}"
                    f"its variants: {', '.join(have) or 'none (leave variant out)'}",
                    dep.variant,
                )
    for name, ep in cfg.serverless.items():
        if ep.repo_model not in known:
            yield ConfigIssue(
                ("serverless", name, "repoModel"),
                f"no such model in model_repo/ (a folder with config.pbtxt); "
                f"{_hint(ep.repo_model, known)}models: {listed}",
                ep.repo_model,
            )
