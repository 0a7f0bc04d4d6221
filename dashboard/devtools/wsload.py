"""A load client that speaks Streamlit's websocket protocol the way the browser does.

The browser-driven concurrency run puts 20 Chromium renderers on the same two cores as the
server, so a stall there can be the client's. This client sends the same `BackMsg`s a browser
sends (captured from Chromium: a first `rerun_script`, the sign-in form's widget states, then a
`rerun_script` per page with its `page_script_hash`) and reads the `ForwardMsg`s, so what it
measures is the server: from sending a page request to the run's `script_finished`, with every
delta of the page received and parsed.

Errors it counts: an exception element on the page, a run that ends other than successfully,
no answer within the timeout, and a dropped connection.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

_FINISHED = ForwardMsg.ScriptFinishedStatus


class LoadError(Exception):
    pass


@dataclass
class PageRun:
    """What one script run sent: its final status, element counts and widgets by label."""

    status: str = ""
    elements: int = 0
    charts: int = 0
    exceptions: list[str] = field(default_factory=list)
    text_inputs: dict[str, str] = field(default_factory=dict)
    form_submit: str | None = None


class Session:
    """One browser tab's websocket session."""

    def __init__(self, url: str, timeout: float = 60.0, claim_cached: bool = False):
        parts = urlsplit(url)
        self.http = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = f"ws://{parts.netloc}/_stcore/stream"
        self.timeout = timeout
        self.pages: dict[str, str] = {}  # page name -> page_script_hash
        self.current_hash = ""
        # claim_cached: tell the server, as the browser does, which large messages we hold, so it
        # may answer with references (ForwardMsg.ref_hash) instead of the messages themselves
        self.claim_cached = claim_cached
        self.held: set[str] = set()
        self.refs_received = 0
        self._ws = None

    async def __aenter__(self) -> Session:
        from websockets.asyncio.client import connect

        self._ws = await connect(
            self.ws_url, subprotocols=["streamlit"], origin=self.http, max_size=None, open_timeout=self.timeout
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    def _state(self, page_hash: str = "") -> BackMsg:
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash = page_hash
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url, info.is_embedded, info.color_scheme = self.http + "/", False, "light"
        if self.claim_cached:
            state.cached_message_hashes.extend(sorted(self.held))
        return msg

    async def run(self, msg: BackMsg) -> PageRun:
        """Send one rerun request; read until a run finishes other than 'early for a rerun'
        (the app's own `st.rerun()` after sign-in is followed to its end)."""
        await self._ws.send(msg.SerializeToString())
        page = PageRun()
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoadError(f"no finished run within {self.timeout:.0f} s")
            try:
                data = await asyncio.wait_for(self._ws.recv(), left)
            except TimeoutError:
                raise LoadError(f"no finished run within {self.timeout:.0f} s") from None
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            kind = fwd.WhichOneof("type")
            if fwd.metadata.active_script_hash:
                self.current_hash = fwd.metadata.active_script_hash
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._element(fwd.delta.new_element, page)
                if fwd.hash:
                    self.held.add(fwd.hash)
            elif kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "ref_hash":
                # the browser looks a reference up in its own message cache and fails for good
                # when it has evicted it ("Cached ForwardMsg MISS"): the server must not send one
                self.refs_received += 1
                page.elements += 1
            elif kind == "script_finished":
                status = _FINISHED.Name(fwd.script_finished)
                if status == "FINISHED_EARLY_FOR_RERUN":
                    page = PageRun()  # the rerun's elements replace these
                    continue
                page.status = status
                return page

    @staticmethod
    def _element(element, page: PageRun) -> None:
        page.elements += 1
        which = element.WhichOneof("type")
        if which == "exception":
            page.exceptions.append(f"{element.exception.type}: {element.exception.message[:120]}")
        elif which == "plotly_chart":
            page.charts += 1
        elif which == "text_input":
            page.text_inputs[element.text_input.label] = element.text_input.id
        elif which == "button" and element.button.is_form_submitter:
            page.form_submit = element.button.id

    async def open_app(self) -> PageRun:
        return await self.run(self._state())

    async def sign_in(self, user: str, password: str, form: PageRun) -> PageRun:
        """Fill the sign-in form found in `form` and submit it, as the browser does."""
        try:
            name_id, pass_id = form.text_inputs["User name"], form.text_inputs["Password"]
        except KeyError:
            raise LoadError(f"no sign-in form on the first page (inputs: {sorted(form.text_inputs)})") from None
        if form.form_submit is None:
            raise LoadError("the sign-in form has no submit button")
        msg = self._state(self.current_hash)
        widgets = msg.rerun_script.widget_states.widgets
        for wid, value in ((name_id, user), (pass_id, password)):
            w = widgets.add()
            w.id, w.string_value = wid, value
        w = widgets.add()
        w.id, w.trigger_value = form.form_submit, True
        page = await self.run(msg)
        if not self.pages:
            raise LoadError("signed in, but the server sent no navigation")
        return page

    async def open_page(self, name: str) -> PageRun:
        return await self.run(self._state(self.pages[name]))


def problems(page: PageRun, name: str) -> list[str]:
    """What makes a page run count as an error: an exception, a failed run, an empty page."""
    out = [f"{name}: exception {e}" for e in page.exceptions]
    if page.status != "FINISHED_SUCCESSFULLY":
        out.append(f"{name}: run ended {page.status}")
    if page.elements < 3:
        out.append(f"{name}: only {page.elements} elements")
    return out


async def load(url: str, user: str, password: str, sessions: int, seconds: float, timeout: float = 60.0) -> dict:
    """`sessions` clients at once, each signing in and then opening the pages in turn with no
    pause for `seconds`. Times are from a page request to the end of its run."""
    times: list[float] = []
    sign_ins: list[float] = []
    errors: list[str] = []
    per_page: dict[str, list[float]] = {}

    async def one(k: int) -> None:
        try:
            async with Session(url, timeout) as s:
                t0 = time.perf_counter()
                form = await s.open_app()
                await s.sign_in(user, password, form)
                sign_ins.append(time.perf_counter() - t0)
                names = list(s.pages)
                end, i = time.monotonic() + seconds, k
                while time.monotonic() < end:
                    name = names[i % len(names)]
                    t0 = time.perf_counter()
                    page = await s.open_page(name)
                    elapsed = time.perf_counter() - t0
                    found = problems(page, name)
                    errors.extend(f"session {k}: {p}" for p in found)
                    if not found:
                        times.append(elapsed)
                        per_page.setdefault(name, []).append(elapsed)
                    i += 1
        except Exception as exc:  # a timeout or a dropped connection ends the session: counted
            errors.append(f"session {k}: {type(exc).__name__}: {str(exc)[:160]}")

    await asyncio.gather(*(one(k) for k in range(sessions)))
    return {"times": times, "sign_ins": sign_ins, "errors": errors, "per_page": per_page}
