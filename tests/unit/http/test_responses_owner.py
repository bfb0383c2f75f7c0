"""Stored responses belong to the key's identity (its secret's hash), never its name: a key
rotated to a new secret, or a new key under a revoked key's name, reads none of them."""

from __future__ import annotations

from pathlib import Path

from tera_serve.security.keys import (
    KeyRecord,
    hash_secret,
    new_secret,
    read_keys_file,
    write_keys_file,
)
from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import bearer, make_keys_file

BODY = {"model": FAKE_MODEL_ID, "input": "hi"}


def _paths(response_id: str) -> tuple[str, str]:
    return f"/v1/responses/{response_id}", f"/v1/responses/{response_id}/input_items"


async def test_a_rotated_or_renamed_in_key_reads_nothing_stored(
    smollm_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "keys.yaml"
    secrets = make_keys_file(path, {"alice": {}, "bob": {}})
    alice, bob = bearer(secrets["alice"]), bearer(secrets["bob"])
    overrides = {"keys_file": str(path)}
    async with fake_server(smollm_dir, server_overrides=overrides) as (client, _engine, app):
        keys = app.state.context.security.keys
        first = (await client.post("/v1/responses", json=BODY, headers=alice)).json()
        bobs = (await client.post("/v1/responses", json=BODY, headers=bob)).json()
        for stored_path in _paths(first["id"]):
            assert (await client.get(stored_path, headers=alice)).status_code == 200
        # alice rotated (a new secret under her name); bob revoked.
        rotated = new_secret()
        old_alice, _old_bob = read_keys_file(path)
        write_keys_file(path, [KeyRecord(name="alice", sha256=hash_secret(rotated))])
        keys.reload()
        assert keys.authenticate(secrets["alice"]) is None
        new_alice = bearer(rotated)
        for stored_path in _paths(first["id"]):
            assert (await client.get(stored_path, headers=new_alice)).status_code == 404
        follow = {**BODY, "previous_response_id": first["id"]}
        stolen = await client.post("/v1/responses", json=follow, headers=new_alice)
        assert stolen.status_code == 404, stolen.text
        deleted = await client.delete(_paths(first["id"])[0], headers=new_alice)
        assert deleted.status_code == 404
        # A new key under the revoked bob's name reads none of bob's.
        new_bob_secret = new_secret()
        write_keys_file(
            path,
            [
                KeyRecord(name="alice", sha256=hash_secret(rotated)),
                KeyRecord(name="bob", sha256=hash_secret(new_bob_secret)),
            ],
        )
        keys.reload()
        for stored_path in _paths(bobs["id"]):
            assert (
                await client.get(stored_path, headers=bearer(new_bob_secret))
            ).status_code == 404
        # The rotated key stores and reads its own as usual.
        own = (await client.post("/v1/responses", json=BODY, headers=new_alice)).json()
        assert (await client.get(_paths(own["id"])[0], headers=new_alice)).status_code == 200
        # Rotating back to the old secret finds the old responses again: the secret owns them.
        write_keys_file(path, [old_alice])
        keys.reload()
        assert (await client.get(_paths(first["id"])[0], headers=alice)).status_code == 200
