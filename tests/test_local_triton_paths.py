"""The local Triton launcher's backend folder holds from any working directory.

Triton runs with ``work_dir`` as its working directory, so the backend folder it
is given must be absolute; ``make demo`` passes a relative build folder
(``BUILD ?= build``). The end-to-end demo test runs with a relative one too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.local.triton import prepare_backends


def test_a_relative_work_dir_gives_an_absolute_backend_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backends = prepare_backends(Path("work"))
    assert backends.is_absolute()
    assert backends == tmp_path.resolve() / "work" / "backends"
    assert (backends / "python" / "libtriton_python.so").is_file()
    assert (backends / "python" / "triton_python_backend_stub").is_file()
