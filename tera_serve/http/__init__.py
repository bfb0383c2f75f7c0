"""HTTP: the FastAPI app, routes, SSE, request ids. The only package that imports fastapi."""
