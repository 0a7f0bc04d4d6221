"""The server: Streamlit's own (app/main.py and its pages) plus one route of ours, the one that
sets the sign-in cookie (dashboard/access/sessions.py). Start it with

    streamlit run app/serve.py [--server.port N]

(`streamlit run` finds the ASGI app below and serves it with its usual settings,
.streamlit/config.toml included). Started as `streamlit run app/main.py` instead, the dashboard
works the same, but a reload signs the user out: there is no route to set the cookie.

The route, POST /api/session with the one-time ticket in the X-Neo-Margin-Ticket header, answers
204 and sets the cookie (HttpOnly, SameSite=Strict; Secure behind HTTPS) when the ticket is good,
403 with nothing set when not. DELETE /api/session clears the cookie (the session itself is ended
on the server by the sign-out). A custom header and SameSite=Strict keep another site's page from
posting here; the ticket is single-use, short-lived and unguessable besides.
"""

from __future__ import annotations

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboard.access import sessions


def _secure(request: Request) -> bool:
    """Secure when the browser's page is HTTPS: the request's own scheme, a proxy's
    X-Forwarded-Proto, or the page's Origin (a TLS proxy that adds no header still forwards the
    Origin the browser sent with its POST). Only a page served over plain HTTP (localhost, tests)
    gets a cookie without Secure; a Secure cookie is never sent to a plain-HTTP port of the host."""
    return (
        request.url.scheme == "https"
        or request.headers.get("x-forwarded-proto", "").lower() == "https"
        or request.headers.get("origin", "").lower().startswith("https://")
    )


async def session_cookie(request: Request) -> Response:
    if request.method == "DELETE":
        response = Response(status_code=204)
        response.delete_cookie(sessions.COOKIE, **sessions.cookie_attributes(_secure(request)))
        return response
    token = sessions.STORE.redeem(request.headers.get(sessions.TICKET_HEADER, ""))
    if token is None:
        return Response(status_code=403, headers={"Cache-Control": "no-store"})
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(sessions.COOKIE, token, **sessions.cookie_attributes(_secure(request)))
    return response


app = st.App("main.py", routes=[Route(sessions.ROUTE, session_cookie, methods=["POST", "DELETE"])])
