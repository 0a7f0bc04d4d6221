"""Since the last meeting: what is new between two data cuts, as this role may see it.

From a cut (default: the last cut pinned for the role's committee, dashboard.store.cuts.baseline)
to another (default: the cut in view): new randomizations by site, new events (pooled for blinded
roles, by arm in the closed session), deviations and data findings new and resolved, sites newly
outside the funnel limits, values changed in records both cuts hold, and what the blinding rule
withheld. The difference itself is dashboard/views/changes.py; this page only shows it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import load_crf_spec, load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.store import cuts
from dashboard.views import changes as diff

cfg = load_trial()
viewer = ui.page("changes")
ui.header(_("Since the last meeting"), viewer, cfg)
policy = viewer.policy(cfg)


@st.cache_data(show_spinner=False, max_entries=32)
def difference(old: str, new: str, role: str, site: str | None, lang: str) -> dict:
    """The difference between two cuts' files, keyed by both folders, the role, the site and the
    language: never handed to another role or site, a new cut is a new key."""
    with i18n.using(lang):
        return diff.changes(Path(old), Path(new), Viewer(role, site), cfg)


@st.cache_data(show_spinner=False, max_entries=64)
def intact(build_dir: str, pins: tuple, stamps: tuple) -> list[str]:
    """What differs from the files a pinned cut's pins vouch for (hashed once per file change)."""
    from dashboard.access import pins as pinning

    return [x for p in pins for x in pinning.verify(Path(build_dir), {"digests": dict(p)})]


def _stamps(cut: cuts.Cut) -> tuple:
    out = []
    for name in ("blinded.duckdb", "closed.duckdb", "manifest.json"):
        try:
            s = (cut.build_dir / name).stat()
            out.append((s.st_mtime_ns, s.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


def _check(cut: cuts.Cut) -> None:
    """A pinned cut is compared only as it was pinned: changed files stop the page."""
    if not cut.pins:
        return
    problems = intact(
        str(cut.build_dir), tuple(tuple(sorted(p.get("digests", {}).items())) for p in cut.pins), _stamps(cut)
    )
    if problems:
        st.error(
            ui.md(
                _("The cut {name} cannot be compared: {problems}").format(name=cut.label, problems="; ".join(problems))
            )
        )
        st.stop()


def _name(cut: cuts.Cut) -> str:
    # an unpinned cut's label is its cut-off already ("cut-off 2028-06-30 (build)"): not twice
    return _("{name} · cut-off {cutoff}").format(name=cut.label, cutoff=cut.cutoff) if cut.pins else cut.label


all_cuts = ui.cut_list()
if len(all_cuts) < 2:
    st.info(_("Only one data cut has been published: there is nothing to compare it with yet."))
    st.stop()
by_id = {c.build_id: c for c in all_cuts}
ids = [c.build_id for c in reversed(all_cuts)]  # newest first
in_view = ui.viewed_build().name
to_default = in_view if in_view in by_id else ids[0]
since = cuts.baseline(ui.warehouse_dir(), viewer.role, cfg, to=by_id[to_default])
from_default = since.build_id if since is not None and since.build_id in by_id else ids[min(1, len(ids) - 1)]

left, right = st.columns(2)
from_id = left.selectbox(
    _("From the cut"), ids, index=ids.index(from_default), format_func=lambda b: _name(by_id[b]), key="changes-from"
)
to_id = right.selectbox(
    _("To the cut"), ids, index=ids.index(to_default), format_func=lambda b: _name(by_id[b]), key="changes-to"
)
old_cut, new_cut = by_id[from_id], by_id[to_id]
if from_id == to_id:
    st.info(_("Choose two different cuts."))
    st.stop()
if old_cut.build_id > new_cut.build_id:
    st.warning(_("The first cut is the later one: the difference reads backwards (what the earlier cut adds)."))
_check(old_cut)
_check(new_cut)
if viewer.closed:
    # the closed difference holds outcomes by arm: on the record once per pair of cuts viewed
    visit = ("changes", old_cut.build_id, new_cut.build_id)
    if st.session_state.get("_closed_visit") != visit:
        from app.auth import on_record

        on_record(
            "closed view: changes",
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            detail={"since": {"build_id": old_cut.build_id, "cutoff": old_cut.cutoff}},
            data_cut={"build_id": new_cut.build_id, "cutoff": new_cut.cutoff},
        )
        st.session_state["_closed_visit"] = visit
    st.markdown(_(":red-background[**CONFIDENTIAL - DSMB CLOSED SESSION**] outcomes by arm"))

d = difference(str(old_cut.build_dir), str(new_cut.build_dir), viewer.role, viewer.site_filter, i18n.language())
st.caption(
    _("From data cut-off {old} to {new}.").format(
        old=ui.md(i18n.long_date(d["from"]["cutoff"])), new=ui.md(i18n.long_date(d["to"]["cutoff"]))
    )
)
spec = load_crf_spec()
signals = {s.name: s for s in cfg.safety_signals}


def form_label(code: str) -> str:
    form = spec.forms.get(code)
    return f"{code} · {i18n.fact(form, 'label')}" if form is not None and form.label else str(code)


# ------------------------------------------------------------------ randomizations
st.subheader(_("New randomizations"))
rand = d["randomized"]
st.metric(_("Randomized between the two cuts"), rand["total"])
if rand["by_site"]:
    sites = pd.DataFrame({"siteid": list(rand["by_site"]), "n": list(rand["by_site"].values())})
    ui.chart(figures.bars(sites.siteid.tolist(), sites.n.tolist(), title=_("New randomizations by site")))
    ui.table(words.frame(sites, cfg))
if rand.get("subjects"):
    with st.expander(_("Subjects randomized between the two cuts")):
        ui.listing(
            pd.DataFrame({"subjid": rand["subjects"]}),
            N_("since the last meeting: new randomizations"),
            viewer,
            key="changes-randomized",
            column_config={"subjid": words.column("subjid", cfg)},
        )

# ------------------------------------------------------------------ events
st.subheader(_("New events"))
KINDS = {k: _(w) for k, w in diff.EVENT_WORDS.items()}
events = d["events"]
cols = st.columns(len(KINDS))
for col, (kind, label) in zip(cols, KINDS.items(), strict=True):
    n = events[kind]["pooled"]
    col.metric(label, words.MISSING if n is None else n)
if viewer.closed:
    arms = words.arm_labels(cfg)
    table = pd.DataFrame(
        [
            {
                _("Event"): label,
                **{arms[a]: events[k]["by_arm"].get(a, 0) for a in arms},
                _("Total"): events[k]["pooled"],
            }
            for k, label in KINDS.items()
        ]
    )
    ui.table(table)
    with st.expander(_("Subjects with a new event")):
        rows = [{"event": KINDS[k], "subjid": s} for k in KINDS for s in events[k].get("subjects", [])]
        ui.listing(
            pd.DataFrame(rows, columns=["event", "subjid"]),
            N_("since the last meeting: new events"),
            viewer,
            key="changes-events",
            column_config={"event": _("Event"), "subjid": words.column("subjid", cfg)},
        )
else:
    st.caption(
        _(
            "Pooled over both arms; events are counted for the whole trial, not by site (a site "
            "investigator: their own site, when the blinding rule shows it in both cuts). Records, not "
            "dates: an event is new when the earlier cut did not have it."
        )
    )

# ------------------------------------------------------------------ deviations and findings
st.subheader(_("Protocol deviations"))
dev = d["deviations"]
if isinstance(dev["new"], int):
    c1, c2 = st.columns(2)
    c1.metric(_("New"), dev["new"])
    c2.metric(_("Resolved"), dev["resolved"])
else:
    c1, c2 = st.columns(2)
    c1.metric(_("New"), len(dev["new"]))
    c2.metric(_("Resolved"), len(dev["resolved"]))
    for part, title, listing in (
        ("new", _("New deviations"), N_("since the last meeting: new deviations")),
        (
            "resolved",
            _("Resolved deviations (in the earlier cut, not in the later)"),
            N_("since the last meeting: resolved deviations"),
        ),
    ):
        if dev[part]:
            st.markdown(f"**{title}**")
            frame = pd.DataFrame(dev[part], columns=diff.DEVIATION_COLUMNS)
            shown, names_shown = ui.for_people(frame, codes=["dvcat", "dvsev"], cfg=cfg)
            ui.listing(shown, listing, viewer, key=f"changes-dv-{part}", column_config=names_shown)

st.subheader(_("Data findings"))
fin = d["findings"]
c1, c2 = st.columns(2)
c1.metric(_("New"), len(fin["new"]))
c2.metric(_("Resolved"), len(fin["resolved"]))
for part, title in (("new", _("New findings")), ("resolved", _("Resolved findings"))):
    if fin[part]:
        st.markdown(f"**{title}**")
        frame = pd.DataFrame(fin[part])
        counted = frame.groupby(list(frame.columns), dropna=False).size().reset_index(name="n")
        shown, names_shown = ui.for_people(counted, codes=["kind"], cfg=cfg)
        ui.table(shown, column_config=names_shown)

# ------------------------------------------------------------------ the funnel
st.subheader(_("Sites newly outside the funnel limits"))
fun = d["funnel"]
if viewer.site_filter:
    st.caption(_("A single site's view has no funnel plot."))
else:
    FLAGS = {"above": _("above the funnel limits"), "below": _("below the funnel limits"), "within": _("within")}
    for part, title, which in (("newly_outside", _("Newly outside"), "new"), ("back_inside", _("Back inside"), "old")):
        rows = [
            {
                "siteid": r["siteid"],
                "signal": i18n.fact(signals[r["signal"]], "label") if r["signal"] in signals else r["signal"],
                "flag": FLAGS.get(r.get(which), r.get(which)),
            }
            for r in fun[part]
        ]
        st.markdown(f"**{title}**")
        if rows:
            ui.table(
                pd.DataFrame(rows),
                column_config={
                    "siteid": words.column("siteid", cfg),
                    "signal": _("Signal"),
                    "flag": _("Now") if which == "new" else _("Was"),
                },
            )
        else:
            st.write(_("None."))

# ------------------------------------------------------------------ changed values
st.subheader(_("Changed values in records both cuts hold"))
st.caption(
    _(
        "Data that change after a meeting are a quality signal of their own. Records are matched on "
        "their form's key; derived figures that move only with the cut-off are not listed."
    )
)
changed = d["changed"]
if changed:
    frame = pd.DataFrame(changed, columns=["form", "subjid", "key", "column", "old", "new"])
    frame["form"] = frame.form.map(form_label)
    frame["key"] = frame.key.map(diff.key_text)
    names = {
        "form": _("Form"),
        "subjid": words.column("subjid", cfg),
        "key": _("Record"),
        "column": _("Column"),
        "old": _("Before"),
        "new": _("After"),
    }
    ui.listing(
        words.frame(frame, cfg).set_axis(frame.columns, axis=1),
        N_("since the last meeting: changed values"),
        viewer,
        key="changes-values",
        column_config=names,
    )
elif not d["changed_counts"]:
    st.write(_("No value changed."))
if d["changed_counts"]:
    st.markdown(_("**Changed values counted by form and column** (outcome forms: no values, no subjects)"))
    counts = pd.DataFrame(d["changed_counts"], columns=["form", "column", "n"])
    counts["form"] = counts.form.map(form_label)
    ui.table(counts, column_config={"form": _("Form"), "column": _("Column"), "n": _("Records")})

# ------------------------------------------------------------------ withheld
if d["withheld"]:
    st.subheader(_("Withheld under the blinding rule"))
    st.markdown("\n".join(f"- {ui.md(diff.withheld_text(w))}" for w in d["withheld"]))
