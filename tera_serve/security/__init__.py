"""Keys, per-key limits, admission control, slow-client and lifecycle defences.

Plain ASGI and h11, importing nothing from the HTTP layer: the routes call in (RequestGuard),
the app installs GuardMiddleware, and refusals are written with TeraError.to_json(), the
one serialization of an error.
"""
