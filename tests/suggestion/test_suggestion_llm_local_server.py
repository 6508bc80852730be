"""``groundcode llm serve``: loopback only, one slot, prompt prefixes cached. Loading a real GGUF takes
too long for CI; the bench runs it (bench/assemble_qwen_gguf.py, eval/RESULTS.md)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundcode.cli import app
from services.suggestion.local_server import ServeOptions, api_base, run, server_params


def test_the_server_listens_on_loopback_only_with_one_slot_and_prefix_caching(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    options = ServeOptions(model=tmp_path / "m.gguf", port=8123, ctx=2048, threads=2, alias="qwen")

    params = server_params(options)

    assert params.hostnames == ["127.0.0.1"] and params.port == 8123 and params.n_parallel == 1
    assert (params.n_ctx, params.cpuparams.n_threads, params.model_alias) == (2048, 2, {"qwen"})
    assert params.cache_prompt and params.model.path == str(tmp_path / "m.gguf")
    assert api_base(options) == "http://127.0.0.1:8123/v1"


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run(ServeOptions(model=tmp_path / "missing.gguf"), threading.Event())
    result = CliRunner().invoke(app, ["llm", "serve", "--model", str(tmp_path / "missing.gguf")])
    assert result.exit_code == 2 and "no model file" in result.output
