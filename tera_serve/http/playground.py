"""GET (and HEAD) / and /playground/<file>: the browser playground, under a strict
Content-Security-Policy.

The page loads nothing from anywhere but this server, runs no inline script or style, and
talks only to this server's API (connect-src 'self'), so even text a model crafted to look
like HTML has nowhere to go.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from tera_serve.errors import NotFoundError
from tera_serve.playground import ASSET_PREFIX, Asset, load_assets

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        # Attached images are previewed from data: URLs; synthesized speech plays from a blob.
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Small files; revalidating each load means an upgraded server never serves a stale page.
    "Cache-Control": "no-cache",
}


def asset_response(asset: Asset) -> Response:
    return Response(asset.body, media_type=asset.media_type, headers=SECURITY_HEADERS)


def build_playground_router() -> APIRouter:
    index, files = load_assets()
    router = APIRouter(include_in_schema=False)

    # HEAD answers as GET: the same headers (Content-Length of the body), and uvicorn sends
    # no body for a HEAD. The key check lets both through on these public paths.
    @router.api_route("/", methods=["GET", "HEAD"])
    async def playground_page() -> Response:
        return asset_response(index)

    @router.api_route(ASSET_PREFIX + "{name}", methods=["GET", "HEAD"])
    async def playground_file(name: str) -> Response:
        asset = files.get(name)
        if asset is None:
            raise NotFoundError(f"No playground file {name!r}.", code="not_found")
        return asset_response(asset)

    return router
