"""The dashboard: static files (HTML, CSS, ES modules) served at ``/`` and ``/static``.

No build step: the files in ``freeagentics/server/static`` are what the browser runs,
shipped as package data. They use no third-party JavaScript, so nothing is fetched
from a CDN (the page also runs under the API's ``default-src 'self'`` CSP).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "install_dashboard"]

STATIC_DIR = Path(__file__).with_name("static")


def install_dashboard(app: FastAPI) -> None:
    """Serve ``index.html`` at ``/`` and the rest of the folder under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        # revalidate each load so an upgraded server never runs a stale page
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
