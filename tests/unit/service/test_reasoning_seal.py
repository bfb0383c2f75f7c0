"""Sealed reasoning: opens only under this server's key and for the model it was made for;
the key is generated once beside the store, owner-only, or read from the flag's file."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import ConfigError
from tera_serve.service.reasoning_seal import KEY_FILE, ReasoningSeal, SealError

MODELS = (ModelConfig(model="m"),)
TEXT = "The user wants a patch; first list the files. ünïcode ✓"


def _seal(tmp_path: Path, **fields: str) -> ReasoningSeal:
    store = str(tmp_path / "responses.sqlite3")
    return ReasoningSeal.from_config(ServerConfig(MODELS, responses_store=store, **fields))  # type: ignore[arg-type]


def test_a_sealed_text_opens_only_for_its_model(tmp_path: Path) -> None:
    seal = _seal(tmp_path)
    blob = seal.seal(TEXT, "org/model-a")
    assert TEXT not in blob and "model-a" not in blob
    assert seal.unseal(blob, "org/model-a") == TEXT
    with pytest.raises(SealError):
        seal.unseal(blob, "org/model-b")
    # Each seal has its own nonce: the same text never gives the same blob.
    assert seal.seal(TEXT, "org/model-a") != blob


def test_any_change_to_the_blob_is_refused(tmp_path: Path) -> None:
    seal = _seal(tmp_path)
    blob = seal.seal(TEXT, "m")
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")
        with pytest.raises(SealError):
            seal.unseal(forged, "m")
    for garbage in ("", "not base64 at all!", "AAAA", blob[:-4], "é" * 40):
        with pytest.raises(SealError):
            seal.unseal(garbage, "m")


def test_the_key_is_generated_once_beside_the_store_owner_only(tmp_path: Path) -> None:
    first = _seal(tmp_path)
    first.open()
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text().strip())) == 32
    blob = first.seal(TEXT, "m")
    # Another process on the same store (a restart, a replica) opens it.
    assert _seal(tmp_path).unseal(blob, "m") == TEXT
    # Another store's server does not.
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(SealError):
        _seal(other).unseal(blob, "m")


def test_a_memory_store_has_a_key_of_this_process_only(tmp_path: Path) -> None:
    one = ReasoningSeal.from_config(ServerConfig(MODELS, responses_store=":memory:"))
    two = ReasoningSeal.from_config(ServerConfig(MODELS, responses_store=":memory:"))
    blob = one.seal(TEXT, "m")
    assert one.unseal(blob, "m") == TEXT and one.location == "memory"
    with pytest.raises(SealError):
        two.unseal(blob, "m")
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_key_file_is_shared_and_must_be_valid(tmp_path: Path) -> None:
    key_file = tmp_path / "shared.key"
    key_file.write_text(base64.b64encode(bytes(range(32))).decode() + "\n")
    key_file.chmod(0o600)
    a = _seal(tmp_path / "a", reasoning_key_file=str(key_file))
    b = _seal(tmp_path / "b", reasoning_key_file=str(key_file))
    assert b.unseal(a.seal(TEXT, "m"), "m") == TEXT
    assert not (tmp_path / "a").exists()  # nothing generated beside the stores
    with pytest.raises(ConfigError, match=r"missing\.key"):
        _seal(tmp_path, reasoning_key_file=str(tmp_path / "missing.key")).open()
    short = tmp_path / "short.key"
    short.write_text(base64.b64encode(b"sixteen bytes!!!").decode())
    with pytest.raises(ConfigError, match="32 random bytes"):
        _seal(tmp_path, reasoning_key_file=str(short)).open()


def test_the_key_file_flag_expands_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As --keys-file does: `~/reasoning.key` is the user's file, not a folder named `~`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "r.key").write_text(base64.b64encode(bytes(range(32))).decode())
    (tmp_path / "r.key").chmod(0o600)
    seal = _seal(tmp_path / "store", reasoning_key_file="~/r.key")
    assert seal.location == str(tmp_path / "r.key")
    assert seal.unseal(seal.seal(TEXT, "m"), "m") == TEXT


async def test_the_key_is_made_at_start_up_and_a_bad_one_stops_it(tmp_path: Path) -> None:
    from tera_serve.http.context import ServerContext
    from tera_serve.http.startup import open_response_store

    store = str(tmp_path / "responses.sqlite3")
    config = ServerConfig(MODELS, responses_store=store)
    first = ServerContext(config=config, engine_factory=lambda *_: None)
    await open_response_store(first)
    await first.responses.close()
    assert (tmp_path / KEY_FILE).is_file()
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    config = ServerConfig(MODELS, responses_store=store, reasoning_key_file=str(bad))
    context = ServerContext(config=config, engine_factory=lambda *_: None)
    with pytest.raises(ConfigError, match=r"bad\.key"):
        await open_response_store(context)
    await context.responses.close()
