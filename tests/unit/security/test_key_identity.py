"""Identity is the key, not its name (DESIGN rule 12): keys that share a name or a secret
are refused, at start and on a reload, naming both; limits hang on the secret's hash."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import ConfigError, RateLimitError
from tera_serve.security.exposure import check_exposure
from tera_serve.security.guard import key_store
from tera_serve.security.keys import (
    STATIC_KEY_NAME,
    KeyRecord,
    KeyStore,
    hash_secret,
    new_secret,
    read_keys_file,
    write_keys_file,
)
from tera_serve.security.ratelimit import RateLimiter
from tests.unit.security.support import make_keys_file

MODELS = (ModelConfig(model="/m/a", served_model_name="org/a"),)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_same_name_different_sources_are_different_identities(tmp_path: Path) -> None:
    static_secret, file_secret = new_secret(), new_secret()
    static = KeyRecord(name=STATIC_KEY_NAME, sha256=hash_secret(static_secret), source="--api-key")
    path = tmp_path / "keys.yaml"
    write_keys_file(path, [KeyRecord(name=STATIC_KEY_NAME, sha256=hash_secret(file_secret))])
    (entry,) = read_keys_file(path)
    assert entry.name == static.name and entry.identity != static.identity
    assert STATIC_KEY_NAME not in entry.identity  # the name plays no part
    # The same secret is the same identity, whatever the name, source, limits or scopes.
    renamed = KeyRecord(name="other", sha256=hash_secret(file_secret), rpm=3, scopes=("admin",))
    assert renamed.identity == entry.identity
    assert entry.source == f"{path}: keys[0]"


@pytest.mark.parametrize("use_file", [False, True])
def test_a_file_entry_named_like_the_static_key_stops_the_start(
    tmp_path: Path, use_file: bool
) -> None:
    keys_file = tmp_path / "keys.yaml"
    make_keys_file(keys_file, {"alice": {}, STATIC_KEY_NAME: {}})
    if use_file:
        secret_file = tmp_path / "secret.txt"
        secret_file.write_text(new_secret() + "\n")
        config = ServerConfig(
            models=MODELS, api_key_file=str(secret_file), keys_file=str(keys_file)
        )
        static_source = f"--api-key-file {secret_file}"
    else:
        config = ServerConfig(models=MODELS, api_key=new_secret(), keys_file=str(keys_file))
        static_source = "--api-key (or TERA_API_KEY)"
    for check in (key_store, check_exposure):  # check_exposure is the CLI's start-up check
        with pytest.raises(ConfigError) as info:
            check(config)
        message = str(info.value)
        assert f"named {STATIC_KEY_NAME!r}" in message
        assert static_source in message and f"{keys_file}: keys[1]" in message


def test_the_cli_refuses_a_name_clash_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tera_serve import cli

    keys_file = tmp_path / "keys.yaml"
    make_keys_file(keys_file, {STATIC_KEY_NAME: {}})
    config = ServerConfig(models=MODELS, api_key=new_secret(), keys_file=str(keys_file))
    started: list[object] = []
    monkeypatch.setattr(cli, "configure_logging", lambda *_: None)
    monkeypatch.setattr(cli, "prepare_vllm_environment", lambda: None)
    monkeypatch.setattr(cli, "build_parser", argparse.ArgumentParser)
    monkeypatch.setattr(cli, "resolve_config", lambda _ns: config)
    monkeypatch.setattr("tera_serve.server.run_server", lambda *a: started.append(a) or 0)
    assert cli.main([]) == 2 and not started
    err = capsys.readouterr().err
    assert "--api-key" in err and f"{keys_file}: keys[0]" in err


def test_the_same_secret_under_two_names_is_refused(tmp_path: Path) -> None:
    secret = new_secret()
    path = tmp_path / "keys.yaml"
    write_keys_file(
        path,
        [
            KeyRecord(name="alice", sha256=hash_secret(new_secret())),
            KeyRecord(name="bob", sha256=hash_secret(secret)),
            KeyRecord(name="carol", sha256=hash_secret(secret)),
        ],
    )
    with pytest.raises(ConfigError, match="same secret") as info:
        read_keys_file(path)
    assert "'bob'" in str(info.value) and "'carol'" in str(info.value)
    assert f"{path}: keys[1]" in str(info.value) and f"{path}: keys[2]" in str(info.value)
    # The static key's secret under a file entry's name is refused too.
    write_keys_file(path, [KeyRecord(name="ops", sha256=hash_secret(secret))])
    with pytest.raises(ConfigError, match="same secret") as info:
        key_store(ServerConfig(models=MODELS, api_key=secret, keys_file=str(path)))
    assert "--api-key" in str(info.value) and f"{path}: keys[0]" in str(info.value)


def test_two_file_entries_with_one_name_are_named(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys: [{{name: a, sha256: {'a' * 64}}}, {{name: a, sha256: {'b' * 64}}}]")
    with pytest.raises(ConfigError, match="two keys are named 'a'") as info:
        read_keys_file(path)
    assert f"{path}: keys[0]" in str(info.value) and f"{path}: keys[1]" in str(info.value)
    assert "--api-key key" not in str(info.value)  # that hint is for the static key's name


@pytest.mark.parametrize("clash", ["static name", "file name", "same secret"])
def test_a_reload_with_a_clash_keeps_the_previous_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, clash: str
) -> None:
    path = tmp_path / "keys.yaml"
    alice = new_secret()
    write_keys_file(path, [KeyRecord(name="alice", sha256=hash_secret(alice))])
    static_secret = new_secret()
    static = KeyRecord(name=STATIC_KEY_NAME, sha256=hash_secret(static_secret), source="--api-key")
    store = KeyStore(path, [static], check_interval_s=0.0)
    assert store.authenticate(alice) is not None
    newcomer = new_secret()
    name = {"static name": STATIC_KEY_NAME, "file name": "alice", "same secret": "bob"}[clash]
    digest = hash_secret(alice if clash == "same secret" else newcomer)
    write_keys_file(
        path,
        [KeyRecord(name="alice", sha256=hash_secret(alice)), KeyRecord(name=name, sha256=digest)],
    )
    with caplog.at_level(logging.ERROR, logger="tera_serve.security.keys"):
        assert store.authenticate(newcomer) is None
    found = store.authenticate(alice)
    assert found is not None and found.name == "alice"
    assert store.authenticate(static_secret) == static
    (logged,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "keeping the previous keys" in logged and f"{path}: keys[1]" in logged
    assert ("--api-key" if clash == "static name" else f"{path}: keys[0]") in logged
    # A later good file is loaded as usual.
    write_keys_file(path, [KeyRecord(name="dave", sha256=hash_secret(newcomer))])
    assert store.authenticate(newcomer) is not None and store.authenticate(alice) is None


def test_a_static_key_with_no_keys_file_is_fine() -> None:
    store = key_store(ServerConfig(models=MODELS, api_key="sk-tera-x"))
    assert store is not None and store.authenticate("sk-tera-x") is not None


def test_buckets_are_per_identity_not_per_name() -> None:
    """Two keys with one name (a rotated key, or one from another source) share nothing."""
    clock = Clock()
    limiter = RateLimiter(clock)
    old = KeyRecord(name="alice", sha256=hash_secret(new_secret()), rpm=1, tpm=100)
    new = KeyRecord(name="alice", sha256=hash_secret(new_secret()), rpm=1, tpm=100)
    limiter.admit(old)
    limiter.release(old)
    with pytest.raises(RateLimitError, match="requests per minute"):
        limiter.admit(old)
    limiter.admit(new)  # its own rpm bucket
    limiter.release(new)
    limiter.reserve_tokens(old, 100)
    limiter.reserve_tokens(new, 100)  # its own tpm: nothing used or reserved yet
    assert dict(limiter.headers(new))["x-ratelimit-remaining-tokens"] == "0"
    limiter.settle_tokens(new, 100, 10)
    assert dict(limiter.headers(new))["x-ratelimit-remaining-tokens"] == "90"
    assert dict(limiter.headers(old))["x-ratelimit-remaining-tokens"] == "0"
    limiter.settle_tokens(old, 100, 0)
    # The same secret reloaded with other limits keeps its usage (one request of two).
    reloaded = KeyRecord(name="alice-renamed", sha256=old.sha256, rpm=2, tpm=100)
    limiter.admit(reloaded)
    with pytest.raises(RateLimitError, match="requests per minute"):
        limiter.admit(reloaded)


def test_concurrency_is_per_identity_not_per_name() -> None:
    limiter = RateLimiter(Clock())
    first = KeyRecord(name="api-key", sha256=hash_secret(new_secret()), max_concurrency=2)
    second = KeyRecord(name="api-key", sha256=hash_secret(new_secret()), max_concurrency=2)
    limiter.admit(first)
    limiter.add_sequences(first, 1)  # first is now full
    with pytest.raises(RateLimitError, match="concurrent"):
        limiter.admit(first)
    limiter.admit(second)
    limiter.add_sequences(second, 1)


def test_rotated_keys_idle_buckets_do_not_pile_up() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    busy = KeyRecord(name="busy", sha256=hash_secret(new_secret()), max_concurrency=1)
    limiter.admit(busy)  # in flight throughout: its bucket must stay
    for _ in range(50):  # one name, rotated 50 times, each secret used once
        rotated = KeyRecord(name="alice", sha256=hash_secret(new_secret()), rpm=10)
        limiter.admit(rotated)
        limiter.release(rotated)
        clock.now += 61  # its request leaves the window
    assert len(limiter._usage) <= 2
    with pytest.raises(RateLimitError, match="concurrent"):
        limiter.admit(busy)  # the busy key's count survived the pruning


def test_identity_is_not_the_hash_secrets_are_checked_against() -> None:
    """The response store keeps identities: it must not hold the keys file's verifier."""
    record = KeyRecord(name="alice", sha256=hash_secret("sk-tera-secret"))
    assert record.sha256 not in record.identity
    assert record.identity == KeyRecord(name="bob", sha256=record.sha256).identity
