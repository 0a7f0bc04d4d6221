"""Reports to take away: the open report (pooled pages) for every trial role, and the closed
report for the DSMB closed session. Each one made is on the audit log."""

import tempfile
from pathlib import Path

import streamlit as st

from app import ui
from dashboard.access import audit
from dashboard.config import load_trial
from dashboard.outputs import report
from dashboard.store import warehouse

cfg = load_trial()
viewer = ui.page("reports")
ui.header("Reports", viewer, cfg)
manifest = warehouse.manifest(ui.warehouse_dir())
cut = {"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")}
kinds = ["open"] + (["closed"] if viewer.closed else [])


@st.cache_data(show_spinner=False, max_entries=8)
def _report(path: str, role: str, site: str | None, user: str | None, kind: str) -> str:
    from dashboard.access.roles import Viewer

    con = ui._connection(path)
    return report.build_html(con, Viewer(role, site, user), cfg, closed_report=(kind == "closed"))


def _record(kind: str, fmt: str) -> None:
    audit.append(f"export: {kind} report ({fmt})", user=viewer.user, role=viewer.role, site=viewer.site, data_cut=cut)


for kind in kinds:
    st.subheader("Closed report (DSMB)" if kind == "closed" else "Open report (pooled outcomes)")
    if kind == "closed":
        st.markdown(":red-background[**" + report.CONFIDENTIAL + "**]")
    if st.button(f"Make the {kind} report", key=f"make-{kind}"):
        _con, path = ui.connection(viewer)
        st.session_state[f"report-{kind}"] = _report(path, viewer.role, viewer.site_filter, viewer.user, kind)
    html = st.session_state.get(f"report-{kind}")
    if html:
        name = f"neo-margin-{kind}-report-{manifest.get('cutoff')}"
        st.download_button(
            "Download HTML",
            html.encode("utf-8"),
            file_name=f"{name}.html",
            mime="text/html",
            key=f"html-{kind}",
            on_click=_record,
            args=(kind, "html"),
        )
        if report.chromium():
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "r.html"
                src.write_text(html, encoding="utf-8")
                if st.button("Make the PDF", key=f"pdf-{kind}"):
                    st.session_state[f"pdf-{kind}"] = report.html_to_pdf(src, Path(tmp) / "r.pdf").read_bytes()
            if st.session_state.get(f"pdf-{kind}"):
                st.download_button(
                    "Download PDF",
                    st.session_state[f"pdf-{kind}"],
                    file_name=f"{name}.pdf",
                    mime="application/pdf",
                    key=f"pdfdl-{kind}",
                    on_click=_record,
                    args=(kind, "pdf"),
                )
