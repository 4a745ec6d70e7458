"""scripts/llama_cmake_args.py: llama.cpp is built without AMX where the CPU reports it."""

from __future__ import annotations

import importlib.util

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "llama_cmake_args", ROOT / "scripts" / "llama_cmake_args.py"
)
assert _spec is not None and _spec.loader is not None
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


def test_amx_cpu_gets_explicit_flags_without_amx() -> None:
    info = "processor: 0\nflags\t\t: fpu avx avx2 fma f16c avx512f amx_tile amx_int8\n"
    args = mod.cmake_args(info, "x86_64")
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AVX512=ON" in args
    assert "-DGGML_AVX512_BF16=OFF" in args and "AMX" not in args


def test_other_cpus_keep_the_native_build() -> None:
    assert mod.cmake_args("flags\t\t: fpu avx avx2 fma avx512f\n", "x86_64") == ""
    assert mod.cmake_args("", "aarch64") == ""
