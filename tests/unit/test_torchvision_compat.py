"""The torchvision shim: in this venv (CPU torch, PyPI's CUDA torchvision) the import works."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_torchvision_imports_in_a_fresh_interpreter() -> None:
    # A fresh process: the .pth hook bootstrap.sh writes must make the first import work.
    code = textwrap.dedent(
        """
        import sys
        assert "torch" not in sys.modules  # the hook costs nothing until torchvision
        import torchvision.transforms.v2.functional
        from transformers.image_utils import load_image
        import torch
        assert hasattr(torch.ops.torchvision, "nms")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_installing_the_hook_twice_is_one_hook() -> None:
    from tera_serve import torchvision_compat

    before = list(sys.meta_path)
    torchvision_compat.install_import_hook()
    torchvision_compat.install_import_hook()
    added = [f for f in sys.meta_path if f not in before]
    assert len(added) <= 1
    for finder in added:
        sys.meta_path.remove(finder)
