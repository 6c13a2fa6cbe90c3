"""The web page: its static files, and the one-time link that turns into a session cookie.

The page holds no data and no token; it calls the API with the cookie (see ``sessions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles

from ragd.daemon.server.sessions import COOKIE, SESSION_TTL_S, Sessions

STATIC = Path(__file__).parent / "static"
NEXT = r"^/(#[a-z]{1,20})?$"  # only places on the page itself: a link cannot redirect anywhere else
_SPENT = """<!doctype html><meta charset="utf-8"><title>ragd</title>
<p>This link has been used already or has expired. Run <code>ragd open</code> (or use the tray's Ask…) for a
new one.</p>"""


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"next": "/#ask"}]})
    next: str = Field("/#ask", pattern=NEXT, description="Where on the page the link leads: `/` or `/#view`.")


def mount(app: FastAPI, sessions: Sessions) -> None:
    """The page at ``/``, its files under ``/static``, and the link exchange."""
    web = APIRouter()

    @web.get("/", include_in_schema=False)
    def page() -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    @web.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC / "icon.svg", media_type="image/svg+xml")

    @web.get("/session", include_in_schema=False)
    def session(code: Annotated[str, Query(max_length=100)] = "",
                next: Annotated[str, Query(pattern=NEXT)] = "/#ask") -> Response:
        session_id = sessions.redeem(code)
        if session_id is None:
            return HTMLResponse(_SPENT, status_code=403)
        response = RedirectResponse(next, status_code=303)
        response.set_cookie(COOKIE, session_id, max_age=int(SESSION_TTL_S), path="/", httponly=True,
                            samesite="strict")
        return response

    @web.post("/v1/session/link", summary="A one-time link that opens the web page signed in (for `ragd open`)")
    def link(request: Request, body: LinkRequest | None = None) -> dict[str, Any]:
        target = body.next if body is not None else "/#ask"
        url = request.url_for("session").include_query_params(code=sessions.new_code(), next=target)
        return {"url": str(url)}

    app.include_router(web)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
