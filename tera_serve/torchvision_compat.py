"""Let PyPI's torchvision (a CUDA build) import beside the CPU build of torch.

vLLM's Qwen-VL image processing, and transformers' image utilities, import torchvision.
On a CPU machine the only torchvision wheel PyPI has is linked against CUDA: its `_C`
library cannot load, so `torchvision::nms` is never defined and torchvision's own import
fails (`operator torchvision::nms does not exist`). Image processing never runs those
detection ops; defining their two schemas is enough for the rest of torchvision to work.

`install_import_hook()` runs from a `.pth` file that scripts/bootstrap.sh writes into the
virtualenv, so every process (the server, vLLM's engine core, test workers) gets it before
anything imports torchvision. It only imports the standard library until torchvision is
first imported, and does nothing where torchvision's library loads (CUDA, or a CPU build).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_LIBRARIES: list[object] = []
"""The torch.library handles: the schemas live as long as their Library object."""


def _torchvision_library(search: Sequence[str]) -> Path | None:
    for folder in search:
        for candidate in sorted(Path(folder).glob("_C*.so")):
            return candidate
    return None


def define_missing_ops(search: Sequence[str]) -> bool:
    """Load torchvision's own ops if its library loads; otherwise define the two schemas
    its import registers fake kernels for. Returns whether schemas were defined."""
    import torch

    library = _torchvision_library(search)
    if library is not None:
        try:
            torch.ops.load_library(str(library))  # type: ignore[no-untyped-call]
            return False
        except OSError:
            pass  # a CUDA-linked library on a CPU-only torch
    if hasattr(torch.ops.torchvision, "nms"):
        return False
    handle = torch.library.Library("torchvision", "DEF")  # type: ignore[no-untyped-call]
    for schema in _OP_SCHEMAS:
        handle.define(schema)  # type: ignore[no-untyped-call]
    _LIBRARIES.append(handle)
    return True


class _TorchvisionHook(importlib.abc.MetaPathFinder):
    """Runs `define_missing_ops` once, just before torchvision is first imported."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torchvision")
        if spec is not None and spec.submodule_search_locations is not None:
            define_missing_ops(list(spec.submodule_search_locations))
        return spec


def install_import_hook() -> None:
    if "torchvision" in sys.modules or any(isinstance(f, _TorchvisionHook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _TorchvisionHook())
