"""Shared fixtures: paths, the cassette setup, and the embedded server for re-recording.

Cassettes replay with record mode ``none`` and the network blocked (see pyproject addopts).
To re-record them from a real server (the embedded llama.cpp one):

    FACTX_RECORD=1 .venv/bin/pytest tests/test_cassettes.py --record-mode=rewrite

or from a llama.cpp server already running (same model and alias), named by its URL:

    FACTX_RECORD=1 FACTX_RECORD_URL=http://127.0.0.1:8392/v1 .venv/bin/pytest ...
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
# Replays never reach this address: vcrpy answers first, and the network is blocked.
REPLAY_BASE_URL = "http://127.0.0.1:9/v1"
RECORD_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
SECRET_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "cookie"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.skip(f"{SHARED} is absent: the seeds and gold live outside the repo")
    return SHARED


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": SECRET_HEADERS,
        "filter_query_parameters": ["api_key", "key"],
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(ROOT / "cassettes" / request.module.__name__.split(".")[-1])


@pytest.fixture(scope="session")
def llm_base_url() -> Iterator[str]:
    """A real server while re-recording (FACTX_RECORD=1), the replay address otherwise."""
    if not os.environ.get("FACTX_RECORD"):
        yield REPLAY_BASE_URL
        return
    if os.environ.get("FACTX_RECORD_URL"):
        yield os.environ["FACTX_RECORD_URL"]
        return
    from factx._local import LocalServer, assemble_default_gguf
    from factx._settings import default_cache_dir

    server = LocalServer(assemble_default_gguf(default_cache_dir()), model_alias=RECORD_MODEL)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def outputs_under_hash_seeds(
    code: str, *args: str, seeds: tuple[str, ...] = ("1", "2")
) -> set[str]:
    """What ``python -c code args`` prints under each PYTHONHASHSEED: one element when the
    output does not depend on the seed (str hashes, set order)."""
    return {
        subprocess.run(
            [sys.executable, "-c", code, *args], env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in seeds
    }  # fmt: skip
