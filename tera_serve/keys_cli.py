"""`tera-serve keys create|list|revoke`: manage the API keys file (hashes only).

A running server picks up changes within a second (and at once on SIGHUP).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from tera_serve.errors import ConfigError
from tera_serve.security.keys import (
    SCOPES,
    KeyRecord,
    hash_secret,
    new_secret,
    read_keys_file,
    record_from_mapping,
    write_keys_file,
)

DEFAULT_KEYS_FILE = "keys.yaml"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tera-serve keys",
        description="Manage API keys. The file stores only sha256 hashes of the secrets.",
    )
    parser.add_argument(
        "--keys-file",
        type=Path,
        default=Path(os.environ.get("TERA_SERVE_KEYS_FILE", DEFAULT_KEYS_FILE)),
        help="YAML or JSON keys file (default: $TERA_SERVE_KEYS_FILE or ./keys.yaml).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="Create a key and print its secret once.")
    create.add_argument("--name", required=True, help="Shown in logs instead of the secret.")
    create.add_argument("--models", nargs="+", default=None, help="Model ids the key may use.")
    create.add_argument("--rpm", type=_positive, default=None, help="Requests per minute.")
    create.add_argument("--tpm", type=_positive, default=None, help="Tokens per minute.")
    create.add_argument(
        "--max-concurrency", type=_positive, default=None, help="Sequences in flight at once."
    )
    create.add_argument(
        "--scopes", nargs="+", choices=SCOPES, default=None, help="admin: may read /metrics."
    )
    listing = sub.add_parser("list", help="List keys (never their secrets).")
    listing.add_argument("--json", action="store_true", help="One JSON document.")
    revoke = sub.add_parser("revoke", help="Remove a key.")
    revoke.add_argument("name")
    # Accept --keys-file after the sub-command too.
    for command in (create, listing, revoke):
        command.add_argument("--keys-file", type=Path, default=argparse.SUPPRESS)
    return parser


def _load(path: Path) -> list[KeyRecord]:
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return []  # a new (or just created, empty) file
    return list(read_keys_file(path))


def _create(args: argparse.Namespace) -> int:
    path: Path = args.keys_file
    records = _load(path)
    if any(r.name == args.name for r in records):
        print(f"tera-serve keys: a key named {args.name!r} exists already", file=sys.stderr)
        return 1
    secret = new_secret()
    record = KeyRecord(
        name=args.name,
        sha256=hash_secret(secret),
        models=tuple(args.models) if args.models else None,
        rpm=args.rpm,
        tpm=args.tpm,
        max_concurrency=args.max_concurrency,
        scopes=tuple(args.scopes or ()),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        hint=secret[-4:],
    )
    record_from_mapping(record.to_mapping(), "--name")  # same rules as the server's reader
    write_keys_file(path, [*records, record])
    print(secret)
    print(
        f"Key {args.name!r} saved to {path.resolve()} (hash only; this is the only time the "
        f"secret is shown). Serve with: tera-serve --keys-file {path.resolve()}",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    records = _load(args.keys_file)
    if args.json:
        public = [{k: v for k, v in r.to_mapping().items() if k != "sha256"} for r in records]
        print(json.dumps(public, indent=2))
        return 0
    print(f"{'NAME':<24} {'MODELS':<32} {'RPM':>7} {'TPM':>9} {'CONC':>5}  CREATED  SECRET")
    for r in records:
        models = ",".join(r.models) if r.models is not None else "*"
        print(
            f"{r.name:<24} {models:<32} {r.rpm or '-':>7} {r.tpm or '-':>9} "
            f"{r.max_concurrency or '-':>5}  {r.created or '-'}  "
            f"{'sk-tera-...' + r.hint if r.hint else '-'}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    path: Path = args.keys_file
    records = _load(path)
    kept = [r for r in records if r.name != args.name]
    if len(kept) == len(records):
        print(f"tera-serve keys: no key named {args.name!r} in {path}", file=sys.stderr)
        return 1
    write_keys_file(path, kept)
    print(f"Key {args.name!r} revoked.", file=sys.stderr)
    return 0


def keys_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"create": _create, "list": _list, "revoke": _revoke}
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"tera-serve keys: {exc}", file=sys.stderr)
        return 2
