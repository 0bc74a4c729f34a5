"""Rules about what a stack serves from the model repository: models and variants exist.

A deployment names folders under ``model_repo/`` and, optionally, a variant: a
Triton config variant (``configs/<variant>.pbtxt``) or an LLM variant (``variants``
of ``llm.yaml``). A serverless endpoint names one Triton model folder. A typo (``l40``
for ``l40s``) is refused here with the names there are, before the monitoring,
serving and cost sections would each read a file that is not there. An LLM is
served alone: one vLLM server per deployment.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.modelrepo.llm import LlmManifestError, is_llm, llm_names, load_llm
from blueprint.modelrepo.repo import model_names, variants
from blueprint.schema import StackConfig


def _hint(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f"did you mean {close[0]}? " if close else ""


def _variants(model: str) -> list[str] | None:
    """The variants a model offers; None when its manifest is broken (the model checker
    reports it with its line)."""
    if not is_llm(model):
        return variants(model)
    try:
        return sorted(load_llm(model).variants)
    except LlmManifestError:
        return None


@rule
def served_models_exist(cfg: StackConfig) -> Iterator[ConfigIssue]:
    known = sorted({*model_names(), *llm_names()})
    listed = ", ".join(known) or "none"
    for name, dep in cfg.models.items():
        llms = [m for m in dep.repo_models if m in known and is_llm(m)]
        if llms and len(dep.repo_models) > 1:
            yield ConfigIssue(
                ("models", name, "repoModels"),
                f"{llms[0]} is an LLM (llm.yaml), served by its own vLLM server: a deployment "
                "serves one LLM alone; put the other models in another deployment",
                list(dep.repo_models),
            )
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
            have = _variants(model)
            if have is None or dep.variant in have:
                continue
            where = "llm.yaml variants" if is_llm(model) else f"configs/{dep.variant}.pbtxt"
            yield ConfigIssue(
                ("models", name, "variant"),
                f"model_repo/{model} has no variant {dep.variant} ({where}); "
                f"{_hint(dep.variant, have)}"
                f"its variants: {', '.join(have) or 'none (leave variant out)'}",
                dep.variant,
            )
    for name, ep in cfg.serverless.items():
        if is_llm(ep.repo_model):
            yield ConfigIssue(
                ("serverless", name, "repoModel"),
                "is an LLM (llm.yaml), served by vLLM on a GPU or CPU pool; serverless "
                "endpoints serve Triton models",
                ep.repo_model,
            )
        elif ep.repo_model not in known:
            yield ConfigIssue(
                ("serverless", name, "repoModel"),
                f"no such model in model_repo/ (a folder with config.pbtxt); "
                f"{_hint(ep.repo_model, known)}models: {listed}",
                ep.repo_model,
            )
