"""Reports to take away: the open report (pooled pages) for every trial role, and the closed
report for the DSMB closed session.

A report is made when asked for and handed to this session's browser only (app.ui.deliver: the
bytes travel over the session's websocket into a component iframe that saves them), never through
Streamlit's media file manager, whose /media/ URLs answer without a session. Each report made is
on the audit log before it is built, and a closed report prints the log's anchor (the seq and
hash of that very entry), so a later truncation of the log is detected against the report.

The page is in the reader's language, and so is the report it makes (made in this session's
language, dashboard.i18n); the audit entry's action and detail are records, in English."""

import tempfile
from pathlib import Path

import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import report

cfg = load_trial()
viewer = ui.page("reports")
ui.header(_("Reports"), viewer, cfg)
manifest = ui.viewed_manifest()
kinds = ["open"] + (["closed"] if viewer.closed else [])
pdf_possible = report.chromium() is not None


def _make(kind: str, fmt: str) -> tuple[bytes, str, str]:
    """The report's bytes, file name and type; its audit entry is written first."""
    if kind == "closed":
        viewer.require_closed()
    entry = ui.record(viewer, f"export: {kind} report ({fmt})", detail={"delivery": "in-session download"})
    # the anchor is this entry itself (as audit.anchor() would give it just now, without the race
    # with another session's entry in between)
    anchor = {"seq": entry["seq"], "hash": entry["hash"]} if kind == "closed" else None
    con, _path = ui.connection(viewer)
    html = report.build_html(con.cursor(), viewer, cfg, closed_report=(kind == "closed"), audit_anchor=anchor)
    name = f"neo-margin-{kind}-report-{manifest.get('cutoff')}"
    if fmt == "html":
        return html.encode("utf-8"), f"{name}.html", "text/html"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "r.html"
        src.write_text(html, encoding="utf-8")
        pdf = report.html_to_pdf(src, Path(tmp) / "r.pdf").read_bytes()
    return pdf, f"{name}.pdf", "application/pdf"


TEXT = {
    "open": {
        "subheader": N_("Open report (pooled outcomes)"),
        "html": N_("Make the open report"),
        "pdf": N_("Make the open report as PDF"),
        "pdf_failed": N_(
            "The PDF could not be made ({error}). Make the open report as HTML and print it from the "
            "browser, or ask the administrator to check Chromium on the server."
        ),
    },
    "closed": {
        "subheader": N_("Closed report (DSMB)"),
        "html": N_("Make the closed report"),
        "pdf": N_("Make the closed report as PDF"),
        "pdf_failed": N_(
            "The PDF could not be made ({error}). Make the closed report as HTML and print it from the "
            "browser, or ask the administrator to check Chromium on the server."
        ),
    },
}
"""Each kind's words, whole sentences (never 'the ' + a translated kind + ' report')."""

for kind in kinds:
    subheader, make_html, make_pdf, pdf_failed = (TEXT[kind][k] for k in ("subheader", "html", "pdf", "pdf_failed"))
    st.subheader(_(subheader))
    if kind == "closed":
        st.markdown(":red-background[**" + _(report.CONFIDENTIAL) + "**]")
    left, right = st.columns(2)
    with left:
        html_asked = st.button(_(make_html), key=f"make-{kind}", help=_("HTML, charts included"))
    with right:
        pdf_asked = pdf_possible and st.button(_(make_pdf), key=f"makepdf-{kind}")
    if html_asked or pdf_asked:
        try:
            with st.spinner(_("Making the report...")):
                data, file_name, mime = _make(kind, "pdf" if pdf_asked else "html")
        except report.PdfFailed as exc:
            # Chromium could not print it (missing, crashed, out of time): say so on the page
            # instead of the app's error screen; the HTML report still works
            st.error(_(pdf_failed).format(error=ui.md(str(exc))))
        else:
            with st.container(key=f"delivered-{kind}"):
                ui.deliver(data, file_name, mime)
    if kind == "closed":
        st.caption(
            _(
                "The closed report reaches this browser only, over this session's connection; nothing is "
                "kept on the server. Each one made is on the audit log, and the report prints the log's "
                "anchor (seq and hash) for `audit verify --anchor N:H`."
            )
        )
