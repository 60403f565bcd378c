"""What the CPU computes fast: the instructions that decide which precision the models run in.

OpenVINO computes in bf16 by itself where the CPU has AVX-512 BF16 or AMX. Whether the answer
reader runs in int8 is the assistant's choice (`reader.py`): int8 matrix products pay only
with dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX); on AVX2 alone OpenVINO's int8
reader ran about twice as slow as fp32 (docs/performance.md#the-answer-reader-in-int8).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

INT8_DOT_PRODUCT = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
# ONEDNN_MAX_CPU_ISA caps the instructions OpenVINO's kernels use (oneDNN's own variable):
# under these caps the int8 dot products are not used, whatever the CPU has
_WITHOUT_DOT_PRODUCT = frozenset({"SSE41", "AVX", "AVX2", "AVX512_CORE"})
_NAMES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "VNNI", "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX"}


@functools.lru_cache(maxsize=1)
def flags() -> frozenset[str]:
    """The CPU's feature flags (Linux's /proc/cpuinfo; none known elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def capped() -> str | None:
    """The instruction cap set by ONEDNN_MAX_CPU_ISA, if any."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return cap if cap and cap != "ALL" else None


def int8_dot_product() -> bool:
    """Whether int8 matrix products run fast here (and OpenVINO may use them)."""
    return bool(flags() & INT8_DOT_PRODUCT) and capped() not in _WITHOUT_DOT_PRODUCT


def describe() -> str:
    """The vector instructions that set the models' speed, as in 'AVX2/AVX-512/VNNI'."""
    named = "/".join(name for flag, name in _NAMES.items() if flag in flags()) or "no AVX2"
    cap = capped()
    return f"{named}; limited to {cap} by ONEDNN_MAX_CPU_ISA" if cap else named
