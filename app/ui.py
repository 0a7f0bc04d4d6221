"""What every page shares: who is looking, the warehouse connection, cached figures, the data-cut
stamp. The only Streamlit code outside the page files; the figures themselves come from the
dashboard package."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard import i18n
from dashboard.access.roles import Viewer, may_open
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import _
from dashboard.outputs import escape
from dashboard.store import cuts, warehouse

WAREHOUSE_ENV = "NEO_MARGIN_WAREHOUSE"

# The tables' own CSV download and clipboard copy are off: an export leaves through `export_csv`
# only, audited and formula-escaped. (A convenience control, not a barrier: the cells are in the
# browser. Belongs in .streamlit/config.toml [client] too; set here so no deployment lacks it.)
st.set_option("client.disableDataExport", True)

md = escape.markdown
"""A value from the data, as Markdown that shows its text and nothing else (no image, no link):
every st.markdown / caption / write / info / warning / error / metric label or value that holds a
value from the data passes it through `md` first."""


def warehouse_dir() -> str:
    return os.environ.get(WAREHOUSE_ENV, "data/warehouse")


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    """One read-only connection per warehouse file, shared by all sessions (a cursor per query)."""
    return duckdb.connect(path, read_only=True)


CUT_KEY = "_cut"
"""The retained cut this session has reopened (its build id; absent: the current cut)."""


def _stamp(path: Path) -> tuple:
    try:
        st_ = path.stat()
        return (st_.st_mtime_ns, st_.st_size)
    except OSError:
        return (0, 0)


@st.cache_data(show_spinner=False, max_entries=16)
def _cut_list(wh: str, stamps: tuple) -> list[cuts.Cut]:
    """The warehouse's retained cuts with their pins, read again when a build or the audit log changes
    (`stamps`: their change times and sizes, part of the cache key)."""
    return cuts.cuts(wh)


def cut_list() -> list[cuts.Cut]:
    from dashboard.access import audit

    wh = warehouse_dir()
    return _cut_list(wh, (_stamp(Path(wh) / "builds"), _stamp(Path(wh) / "current"), _stamp(audit.audit_path())))


def reopenable(cut: cuts.Cut) -> bool:
    """A pinned cut can be reopened as it was: its pin holds the digests its files are checked
    against. (A look's cut is kept forever but reopened only once pinned: a look records no digests.)"""
    return bool(cut.pins)


@st.cache_data(show_spinner=False, max_entries=64)
def _verified(build_dir: str, pinned: tuple, stamps: tuple) -> list[str]:
    """What differs from the files the cut's pins vouch for (hashed once per file change: `stamps`)."""
    from dashboard.access import pins

    return [
        x for name, digests in pinned for x in pins.verify(Path(build_dir), {"name": name, "digests": dict(digests)})
    ]


def reopened() -> cuts.Cut | None:
    """The pinned cut this session reads instead of the current one, or None. A cut whose files are
    not the ones it was pinned with is refused (the page stops), never shown as that cut."""
    chosen = st.session_state.get(CUT_KEY)
    if not chosen:
        return None
    cut = next((c for c in cut_list() if c.build_id == chosen and reopenable(c)), None)
    if cut is None or warehouse.current_build(warehouse_dir()).name == cut.build_id:
        st.session_state.pop(CUT_KEY, None)
        return None
    problems = _verified(  # hashable keys: the pins' digests, the files' change stamps
        str(cut.build_dir),
        tuple((p["name"], tuple(sorted(p["digests"].items()))) for p in cut.pins),
        tuple(_stamp(cut.build_dir / f) for f in (warehouse.BLINDED, warehouse.CLOSED, warehouse.MANIFEST)),
    )
    if problems:
        st.error(
            md(_("The cut {name} cannot be reopened: {problems}").format(name=cut.label, problems="; ".join(problems)))
        )
        st.stop()  # on every page until the current cut (or another) is chosen in the sidebar
    return cut


def viewed_build() -> Path:
    """The folder of the cut this session reads: the current build, or a pinned cut reopened."""
    cut = reopened()
    return cut.build_dir if cut else warehouse.current_build(warehouse_dir())


def viewed_manifest() -> dict:
    return warehouse.manifest(warehouse_dir(), build=viewed_build())


def connection(viewer: Viewer) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The connection a viewer may use: the blinded file, or the closed one in a closed session, of
    the current cut or the pinned cut this session reopened (read-only: every connection is)."""
    build = viewed_build()
    path = build / (warehouse.CLOSED if viewer.closed else warehouse.BLINDED)
    return _connection(str(path)), str(path)


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(module: str, name: str, path: str, role: str, site: str | None, args: tuple, lang: str = i18n.DEFAULT):
    """A figure function's result, keyed by the warehouse file, the role, the site and the
    language: a cached result is never handed to another role or another site, a new build is a
    new key, and a figure titled in Chinese is not shown to a reader of English."""
    fn = getattr(importlib.import_module(module), name)
    con = _connection(path)
    with i18n.using(lang):
        return fn(con, Viewer(role, site), *args)


def cached(fn, viewer: Viewer, *args):
    _con, path = connection(viewer)
    return _cached(fn.__module__, fn.__name__, path, viewer.role, viewer.site_filter, tuple(args), i18n.language())


LANG_KEY = "_lang"
"""The language this session's person chose with the switch (session state)."""


def language(cfg: TrialConfig | None = None) -> str:
    """The language of this session: the switch's choice; else the signed-in user's own (their
    account's, or the single sign-on's locale claim); else the browser's first language we offer."""
    chosen = st.session_state.get(LANG_KEY)
    if chosen in i18n.LANGUAGES:
        return chosen
    viewer = current_viewer()
    if viewer is not None and viewer.user:
        from dashboard.access import accounts

        own = i18n.normalize(accounts.language_of(viewer.user))  # a hand-edited users file: checked again
        if own:
            return own
    if getattr(st.user, "is_logged_in", False):
        from dashboard.access import accounts

        own = accounts.language_from_claims(dict(st.user), cfg)
        if own:
            return own
    try:
        browser = st.context.locale or st.context.headers.get("Accept-Language")
    except Exception:  # no browser (AppTest, a bare script run)
        browser = None
    return i18n.negotiate(browser)


def language_switch(where=None) -> None:
    """The language switch: each language named in itself, so either reader finds their own."""
    current = language()
    options = list(i18n.LANGUAGES)
    (where or st).selectbox(
        "语言 / Language",  # i18n: verbatim (both languages, whichever is shown)
        options,
        index=options.index(current),
        format_func=i18n.LANGUAGES.get,
        key="_lang_switch",
        on_change=_switched,
    )


def _switched() -> None:
    st.session_state[LANG_KEY] = st.session_state["_lang_switch"]


@st.cache_data(show_spinner=False, max_entries=64)
def funnel_limits(p0: float, n_max: int) -> pd.DataFrame:
    """Funnel-plot limits for denominators 1..n_max: pure arithmetic on a pooled rate, cached
    because the exact binomial quantiles were 6% of the server's CPU under load."""
    from dashboard.stats.rates import funnel_limits as limits

    return limits(p0, range(1, n_max + 1))


def current_viewer() -> Viewer | None:
    return st.session_state.get("viewer")


def page(key: str) -> Viewer:
    """Top of every page: the role is checked again here (a page must not trust the navigation)."""
    viewer = current_viewer()
    if viewer is None or not may_open(viewer, key):
        st.error(_("This page is not available to your role."))
        st.stop()
    return viewer


def closed_page(key: str) -> Viewer:
    """Top of a closed-session page: the role is checked again here, the closed role is required
    (not only the page list), and the view goes to the audit log once per visit of the page."""

    viewer = page(key)
    if not viewer.closed:
        st.error(_("This page is for the DSMB closed session only."))
        st.stop()
    manifest = viewed_manifest()
    visit = (key, manifest.get("build_id"))
    if st.session_state.get("_closed_visit") != visit:
        from app.auth import on_record

        on_record(
            f"closed view: {key}",
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            data_cut={"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")},
        )
        st.session_state["_closed_visit"] = visit
    st.markdown(_(":red-background[**CONFIDENTIAL - DSMB CLOSED SESSION**] outcomes by arm"))
    return viewer


def header(title: str, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Title and the data-cut stamp every page carries."""
    cfg = cfg or load_trial()
    cut = cached(_data_cut, viewer)
    st.title(title)
    scope = _("site {site}").format(site=md(viewer.site)) if viewer.site_filter else _("all sites")
    st.caption(
        _("{trial} ({registry_id}) · data cut-off **{cutoff}** · exported {exported} · {scope} · {role}").format(
            trial=md(cfg.trial.name),
            registry_id=md(cfg.trial.registry_id),
            cutoff=md(i18n.long_date(cut["cutoff"])),
            exported=md(cut["exported"]),
            scope=scope,
            role=md(i18n.fact(cfg.roles[viewer.role], "label")),
        )
    )
    if cut["is_demo"]:
        st.caption(_(":orange[Synthetic demo trial: no real patient data.]"))
    old = reopened()
    if old is not None:
        st.warning(
            _(
                "Reopened: **{name}** (cut-off {cutoff}), read-only and exactly as it was pinned. "
                "Choose the current cut under Data cut in the sidebar to return."
            ).format(name=md(old.label), cutoff=md(i18n.long_date(old.cutoff)))
        )
    return cut


def cut_controls(viewer: Viewer, cfg: TrialConfig | None = None) -> None:
    """The sidebar's data cut: the current one or a pinned cut reopened as it was; and, for a role
    that may pin (trial.toml [cuts] pin_roles), pinning the cut in view under a name, on the record."""
    from dashboard.access import pins

    cfg = cfg or load_trial()
    all_cuts = cut_list()
    now = warehouse.current_build(warehouse_dir()).name
    old = [c for c in reversed(all_cuts) if reopenable(c) and c.build_id != now]
    options = [""] + [c.build_id for c in old]
    # the words made in this run (a format_func may be called outside it, in another language)
    labels = {"": _("current cut")} | {
        c.build_id: _("{name} · cut-off {cutoff}").format(name=c.label, cutoff=c.cutoff) for c in old
    }
    chosen = st.session_state.get(CUT_KEY) or ""
    st.selectbox(
        _("Data cut"),
        options,
        index=options.index(chosen) if chosen in options else 0,
        format_func=labels.get,
        # a key per language: the options' words change with it (the choice itself is CUT_KEY's)
        key=f"_cut_choice_{i18n.language()}",
        on_change=_cut_chosen,
        args=(f"_cut_choice_{i18n.language()}",),
    )
    committees = [c for c in cfg.cuts.committees if pins.may_pin(viewer.role, c, cfg)]
    if not committees:
        return
    in_view = next((c for c in all_cuts if c.build_id == (chosen or now)), None)
    if in_view is None:
        return
    with st.expander(_("Pin this cut")):
        with st.form("pin-cut", clear_on_submit=True, border=False):
            words = {c: _committee_label(c) for c in committees}
            committee = st.selectbox(_("For the committee"), committees, format_func=words.get)
            name = st.text_input(
                _("Name"), placeholder=_("e.g. DSMB look 1, Steering 2027-Q2"), max_chars=pins.NAME_MAX
            )
            if st.form_submit_button(_("Pin on the record")):
                try:
                    pins.pin(
                        name=name,
                        committee=committee,
                        build_id=in_view.build_id,
                        cutoff=in_view.cutoff,
                        build_dir=in_view.build_dir,
                        user=viewer.user,
                        role=viewer.role,
                        cfg=cfg,
                    )
                except pins.PinError as exc:
                    st.error(md(str(exc)))
                else:
                    st.success(_("Pinned as {name}.").format(name=md(" ".join(name.split()))))


def _committee_label(committee: str) -> str:
    return {"dsmb": _("DSMB"), "steering": _("Steering committee")}.get(committee, committee)


def _cut_chosen(key: str) -> None:
    st.session_state[CUT_KEY] = st.session_state.get(key) or None


def _data_cut(con, viewer):
    from dashboard.views.enrollment import data_cut

    return data_cut(con)


def chart(fig, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", config={"displaylogo": False, "responsive": True}, key=key)


TABLE_ROWS_SHOWN = 25
"""A table of up to this many rows is shown whole (no inner scrolling hides its last rows); a
longer one (a listing) scrolls inside a box of this many rows."""


def table(df: pd.DataFrame, **kw) -> None:
    kw.setdefault("height", table_height(min(len(df), TABLE_ROWS_SHOWN)))
    st.dataframe(df, hide_index=True, width="stretch", **kw)


def for_people(df: pd.DataFrame, codes=(), strata=(), cfg: TrialConfig | None = None) -> tuple[pd.DataFrame, dict]:
    """A table's values as people read them (labels.frame: codes and strata labelled, dates without
    a time, missing text as the dash) under its own column names, and the column_config that shows
    those names as labels: the screen reads "Subject", an exported listing keeps "subjid"."""
    from dashboard.outputs import labels

    shown = labels.frame(df, cfg, codes=codes, strata=strata)
    shown.columns = df.columns
    return shown, {c: labels.column(c, cfg) for c in df.columns}


def table_height(rows: int, row_height: int = 35) -> int:
    """A dataframe's height that shows all its `rows` and its header, with no inner scrolling."""
    return row_height * (rows + 1) + 3


def static_table(df: pd.DataFrame) -> None:
    """A small table that wraps its cells to the page's width instead of scrolling sideways (a
    phone's 390 px). Its cells are Markdown: text from the data must pass through `md` first."""
    st.table(df, hide_index=True, border="horizontal")


def readable(value) -> str:
    """A value of the audit log (a dict, a list, a time, nothing) as text a person reads:
    "Listing: deviation listing · Rows: 10", never a Python dict, "None" or a midnight time."""
    from dashboard.outputs import labels

    if isinstance(value, dict):
        parts = [f"{labels.column(k)}: {readable(v)}" for k, v in value.items() if not labels.is_missing(v)]
        return " · ".join(parts) if parts else labels.MISSING
    if isinstance(value, (list, tuple, set)):
        return ", ".join(readable(v) for v in value) if value else labels.MISSING
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:  # an ISO time: to the second, in the log's own zone (UTC)
            return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    return labels.text(value)


def pct(x, digits: int = 1) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * x:.{digits}f}%"


def suppressed_notice(reason: str) -> None:
    st.warning(
        _(
            "Outcomes are not shown for this population: {reason}. Under the blinding rule a pooled figure "
            "of a group that is one arm, or smaller than the minimum cell, would reveal arm-level results."
        ).format(reason=md(reason))
    )


def pooled(fn, viewer: Viewer) -> dict:
    """A pooled-outcome figure function's result; the page stops with the blinding notice when
    the viewer's population may not be shown (dashboard.access.blinding.population_check)."""
    result = cached(fn, viewer)
    if "suppressed" in result:
        suppressed_notice(result["suppressed"])
        st.stop()
    return result


def data_cut() -> dict:
    """The build and cut-off every audit entry of a page names (a reopened cut's, when one is)."""
    manifest = viewed_manifest()
    return {"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")}


def record(viewer: Viewer, action: str, detail: dict | None = None) -> dict:
    """An export or a retrieval, on the audit log (who, what, the data cut); the entry is returned."""
    from app.auth import on_record

    return on_record(action, user=viewer.user, role=viewer.role, site=viewer.site, detail=detail, data_cut=data_cut())


_DELIVER = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font-family: "Source Sans", sans-serif; font-size: 14px; margin: 0; color: #31333f; }}
a {{ color: #1f5f8b; }}</style></head><body>
<span id="state">{preparing}</span> <a id="save" download="{name}" hidden>{again}</a>
<script>
const b64 = {b64};
const bin = atob(b64);
const bytes = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
const url = URL.createObjectURL(new Blob([bytes], {{ type: {mime} }}));
const save = document.getElementById("save");
save.href = url;
save.hidden = false;
document.getElementById("state").textContent = {done};
save.click();
</script></body></html>"""


def deliver(data: bytes, file_name: str, mime: str) -> None:
    """Hand a file to this session's browser over the session's own websocket, never through
    Streamlit's media file manager (whose /media/ URLs answer anyone who has them, with no session).

    The bytes travel inside the page message, in a component iframe (st.iframe's srcdoc): a script
    there makes a Blob of them and saves it (the browser's download), with a link to save it again.
    Nothing is stored on the server and no URL is made that another browser could fetch: a blob:
    URL lives in this document only. Render this only in the run that follows the user's click
    (the caller has written the audit entry): on the next rerun the iframe and the bytes are gone."""
    done = _("{file} ({kb} kB) sent to this browser.").format(file=file_name, kb=i18n.number(len(data) / 1024, 0))
    page = _DELIVER.format(
        name=escape.html(file_name),
        preparing=escape.html(_("Preparing {file}...").format(file=file_name)),
        again=escape.html(_("Save {file} again").format(file=file_name)),
        b64=_js(base64.b64encode(data).decode("ascii")),
        mime=_js(mime),
        done=_js(done),
    )
    st.iframe(page, height=40, alt=_("download of {file_name}").format(file_name=file_name))


def _js(value: str) -> str:
    """A string as a JavaScript literal inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def export_csv(frame: pd.DataFrame, listing: str, viewer: Viewer, key: str, file_stem: str | None = None) -> None:
    """The one way a listing leaves the dashboard as CSV: a button; on its click the listing is
    formula-escaped (escape.csv_bytes: a text cell starting with = + - @ tab or CR gets a leading
    apostrophe), written to the audit log (who, which listing, how many rows, the data cut, the
    file's SHA-256) and sent to this session's browser only (`deliver`)."""
    # the listing's name is marked N_() by the page: shown in the reader's language, kept in English
    # on the audit record (a record must not change with who read it)
    label = _("Export {listing} (CSV)").format(listing=_(listing))
    if not st.button(label, key=f"csv-{key}", icon=":material/download:"):
        return
    data = escape.csv_bytes(frame)
    cut = data_cut()
    name = f"neo-margin-{file_stem or key}-{cut.get('cutoff')}.csv"
    record(
        viewer,
        "export: listing (csv)",
        detail={
            "listing": listing,
            "rows": int(len(frame)),
            "columns": [str(c) for c in frame.columns],
            "file": name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    deliver(data, name, "text/csv")


def listing(frame: pd.DataFrame, name: str, viewer: Viewer, key: str, **kw) -> None:
    """A subject listing: the table, and its audited CSV export beneath it."""
    table(frame, **kw)
    export_csv(frame, name, viewer, key)


PHONE_WIDTH_PX = 768
"""Below this viewport width Streamlit draws the sidebar over the page (its mobile layout)."""

_PHONE_NAVIGATION = """<script>
(() => {
  // Installed once per browser tab; a constant script that reads and sends no data.
  if (window.__neoMarginPhoneNav) return;
  window.__neoMarginPhoneNav = true;
  const narrow = () => window.matchMedia("(max-width: %(width)dpx)").matches;
  const collapse = () => {
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    if (!sidebar || sidebar.getAttribute("data-collapsed") === "true") return;
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (button) button.click();
  };
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element && event.target.closest('[data-testid="stSidebarNavLink"]');
    if (link && narrow()) setTimeout(collapse, 0);
  }, true);
})();
</script>"""


def phone_navigation() -> None:
    """On a phone the sidebar closes after a page is chosen (issue 13). Called once per run of a
    signed-in page by app/main.py, inside the sidebar.

    Streamlit 1.67 closes the sidebar after a navigation click only when the browser's user agent
    names a mobile device (its `isMobile()`), so a narrow window, a tablet or a phone browser in
    desktop mode keeps the sidebar over the page it just opened. This constant script (no data in
    it, installed once per tab) listens for clicks on the navigation's links and, when the viewport
    is narrower than PHONE_WIDTH_PX, presses the sidebar's own collapse button."""
    st.html(_PHONE_NAVIGATION % {"width": PHONE_WIDTH_PX}, unsafe_allow_javascript=True)


_DOCUMENT_LANGUAGE = """<script>document.documentElement.lang = %(lang)s;</script>"""


def document_language() -> None:
    """The page's `<html lang>`: zh-Hans when the session reads Chinese (screen readers, the
    browser's hyphenation and its choice of Han glyph forms follow it); Streamlit's own is "en".
    A constant script with no data in it, called once per run by app/main.py."""
    st.html(_DOCUMENT_LANGUAGE % {"lang": _js(i18n.html_lang())}, unsafe_allow_javascript=True)


APP_DIR = Path(__file__).resolve().parent
PAGES_DIR = APP_DIR.parent / "pages"
