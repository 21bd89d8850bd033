"""The pages' static files (``static/``: ``charts.js`` and the vendored Vega libraries), served by
the plugin's app under ``/mlw/ui/static`` behind the same Airflow auth as the pages.

A route rather than a ``StaticFiles`` mount, because the UI router's auth dependency applies to
its routes only. Nothing is fetched from the internet: the charting libraries ship in the package.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter()

STATIC = Path(__file__).resolve().with_name("static")
#: Media types by suffix, so the answer does not depend on the host's ``mimetypes`` tables.
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".txt": "text/plain",
}
#: The files change only with the package; a browser keeps them for an hour.
CACHE = "private, max-age=3600"


@router.get("/static/{path:path}", response_class=FileResponse)
def static_file(path: str) -> FileResponse:
    """A file of ``static/``; a path outside it, or a missing file, is a 404 naming the path."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    media_type = MEDIA_TYPES.get(target.suffix) or (
        "text/plain" if target.name.startswith("LICENSE") else None
    )
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": CACHE})
