"""Import rules DESIGN.md states: security is plain ASGI and imports no http; nothing below
http imports it; the access log escapes what clients control."""

from __future__ import annotations

import ast
from pathlib import Path

import tera_serve
from tera_serve.http.access import log_value

PACKAGE = Path(tera_serve.__file__).parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_http_imports_http() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if "tera_serve.http" in m
        )
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "http" and path.name != "server.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_security_imports_no_fastapi() -> None:
    for path in (PACKAGE / "security").glob("*.py"):
        assert not [m for m in imported_modules(path) if m.startswith("fastapi")], path


def test_text_log_values_cannot_forge_lines_or_fields() -> None:
    assert log_value("/v1/chat/completions") == "/v1/chat/completions"
    assert log_value(200) == "200"
    forged = log_value("/x\nFAKE-LINE status=200")
    assert "\n" not in forged and " " not in forged.strip('"').split("\\n")[0]
    assert forged == '"/x\\nFAKE-LINE status=200"'
    assert log_value('a"b') == '"a\\"b"' and log_value("é") == '"\\u00e9"'
