"""Keys, per-key limits, admission control, slow-client and lifecycle defences.

The HTTP layer calls in (routes use RequestGuard; the app installs GuardMiddleware); the
middleware reuses the HTTP layer's one error-response mapping and access-log record.
"""
