"""Keys: hashed storage, constant-time lookup, reload on change, and `tera-serve keys`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.errors import ConfigError
from tera_serve.keys_cli import keys_main
from tera_serve.security import keys as keys_module
from tera_serve.security.exposure import check_exposure, is_loopback
from tera_serve.security.keys import (
    KeyRecord,
    KeyStore,
    hash_secret,
    new_secret,
    read_keys_file,
    write_keys_file,
)

MODELS = (ModelConfig(model="/m/a", served_model_name="org/a", aliases=("a",)),)


def test_secret_shape_and_hash() -> None:
    secret = new_secret()
    assert secret.startswith("sk-tera-") and len(secret) > 40
    assert new_secret() != secret
    assert hash_secret(secret) == hash_secret(secret) and len(hash_secret(secret)) == 64


def test_store_authenticates_by_hash_only(tmp_path: Path) -> None:
    secret = new_secret()
    path = tmp_path / "keys.yaml"
    write_keys_file(path, [KeyRecord(name="alice", sha256=hash_secret(secret))])
    assert secret not in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    store = KeyStore(path)
    found = store.authenticate(secret)
    assert found is not None and found.name == "alice"
    for wrong in (None, "", secret + "x", secret[:-1], "Bearer " + secret):
        assert store.authenticate(wrong) is None


def test_lookup_uses_constant_time_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record is compared with hmac.compare_digest (no early exit on a match)."""
    secrets = [new_secret() for _ in range(3)]
    path = tmp_path / "k.yaml"
    write_keys_file(
        path, [KeyRecord(name=f"k{i}", sha256=hash_secret(s)) for i, s in enumerate(secrets)]
    )
    calls: list[tuple[str, str]] = []
    real = keys_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    store = KeyStore(path)
    assert store.authenticate(secrets[0]) is not None
    assert len(calls) == 3


def test_static_api_key_and_json_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    secret = new_secret()
    write_keys_file(path, [KeyRecord(name="j", sha256=hash_secret(secret), rpm=3)])
    assert json.loads(path.read_text())["keys"][0]["rpm"] == 3
    store = KeyStore(path, [KeyRecord(name="api-key", sha256=hash_secret("plain"))])
    assert store.authenticate("plain").name == "api-key"  # type: ignore[union-attr]
    assert store.authenticate(secret).rpm == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content",
    [
        "keys: 5",
        "keys: [{name: a}]",
        "keys: [{name: a, sha256: XYZ}]",
        f"keys: [{{name: a, sha256: {'a' * 64}, rpm: 0}}]",
        f"keys: [{{name: a, sha256: {'a' * 64}, rpm: 1.5}}]",
        f"keys: [{{name: a, sha256: {'a' * 64}, models: [1]}}]",
        f"keys: [{{name: a, sha256: {'a' * 64}, secret: x}}]",
        f"keys: [{{name: 'a b', sha256: {'a' * 64}}}]",
        f"keys: [{{name: a, sha256: {'a' * 64}}}, {{name: a, sha256: {'b' * 64}}}]",
        "keys: [",
    ],
)
def test_bad_keys_files_are_config_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError):
        read_keys_file(path)


def test_missing_file_at_start_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keys create"):
        KeyStore(tmp_path / "nope.yaml")


def test_reload_on_change_keeps_last_good_and_revokes_on_delete(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    first, second = new_secret(), new_secret()
    write_keys_file(path, [KeyRecord(name="one", sha256=hash_secret(first))])
    store = KeyStore(path, check_interval_s=0.0)
    assert store.authenticate(first) is not None
    write_keys_file(path, [KeyRecord(name="two", sha256=hash_secret(second))])
    assert store.authenticate(first) is None
    assert store.authenticate(second) is not None
    path.write_text("keys: [{broken")  # mid-edit: keep serving the last good keys
    assert store.authenticate(second) is not None
    path.unlink()
    assert store.authenticate(second) is None


def test_changes_are_checked_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "keys.yaml"
    secret = new_secret()
    write_keys_file(path, [])
    store = KeyStore(path, check_interval_s=1.0, clock=lambda: now[0])
    write_keys_file(path, [KeyRecord(name="n", sha256=hash_secret(secret))])
    assert store.authenticate(secret) is None
    now[0] = 1.5
    assert store.authenticate(secret) is not None


def test_scope_covers_aliases() -> None:
    record = KeyRecord(name="s", sha256="a" * 64, models=("org/a",))
    assert record.allows("org/a", MODELS) and record.allows("a", MODELS)
    assert not record.allows("org/b", MODELS)
    assert KeyRecord(name="all", sha256="a" * 64).allows("anything", MODELS)


def test_keys_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.yaml"
    args = ["--keys-file", str(path)]
    assert keys_main(["create", "--name", "alice", "--models", "org/a", "--rpm", "5", *args]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("sk-tera-")
    assert secret not in path.read_text()
    record = read_keys_file(path)[0]
    assert (record.name, record.models, record.rpm) == ("alice", ("org/a",), 5)
    assert KeyStore(path).authenticate(secret) is not None
    assert keys_main(["create", "--name", "alice", *args]) == 1  # names are unique
    capsys.readouterr()
    assert keys_main([*args, "list"]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and secret not in listing and record.sha256 not in listing
    assert keys_main(["list", "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "alice"
    assert keys_main(["revoke", "alice", *args]) == 0
    assert read_keys_file(path) == ()
    assert keys_main(["revoke", "alice", *args]) == 1


def test_keys_cli_rejects_bad_input(tmp_path: Path) -> None:
    path = str(tmp_path / "k.yaml")
    with pytest.raises(SystemExit):
        keys_main(["create", "--name", "x", "--rpm", "0", "--keys-file", path])
    assert keys_main(["create", "--name", "bad name", "--keys-file", path]) == 2
    assert not os.path.exists(path)


def test_yaml_file_is_readable_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    write_keys_file(path, [KeyRecord(name="a", sha256="a" * 64, models=("m",), tpm=9)])
    assert yaml.safe_load(path.read_text()) == {
        "keys": [{"name": "a", "sha256": "a" * 64, "models": ["m"], "tpm": 9}]
    }


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.1.2.3", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_open_server_refuses_non_loopback(tmp_path: Path) -> None:
    check_exposure(ServerConfig(models=MODELS))
    with pytest.raises(ConfigError, match="allow-unauthenticated"):
        check_exposure(ServerConfig(models=MODELS, host="0.0.0.0"))
    check_exposure(ServerConfig(models=MODELS, host="0.0.0.0", allow_unauthenticated=True))
    check_exposure(ServerConfig(models=MODELS, host="0.0.0.0", api_key="k"))
    with pytest.raises(ConfigError, match="does not exist"):
        check_exposure(ServerConfig(models=MODELS, keys_file=str(tmp_path / "none.yaml")))


def test_api_key_is_not_in_config_repr() -> None:
    assert "hunter2" not in repr(ServerConfig(models=MODELS, api_key="hunter2"))


@pytest.mark.parametrize(
    "field", ["max_running_per_model", "queue_timeout_s", "body_timeout_s", "drain_timeout_s"]
)
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ServerConfig(models=MODELS, **{field: 0})


def test_cli_refuses_open_non_loopback_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from tera_serve import cli

    started: list[object] = []
    monkeypatch.setattr(cli, "configure_logging", lambda *_: None)
    monkeypatch.setattr(cli, "prepare_vllm_environment", lambda: None)
    monkeypatch.setattr(cli, "build_parser", argparse.ArgumentParser)
    monkeypatch.setattr(
        cli, "resolve_config", lambda _ns: ServerConfig(models=MODELS, host="0.0.0.0")
    )
    monkeypatch.setattr("tera_serve.server.run_server", lambda *a: started.append(a) or 0)
    assert cli.main([]) == 2
    assert "allow-unauthenticated" in capsys.readouterr().err and not started


def test_an_empty_file_keeps_the_keys_and_an_empty_list_revokes(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    secret = new_secret()
    write_keys_file(path, [KeyRecord(name="one", sha256=hash_secret(secret))])
    store = KeyStore(path, check_interval_s=0.0)
    for truncated in ("", "\n  \n", "# a comment only\n"):
        path.write_text(truncated)  # an editor's truncate-then-write, caught in the middle
        assert store.authenticate(secret) is not None, repr(truncated)
    path.write_text("keys: []\n")
    assert store.authenticate(secret) is None
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="keys: \\[\\]"):
        KeyStore(empty)


def test_admin_scope_round_trips_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    write_keys_file(path, [KeyRecord(name="ops", sha256="a" * 64, scopes=("admin",))])
    (record,) = read_keys_file(path)
    assert record.is_admin and record.scopes == ("admin",)
    path.write_text(f"keys: [{{name: a, sha256: {'a' * 64}, scopes: [root]}}]")
    with pytest.raises(ConfigError, match="scopes"):
        read_keys_file(path)


def test_api_key_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tera_serve.security.guard import key_store

    secret_file = tmp_path / "key.txt"
    secret_file.write_text("sk-tera-from-file\n")
    store = key_store(ServerConfig(models=MODELS, api_key_file=str(secret_file)))
    assert store is not None
    found = store.authenticate("sk-tera-from-file")
    assert found is not None and found.is_admin  # the operator's own key
    with pytest.raises(ConfigError, match="not both"):
        ServerConfig(models=MODELS, api_key="x", api_key_file=str(secret_file))
    secret_file.write_text("")
    with pytest.raises(ConfigError, match="one key"):
        key_store(ServerConfig(models=MODELS, api_key_file=str(secret_file)))

    from tera_serve import cli

    monkeypatch.setenv(cli.API_KEY_ENV, "sk-tera-from-env")
    monkeypatch.setattr(cli, "embedded_default_model", lambda _args: {"model": "m"})
    parser = cli.build_parser()
    config = cli.resolve_config(parser.parse_args([]))
    assert config.api_key == "sk-tera-from-env"
    config = cli.resolve_config(parser.parse_args(["--api-key-file", str(secret_file)]))
    assert config.api_key is None and config.api_key_file == str(secret_file)
