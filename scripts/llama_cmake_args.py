#!/usr/bin/env python3
"""Print CMAKE_ARGS that build llama.cpp for this CPU, without AMX.

llama.cpp's default build (-march=native) uses every instruction set the CPU reports. Some
virtual machines report Intel AMX but do not let a process use it, and the llama.cpp server
then dies with "Illegal instruction" on its first request. This script names the CPU's
instruction sets one by one instead, leaving AMX out. On other architectures it prints
nothing, and the default native build is used.

    CMAKE_ARGS="$(python3 scripts/llama_cmake_args.py)" .venv/bin/pip install -e '.[local]'
"""

from __future__ import annotations

import platform
from pathlib import Path

# /proc/cpuinfo flag -> ggml CMake option
X86_FLAGS = {
    "avx": "GGML_AVX",
    "avx2": "GGML_AVX2",
    "fma": "GGML_FMA",
    "f16c": "GGML_F16C",
    "bmi2": "GGML_BMI2",
    "avx_vnni": "GGML_AVX_VNNI",
    "avx512f": "GGML_AVX512",
    "avx512vbmi": "GGML_AVX512_VBMI",
    "avx512_vnni": "GGML_AVX512_VNNI",
    "avx512_bf16": "GGML_AVX512_BF16",
}


def cmake_args(cpuinfo: str, machine: str) -> str:
    if machine not in ("x86_64", "AMD64"):
        return ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if "amx_tile" not in flags:
        return ""  # no AMX reported: the native build is safe
    opts = ["-DGGML_NATIVE=OFF"] + [
        f"-D{opt}={'ON' if flag in flags else 'OFF'}" for flag, opt in X86_FLAGS.items()
    ]
    return " ".join(opts)


if __name__ == "__main__":
    info = Path("/proc/cpuinfo")
    print(cmake_args(info.read_text() if info.exists() else "", platform.machine()))
