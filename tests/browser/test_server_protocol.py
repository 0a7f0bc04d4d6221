"""The server as the browser's websocket sees it (dashboard.devtools.wsload speaks Streamlit's protocol).

Found under 20 concurrent Chromium sessions (docs/performance.md): the server answered a page
request with a reference to a message the browser said it held; the browser had evicted it by
then and stopped for good ("Cached ForwardMsg MISS", streamlit/streamlit#9562 removed the
fallback). The deployment's configuration turns such references off; this proves it on a real
server, with a client that claims to hold every message it has been sent.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from conftest import HANG_MS, PASSWORD
from dashboard.access.roles import PAGES
from dashboard.devtools import wsload


def _open_twice(url: str, user: str, page_name: str):
    async def go():
        async with wsload.Session(url, timeout=HANG_MS / 1000, claim_cached=True) as s:
            form = await s.open_app()
            await s.sign_in(user, PASSWORD, form)
            first = await s.open_page(page_name)
            again = await s.open_page(page_name)
            return s, first, again

    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_the_server_never_answers_with_a_reference_to_the_browsers_cache(server):
    session, first, again = _open_twice(server["url"], "pi.user", "Accrual and sites")
    assert len(session.held) > 10  # the client did claim the page's messages
    assert session.refs_received == 0
    assert first.charts >= 2 and again.charts == first.charts
    assert again.elements == first.elements and not again.exceptions


def test_a_websocket_session_signs_in_and_gets_only_its_roles_pages(server):
    session, first, _ = _open_twice(server["url"], "steering.user", "Survival (pooled)")
    assert first.status == "FINISHED_SUCCESSFULLY" and not wsload.problems(first, "survival")
    closed_titles = {spec.title for spec in PAGES if spec.closed}
    assert closed_titles and not closed_titles & set(session.pages)
