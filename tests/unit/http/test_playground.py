"""The playground's routes (in-process app, FakeEngine) and static checks of its files."""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from tera_serve.config import ServerConfig
from tera_serve.http.playground import CONTENT_SECURITY_POLICY
from tera_serve.playground import ASSET_PREFIX, ASSET_TYPES, PUBLIC_PATHS
from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import bearer, is_contract_error

STATIC = Path(str(resources.files("tera_serve.playground") / "static"))
SCRIPTS = sorted(name for name in ASSET_TYPES if name.endswith(".js"))
CHAT = {"model": FAKE_MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


async def test_page_and_files_are_served_with_a_strict_policy(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir) as (client, _, _):
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.content == (STATIC / "index.html").read_bytes()
        for name, media_type in ASSET_TYPES.items():
            response = await client.get(ASSET_PREFIX + name)
            assert response.status_code == 200, name
            assert response.headers["content-type"] == media_type
            assert response.content == (STATIC / name).read_bytes()
        last = response
        for checked in (page, last):
            policy = checked.headers["content-security-policy"]
            assert policy == CONTENT_SECURITY_POLICY
            assert "default-src 'none'" in policy and "script-src 'self'" in policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert checked.headers["x-content-type-options"] == "nosniff"
        # The page is not part of the API's schema.
        schema = (await client.get("/openapi.json")).json()
        assert "/" not in schema["paths"] and not any(
            p.startswith("/playground") for p in schema["paths"]
        )


@pytest.mark.parametrize(
    "path",
    [
        "/playground/nope.js",
        "/playground/index.html",
        "/playground/../config.py",
        "/playground/%2e%2e%2fconfig.py",
        "/playground/static/app.js",
        "/playground/",
    ],
)
async def test_only_the_listed_files_are_served(smollm_dir: Path, path: str) -> None:
    async with fake_server(smollm_dir) as (client, _, _):
        response = await client.get(path)
        assert response.status_code == 404, response.text
        assert is_contract_error(response.json())


async def test_page_is_public_with_keys_but_the_api_is_not(smollm_dir: Path) -> None:
    secret = "sk-tera-playground-test"
    async with fake_server(smollm_dir, server_overrides={"api_key": secret}) as (client, _, _):
        for path in sorted(PUBLIC_PATHS):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert "set-cookie" not in response.headers
        assert (await client.get("/v1/models")).status_code == 401
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 401
        # Public means GET of these files only: other methods and paths still need the key.
        assert (await client.post("/", json=CHAT)).status_code == 401
        assert (await client.get("/playground/nope.js")).status_code == 401
        ok = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(secret))
        assert ok.status_code == 200, ok.text


async def test_no_playground_turns_it_off(smollm_dir: Path) -> None:
    async with fake_server(smollm_dir, server_overrides={"playground": False}) as (client, _, _):
        for path in sorted(PUBLIC_PATHS):
            assert (await client.get(path)).status_code == 404, path
    async with fake_server(
        smollm_dir, server_overrides={"playground": False, "api_key": "sk-tera-x"}
    ) as (client, _, _):
        assert (await client.get("/")).status_code == 401  # nothing public left but /health


def test_no_playground_flag_is_generated() -> None:
    from tera_serve.cli_options import add_dataclass_flags

    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, ServerConfig, skip=frozenset({"models"}))
    assert parser.parse_args(["--no-playground"]).playground is False
    assert parser.parse_args([]).playground is None  # unset: the config's default (on) applies
    assert ServerConfig.__dataclass_fields__["playground"].default is True


# ---- static checks of the files themselves ------------------------------------------------


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.loads: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script":
            self._in_script = True
            if not values.get("src"):
                self.problems.append("inline <script>")
        for name in ("src", "href"):
            if values.get(name) and tag in ("script", "link", "img", "audio"):
                self.loads.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


def test_page_has_no_inline_code_and_loads_only_its_own_files() -> None:
    scan = _PageScan()
    scan.feed((STATIC / "index.html").read_text())
    assert scan.problems == []
    assert scan.loads and all(url.startswith(ASSET_PREFIX) for url in scan.loads)
    assert {url.removeprefix(ASSET_PREFIX) for url in scan.loads} <= set(ASSET_TYPES)


def test_every_static_file_is_listed_and_packaged() -> None:
    on_disk = {p.name for p in STATIC.iterdir()} - {"index.html"}
    assert on_disk == set(ASSET_TYPES)
    pyproject = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert '"playground/static/*"' in pyproject


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_never_parse_text_as_html(name: str) -> None:
    source = (STATIC / name).read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "DOMParser",
        "createContextualFragment",
    ):
        assert sink not in source, (name, sink)
    for imported in re.findall(r'from "\./([^"]+)"', source):
        assert imported in ASSET_TYPES, (name, imported)
    # Nothing is loaded from anywhere else.
    assert not re.search(r"https?://", source), name
