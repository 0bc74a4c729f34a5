"""Where the LLM tier's build outputs live; every path can be moved by an environment variable.

=====================  ==========================  =================================
variable               default                     what
=====================  ==========================  =================================
``LLM_VENV``           ``build/llm/venv``          vLLM (requirements-llm.txt)
``LLM_AIPERF_VENV``    ``build/llm/aiperf-venv``   aiperf (requirements-aiperf.txt)
``LLM_WEIGHTS_DIR``    ``build/llm/weights``       converted model folders
``LLM_CACHE_DIR``      ``build/llm/cache``         vLLM's and inductor's compile cache
=====================  ==========================  =================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from blueprint.paths import BUILD_DIR

LLM_BUILD = BUILD_DIR / "llm"


def _env_path(var: str, default: Path) -> Path:
    return Path(os.environ.get(var) or default)


class MissingVenv(RuntimeError):
    """A venv the LLM tier needs is not built; the message says which make target builds it."""


@dataclass(frozen=True)
class LlmPaths:
    venv: Path = field(default_factory=lambda: _env_path("LLM_VENV", LLM_BUILD / "venv"))
    aiperf_venv: Path = field(
        default_factory=lambda: _env_path("LLM_AIPERF_VENV", LLM_BUILD / "aiperf-venv")
    )
    weights_dir: Path = field(
        default_factory=lambda: _env_path("LLM_WEIGHTS_DIR", LLM_BUILD / "weights")
    )
    cache_dir: Path = field(default_factory=lambda: _env_path("LLM_CACHE_DIR", LLM_BUILD / "cache"))

    @property
    def python(self) -> Path:
        """The vLLM venv's interpreter."""
        return self._need(self.venv / "bin" / "python", "LLM_VENV")

    @property
    def aiperf(self) -> Path:
        """aiperf's command-line entry point."""
        return self._need(self.aiperf_venv / "bin" / "aiperf", "LLM_AIPERF_VENV")

    @staticmethod
    def _need(path: Path, var: str) -> Path:
        # absolute, not resolved: a venv's python is a symlink to the base interpreter,
        # and only the venv's path makes it the venv's
        path = path.absolute()
        if not path.exists():
            raise MissingVenv(
                f"{path} not found: build the LLM tier's venvs with `make llm-venv` "
                f"(or point {var} at one)"
            )
        return path
