"""The browser playground's static files (no build step: served as they are in the package).

Only the files named here are ever served, each at one fixed path, so nothing outside this
list (and no path trick) can be reached through the playground's routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

ASSET_PREFIX = "/playground/"

ASSET_TYPES: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "request.js": "text/javascript; charset=utf-8",
    "snippets.js": "text/javascript; charset=utf-8",
    "turns.js": "text/javascript; charset=utf-8",
    "embeddings.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
"""Every static file besides index.html, with its media type."""

PUBLIC_PATHS: frozenset[str] = frozenset({"/", *(ASSET_PREFIX + name for name in ASSET_TYPES)})
"""The page and its files: public even when API keys are configured."""


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


def load_assets() -> tuple[Asset, dict[str, Asset]]:
    """(index.html, the other files by name), read once from the installed package."""
    folder = resources.files(__package__) / "static"
    index = Asset((folder / "index.html").read_bytes(), "text/html; charset=utf-8")
    files = {name: Asset((folder / name).read_bytes(), kind) for name, kind in ASSET_TYPES.items()}
    return index, files
