"""Keys, per-key limits, admission control, slow-client and lifecycle defences.

Plain ASGI and h11, importing nothing from the HTTP layer: the routes call in (RequestGuard),
the app installs GuardMiddleware, and refusals are written by the error renderer the app
hands in (the protocol table's, so each path's refusals take its protocol's shape).
"""
