"""Windows and deviations, exactly: a hand-made package with subjects on both sides of every
window of trial.toml [schedule] (on the limit, one day past it, one day before its start), and
the exact lists of subjects (and days) each derivation flags and does not flag.

Derivations: queries/derived/windows.sql, followup_visits.sql, followup_status.sql and the views
window_deviations, deviations_by_site, deviation_listing, reported_deviations,
followup_visit_status (dashboard.views.deviations and dashboard.views.quality), and the
deviations and data-quality pages that show them.

The limits are read from the loaded configuration (never a copy of the numbers); each subject
is placed relative to them, so the expected lists below follow from how the subject was made,
worked out by hand in the comments, not from running the derivation.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.views import deviations as dev
from dashboard.views import quality
from factory import Package, d

CFG = load_trial()
SCH = CFG.schedule
I = SCH.response_imaging_max_days_after_last_cycle  # noqa: E741  last cycle -> response imaging, days
R = SCH.randomization_to_surgery_max_days  # randomization -> surgery, days
A = SCH.surgery_to_adjuvant_rt_max_days  # surgery -> adjuvant RT, days
N = SCH.never_operated_after_days  # randomized this long with no surgery
W = SCH.followup_window_days  # +-W days, visits up to the switch month
WL = SCH.followup_window_days_late  # +-WL days after it
SW = SCH.followup_window_switch_month
DPM = CFG.trial.days_per_month
MONTHS = sorted(SCH.followup_months)
EARLY = [m for m in MONTHS if m <= SW]  # visits with the +-W window
LATE = [m for m in MONTHS if m > SW]  # visits with the +-WL window

CUTOFF = d("2030-06-30")  # late enough that every window of a 2026 surgery has closed
RAND0 = d("2026-03-01")
SURG0 = RAND0 + dt.timedelta(days=14)  # the factory's usual gap; checked to be inside R below

# The factory's defaults: last neoadjuvant dose 21 days before randomization, response 5 days
# before it, so the default response-imaging interval is 16 days.
DEFAULT_IMAGING_DAYS = 16


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def due_offset(month: int) -> int:
    """round(k x 30.4375) days (docs/warehouse.md), half away from zero as in SQL: 3 months =
    91.3125 -> 91, 6 = 182.625 -> 183, 24 = 730.5 -> 731 (Python's round() would give 730),
    36 = 1095.75 -> 1096."""
    return math.floor(month * DPM + 0.5)


def due(surgery: dt.date, month: int) -> dt.date:
    """Due date of a follow-up visit (docs/warehouse.md): first surgery + round(k x 30.4375) days."""
    return surgery + days(due_offset(month))


def window(month: int) -> int:
    return W if month <= SW else WL


def test_the_schedule_has_what_this_package_needs():
    """Preconditions, so that the package below straddles every window."""
    assert DEFAULT_IMAGING_DAYS <= I and 14 <= R  # the untouched subjects are inside
    assert len(EARLY) >= 6 and SW in EARLY and len(LATE) >= 2
    assert W < WL
    # the last window of the latest routine surgery (RAND0 + R + 1) closes before the cut-off
    assert due(RAND0 + days(R + 1), max(LATE)) + days(WL) < CUTOFF


# ------------------------------------------------------------------ the package
def _set_last_dose(pkg: Package, subjid: str, last: dt.date) -> None:
    """Move the subject's neoadjuvant cycles (21 days apart) so the last one is on `last`."""
    rows = pkg.rows("EX", SUBJID=subjid)
    shift = last - max(d(r["EXSTDAT"]) for r in rows)
    for r in rows:
        r["EXSTDAT"] = (d(r["EXSTDAT"]) + shift).isoformat()


def _set_response(pkg: Package, subjid: str, when: dt.date) -> None:
    (row,) = pkg.rows("RS", SUBJID=subjid)
    row["RSDAT"] = when.isoformat()


# Arms alternate in the order subjects are added; sites are given per subject. Both sites end
# up with both arms and at least min_cell_size subjects, so nothing is suppressed by site.
SUBJECTS: list[tuple[str, str]] = []


def _add(pkg: Package, subjid: str, site: str = "01", **kw) -> None:
    arm = "DE-ESCALATION" if len(SUBJECTS) % 2 == 0 else "STANDARD"
    SUBJECTS.append((subjid, site))
    kw.setdefault("randdat", RAND0.isoformat())
    kw.setdefault("surgery", SURG0.isoformat())
    pkg.add_subject(subjid, site, arm=arm, **kw)


def _fu(pkg: Package, subjid: str, site: str, month: int, when: dt.date) -> None:
    pkg.add("FU", SUBJID=subjid, SITEID=site, VISIT=f"M{month}", VISDAT=when.isoformat(), SSSTAT="ALIVE")


def _package() -> Package:
    SUBJECTS.clear()
    pkg = Package(cutoff=CUTOFF)

    # --- response imaging: last neoadjuvant dose -> last response on or before randomization
    last = RAND0 - days(I + 10)
    for subjid, response in [
        ("RI-ZERO", last),  # 0 days: the window's start
        ("RI-EDGE", last + days(I)),  # I days: on the limit, inside
        ("RI-OVER", last + days(I + 1)),  # I + 1: one day past, out
        ("RI-BEFORE", last - days(1)),  # -1: before the last dose, out
        ("RI-NONE", RAND0 + days(3)),
    ]:  # after randomization: none counts
        _add(pkg, subjid)
        _set_last_dose(pkg, subjid, last)
        _set_response(pkg, subjid, response)

    # --- consent -> randomization
    _add(pkg, "CO-SAME", consent=RAND0.isoformat())  # same day: inside
    _add(pkg, "CO-AFTER", consent=(RAND0 + days(1)).isoformat())  # a day after: out

    # --- randomization -> first surgery
    _add(pkg, "RS-ZERO", "02", surgery=RAND0.isoformat())  # 0 days
    _add(pkg, "RS-EDGE", "02", surgery=(RAND0 + days(R)).isoformat())  # R: on the limit
    _add(pkg, "RS-OVER", "02", surgery=(RAND0 + days(R + 1)).isoformat())  # R + 1: out
    _add(pkg, "RS-BEFORE", "02", surgery=(RAND0 - days(1)).isoformat())  # -1: out
    # no surgery: "randomized more than R (and N) days before the cut-off" is a deviation
    _add(pkg, "NS-EDGE", "02", randdat=(CUTOFF - days(min(R, N))).isoformat(), surgery=None)
    _add(pkg, "NS-OVER", "02", randdat=(CUTOFF - days(max(R, N) + 1)).isoformat(), surgery=None)

    # --- first surgery -> first adjuvant RT or CRT (other adjuvant types do not count)
    for subjid, rows in [
        ("SA-EDGE", [("RT", A)]),  # A days: on the limit
        ("SA-OVER", [("CRT", A + 1)]),  # A + 1: out
        ("SA-FIRST", [("RT", A + 5), ("CRT", A)]),  # the first one counts: A
        ("SA-IMMUNO", [("IMMUNOTHERAPY", A + 10)]),  # not radiotherapy: no row
        ("SA-BEFORE", [("RT", -1)]),
    ]:  # -1: before surgery, out
        _add(pkg, subjid, "02")
        for kind, gap in rows:
            pkg.add(
                "ADJ",
                SUBJID=subjid,
                SITEID="02",
                ADJTYPE=kind,
                ADJSTDAT=(SURG0 + days(gap)).isoformat(),
                RTDOSE="60" if kind != "IMMUNOTHERAPY" else "",
            )

    # --- follow-up visits (surgery SURG0); FU_PLAN below holds the visits and their answers
    for subjid, plan in FU_PLAN.items():
        _add(pkg, subjid, "01")
        for month, (offset, _status) in plan.items():
            if offset is not None:
                _fu(pkg, subjid, "01", month, due(SURG0, month) + days(offset))
    # FU-B's first visit recorded twice, the second time out of the window: the first counts
    _fu(pkg, "FU-B", "01", EARLY[0], due(SURG0, EARLY[0]) + days(W + 3))
    # died exactly when the first window closed: that visit is no longer expected
    _add(pkg, "FU-DEAD", "01")
    dead_on = due(SURG0, EARLY[0]) + days(W)
    pkg.add("DD", SUBJID="FU-DEAD", SITEID="01", DTHDAT=dead_on.isoformat(), DTHCAUS="DISEASE")
    pkg.add("DS", SUBJID="FU-DEAD", SITEID="01", DSDECOD="DEATH", DSSTDAT=dead_on.isoformat())
    # died the day after it closed, without the visit: that one was missed
    _add(pkg, "FU-DEAD2", "01")
    pkg.add("DD", SUBJID="FU-DEAD2", SITEID="01", DTHDAT=(dead_on + days(1)).isoformat(), DTHCAUS="DISEASE")
    pkg.add("DS", SUBJID="FU-DEAD2", SITEID="01", DSDECOD="DEATH", DSSTDAT=(dead_on + days(1)).isoformat())
    # operated late: the first window ends on the cut-off (not yet due) or the day before (missed)
    for subjid, end in [("FU-DUE", CUTOFF), ("FU-MISS", CUTOFF - days(1))]:
        surgery = end - days(W) - days(due_offset(EARLY[0]))
        _add(pkg, subjid, "01", randdat=(surgery - days(14)).isoformat(), surgery=surgery.isoformat())

    # --- where subjects stand at the cut-off (followup_status): off study 30 days after surgery
    off = SURG0 + days(30)
    for subjid, decod in [
        ("ST-WD", "WITHDREW CONSENT"),
        ("ST-LOST", "LOST TO FOLLOW-UP"),
        ("ST-PHYS", "PHYSICIAN DECISION"),
        ("ST-DONE", "COMPLETED"),
        ("ST-DSDEATH", "DEATH"),
        ("ST-DEAD", "DEATH"),
    ]:
        _add(pkg, subjid, "02")
        pkg.add("DS", SUBJID=subjid, SITEID="02", DSDECOD=decod, DSSTDAT=off.isoformat())
    pkg.add("DD", SUBJID="ST-DEAD", SITEID="02", DTHDAT=off.isoformat(), DTHCAUS="OTHER")

    # --- site-reported deviations (DV.csv), listed by date then subject
    for subjid, site, spid, when, cat, sev in DV_ROWS:
        pkg.add(
            "DV",
            SUBJID=subjid,
            SITEID=site,
            DVSPID=spid,
            DVSTDAT=when,
            DVCAT=cat,
            DVTERM=f"{cat.lower()} note {spid}",
            DVSEV=sev,
        )
    return pkg


# Visits of the two follow-up subjects: month -> (days from the due date or None for no visit,
# the status by hand). The switch month still has the narrow window; the months after it the
# wide one. The cut-off (2030) lies after every window, so a visit not done is "missed".
FU_PLAN: dict[str, dict[int, tuple[int | None, str]]] = {
    "FU-A": {
        EARLY[0]: (-W, "in window"),  # first day of the window
        EARLY[1]: (W, "in window"),  # last day of the window
        EARLY[2]: (W + 1, "out of window"),  # one day late
        EARLY[3]: (-W - 1, "out of window"),  # one day early
        EARLY[4]: (None, "missed"),
        SW: (W + 1, "out of window"),  # the switch month: +-W, not +-WL
        LATE[0]: (WL, "in window"),  # last day of the wide window
        LATE[-1]: (-WL - 1, "out of window"),
    },  # one day before the wide window
    "FU-B": {
        EARLY[0]: (-W, "in window"),  # and again W + 3 days late (below)
        SW: (W, "in window"),
        LATE[0]: (WL + 1, "out of window"),
        LATE[-1]: (-WL, "in window"),
    },
}
for _plan in FU_PLAN.values():
    for _m in MONTHS:
        _plan.setdefault(_m, (None, "missed"))

DV_ROWS = [  # subject, site, DVSPID, date, category, severity
    ("RS-OVER", "02", "1", "2026-04-02", "VISIT WINDOW", "MINOR"),
    ("CO-AFTER", "01", "1", "2026-03-02", "INFORMED CONSENT", "MAJOR"),
    ("RI-OVER", "01", "1", "2026-04-02", "TREATMENT", "MINOR"),
    ("RI-OVER", "01", "2", "2026-05-01", "TREATMENT", "MAJOR"),
]

SITE_02 = {
    "RS-ZERO",
    "RS-EDGE",
    "RS-OVER",
    "RS-BEFORE",
    "NS-EDGE",
    "NS-OVER",
    "SA-EDGE",
    "SA-OVER",
    "SA-FIRST",
    "SA-IMMUNO",
    "SA-BEFORE",
    "ST-WD",
    "ST-LOST",
    "ST-PHYS",
    "ST-DONE",
    "ST-DSDEATH",
    "ST-DEAD",
}


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows")
    build(_package().write(tmp / "pkg"), tmp / "wh")
    return tmp / "wh"


@pytest.fixture(scope="module")
def con(wh):
    c = warehouse.connect(wh)
    yield c
    c.close()


def _all() -> set[str]:
    return {s for s, _site in SUBJECTS}


def test_the_package_is_what_the_tests_assume(con):
    assert {s for s, site in SUBJECTS if site == "02"} == SITE_02
    got = dict(con.execute("select subjid, siteid from subjects where randomized").fetchall())
    assert got == dict(SUBJECTS)


# ------------------------------------------------------------------ windows.sql
def _windows(con, name):
    rows = con.execute("select subjid, days, deviation from windows where window_name = ?", [name]).fetchall()
    return {s: (n, flag) for s, n, flag in rows}


def test_response_imaging_window_exactly(con):
    got = _windows(con, "response_imaging")
    # every randomized subject has a row; the edges as made, the others the factory's 16 days
    expected = {s: (DEFAULT_IMAGING_DAYS, False) for s in _all()}
    expected.update(
        {
            "RI-ZERO": (0, False),
            "RI-EDGE": (I, False),
            "RI-OVER": (I + 1, True),
            "RI-BEFORE": (-1, True),
            "RI-NONE": (None, None),
        }
    )  # no assessment on or before randomization
    assert got == expected
    note = con.execute(
        "select subjid, note from windows where window_name = 'response_imaging' and note is not null"
    ).fetchall()
    assert note == [("RI-NONE", "no response assessment on or before randomization")]


def test_consent_window_exactly(con):
    got = _windows(con, "consent_to_randomization")
    # the factory signs consent 60 days before randomization; CO-SAME on the day, CO-AFTER after
    expected = {s: (60, False) for s in _all()}
    expected.update({"CO-SAME": (0, False), "CO-AFTER": (-1, True)})
    assert got == expected


def test_randomization_to_surgery_window_exactly(con):
    got = _windows(con, "randomization_to_surgery")
    expected = {s: (14, False) for s in _all()}  # the factory's 14 days (FU-DUE/-MISS too)
    expected.update(
        {
            "RS-ZERO": (0, False),
            "RS-EDGE": (R, False),
            "RS-OVER": (R + 1, True),
            "RS-BEFORE": (-1, True),
            "NS-EDGE": (None, None),  # not operated, min(R, N) days: not yet late
            "NS-OVER": (None, True),
        }
    )  # not operated, max(R, N) + 1 days: late
    assert got == expected
    notes = con.execute(
        "select subjid, note from windows where window_name = 'randomization_to_surgery' and note is not null"
    ).fetchall()
    assert notes == [("NS-OVER", "no surgery by the cut-off")]


def test_surgery_to_adjuvant_window_exactly(con):
    got = _windows(con, "surgery_to_adjuvant")
    # only subjects with adjuvant RT or CRT have a row; SA-IMMUNO had immunotherapy only
    assert got == {"SA-EDGE": (A, False), "SA-OVER": (A + 1, True), "SA-FIRST": (A, False), "SA-BEFORE": (-1, True)}


def test_never_operated_exactly(con):
    got = {s for (s,) in con.execute("select subjid from subjects where never_operated").fetchall()}
    assert got == {"NS-OVER"}  # NS-EDGE: randomized min(R, N) days before: not yet


# ------------------------------------------------------------------ followup_visits.sql
def _expected_visits() -> dict[tuple[str, str], str]:
    """(subject, visit) -> status, by hand for every operated subject."""
    months = MONTHS
    operated = _all() - {"NS-EDGE", "NS-OVER"}
    # no visit recorded and every window closed before the 2030 cut-off: missed
    out = {(s, f"M{m}"): "missed" for s in operated for m in months}
    for subjid, plan in FU_PLAN.items():
        out.update({(subjid, f"M{m}"): status for m, (_o, status) in plan.items()})
    # off study 30 days after surgery, before the first window opens: nothing is expected
    for s in ("ST-WD", "ST-LOST", "ST-PHYS", "ST-DONE", "ST-DSDEATH", "ST-DEAD"):
        out.update({(s, f"M{m}"): "not expected" for m in months})
    # died on the last day of the first window (not expected), or the day after (missed)
    out.update({("FU-DEAD", f"M{m}"): "not expected" for m in months})
    out.update({("FU-DEAD2", f"M{m}"): "not expected" for m in months[1:]})
    # the first window ends on the cut-off: not yet due; the day before: missed; later: not yet due
    out.update({(s, f"M{m}"): "not yet due" for s in ("FU-DUE", "FU-MISS") for m in months})
    out[("FU-MISS", f"M{months[0]}")] = "missed"
    return out


def test_followup_visit_statuses_exactly(con):
    got = {(s, v): st for s, v, st in con.execute("select subjid, visit, status from followup_visits").fetchall()}
    assert got == _expected_visits()


def test_followup_visit_days_and_windows(con):
    rows = con.execute(
        "select subjid, month, due_date, window_start, window_end, visit_date, days_from_due "
        "from followup_visits where subjid in ('FU-A', 'FU-B')"
    ).fetchall()
    assert len(rows) == 2 * len(SCH.followup_months)
    for subjid, month, due_date, start, end, visit, from_due in rows:
        offset = FU_PLAN[subjid][month][0]
        assert due_date == due(SURG0, month)
        assert (start, end) == (due_date - days(window(month)), due_date + days(window(month)))
        assert visit == (None if offset is None else due_date + days(offset))
        assert from_due == offset


def test_due_dates_are_round_k_times_days_per_month(con):
    got = dict(
        con.execute("select month, due_date - date '2026-03-15' from followup_visits where subjid = 'FU-A'").fetchall()
    )
    assert SURG0 == d("2026-03-15")
    assert got == {m: due_offset(m) for m in MONTHS}
    # by hand for the months of trial.toml today: M3 91, M6 183, M24 731 (730.5 rounded up)
    assert {m: due_offset(m) for m in (3, 6, 24, 36)} == {3: 91, 6: 183, 24: 731, 36: 1096}


# ------------------------------------------------------------------ followup_status.sql
def test_followup_status_exactly(con):
    got = dict(con.execute("select subjid, status from followup_status").fetchall())
    expected = {s: "in follow-up" for s in _all()}
    expected.update(
        {
            "ST-WD": "withdrew consent",
            "ST-LOST": "lost to follow-up",
            "ST-PHYS": "off study (physician decision)",
            "ST-DONE": "completed",
            "ST-DSDEATH": "dead (no death form)",
            "ST-DEAD": "dead",
            "FU-DEAD": "dead",
            "FU-DEAD2": "dead",
            "NS-OVER": "not operated",  # randomized > N days ago, no surgery
            "NS-EDGE": "awaiting surgery",
        }
    )  # randomized N days ago: still waiting
    assert got == expected


def test_days_since_last_contact(con):
    got = dict(
        con.execute(
            "select subjid, days_since_last_contact from followup_status where subjid in ('FU-A', 'FU-B', 'NS-EDGE')"
        ).fetchall()
    )
    # FU-A's last visit is the last month, WL + 1 days early; FU-B's the last month, WL early;
    # NS-EDGE's last date is randomization, min(R, N) days before the cut-off
    last = max(LATE)
    assert got == {
        "FU-A": (CUTOFF - (due(SURG0, last) - days(WL + 1))).days,
        "FU-B": (CUTOFF - (due(SURG0, last) - days(WL))).days,
        "NS-EDGE": min(R, N),
    }


# ------------------------------------------------------------------ deviation views
FLAGGED = {  # window -> subjects out of it, from the tests above
    "response_imaging": ["RI-BEFORE", "RI-OVER"],
    "consent_to_randomization": ["CO-AFTER"],
    "randomization_to_surgery": ["NS-OVER", "RS-BEFORE", "RS-OVER"],
    "surgery_to_adjuvant": ["SA-BEFORE", "SA-OVER"],
    "followup_visit": ["FU-A", "FU-B"],
}


def _listing_rows() -> list[tuple]:
    """views/window_deviations by hand: (window, subject, site, days, max_days, note)."""
    rows = [
        ("response_imaging", "RI-BEFORE", "01", -1, I, None),
        ("response_imaging", "RI-OVER", "01", I + 1, I, None),
        ("consent_to_randomization", "CO-AFTER", "01", -1, None, "consent signed after randomization"),
        ("randomization_to_surgery", "NS-OVER", "02", None, R, "no surgery by the cut-off"),
        ("randomization_to_surgery", "RS-BEFORE", "02", -1, R, None),
        ("randomization_to_surgery", "RS-OVER", "02", R + 1, R, None),
        ("surgery_to_adjuvant", "SA-BEFORE", "02", -1, A, None),
        ("surgery_to_adjuvant", "SA-OVER", "02", A + 1, A, None),
    ]
    for subjid, plan in FU_PLAN.items():
        for month, (offset, status) in plan.items():
            if status == "out of window":
                rows.append(("followup_visit", subjid, "01", offset, None, f"M{month} out of window"))
    return rows


def _plain(v):
    """A cell as a plain Python value: None for missing, int for whole numbers."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return None if v != v else int(v) if v.is_integer() else v
    return v


def _frame_rows(df: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return [tuple(_plain(v) for v in r) for r in df[cols].astype(object).itertuples(index=False)]


def test_window_deviation_listing_exactly(con):
    df = fetch(con, "views/window_deviations", site=None)
    got = _frame_rows(df, ["window_name", "subjid", "siteid", "days", "max_days", "note"])
    assert sorted(got, key=str) == sorted(_listing_rows(), key=str)
    # ordered by window name, then subject
    assert [(w, s) for w, s, *_ in got] == sorted((w, s) for w, s, *_ in got)


def test_window_deviations_by_site_filter(con):
    df = fetch(con, "views/window_deviations", site="02")
    assert sorted(_frame_rows(df, ["window_name", "subjid"])) == sorted(
        (w, s) for w, s, site, *_ in _listing_rows() if site == "02"
    )


def test_deviation_summary_lists_exactly(con):
    got = dev.deviations(con, Viewer("pi"), CFG)["windows"]
    assert got == FLAGGED
    site = dev.deviations(con, Viewer("site", "02"), CFG)["windows"]
    assert site == {w: [s for s in v if s in SITE_02] for w, v in FLAGGED.items()}
    assert site["randomization_to_surgery"] == ["NS-OVER", "RS-BEFORE", "RS-OVER"]
    assert site["followup_visit"] == []


def test_window_subjects_per_site(con):
    df = dev.by_site(con, Viewer("pi"), CFG).set_index("siteid")
    # intervals only (not follow-up visits): site 01 RI-BEFORE, RI-OVER, CO-AFTER = 3;
    # site 02 NS-OVER, RS-BEFORE, RS-OVER, SA-BEFORE, SA-OVER = 5
    n01 = sum(1 for s, site in SUBJECTS if site == "01")
    n02 = len(SITE_02)
    assert df.loc["01", "window_subjects"] == 3 and df.loc["02", "window_subjects"] == 5
    assert df.loc["01", "randomized"] == n01 and df.loc["02", "randomized"] == n02
    assert df.loc["01", "window_rate"] == pytest.approx(3 / n01)
    assert df.loc["02", "window_rate"] == pytest.approx(5 / n02)
    assert df.suppressed.isna().all()


def test_site_reported_deviations_exactly(con):
    listing = fetch(con, "views/deviation_listing", site=None)
    # by date, then subject: 03-02 CO-AFTER; 04-02 RI-OVER before RS-OVER; 05-01 RI-OVER
    assert _frame_rows(listing, ["subjid", "dvspid", "dvcat", "dvsev"]) == [
        ("CO-AFTER", "1", "INFORMED CONSENT", "MAJOR"),
        ("RI-OVER", "1", "TREATMENT", "MINOR"),
        ("RS-OVER", "1", "VISIT WINDOW", "MINOR"),
        ("RI-OVER", "2", "TREATMENT", "MAJOR"),
    ]
    assert _frame_rows(fetch(con, "views/deviation_listing", site="02"), ["subjid", "dvspid"]) == [("RS-OVER", "1")]
    reported = dev.deviations(con, Viewer("pi"), CFG)["reported"]
    assert reported == {
        "total": 4,
        "by_category": {"INFORMED CONSENT": 1, "TREATMENT": 2, "VISIT WINDOW": 1},
        "by_severity": {"MAJOR": 2, "MINOR": 2},
    }
    by_site = dev.by_site(con, Viewer("pi"), CFG).set_index("siteid")
    assert (by_site.loc["01", "reported"], by_site.loc["01", "major"]) == (3, 2)
    assert (by_site.loc["02", "reported"], by_site.loc["02", "major"]) == (1, 0)


# ------------------------------------------------------------------ data quality: visits
def _visit_counts(site: str) -> pd.DataFrame:
    """Per visit of one site, from the hand-made statuses: expected, received, missed, out."""
    statuses = {k: v for k, v in _expected_visits().items() if dict(SUBJECTS)[k[0]] == site}
    rows = []
    for m in SCH.followup_months:
        here = [st for (s, v), st in statuses.items() if v == f"M{m}"]
        due_now = [st for st in here if st in ("in window", "out of window", "missed")]
        if due_now:
            rows.append(
                {
                    "visit": f"M{m}",
                    "expected": len(due_now),
                    "received": sum(st != "missed" for st in due_now),
                    "missed": due_now.count("missed"),
                    "out_of_window": due_now.count("out of window"),
                }
            )
    return pd.DataFrame(rows)


def test_visits_by_site(con):
    got = quality.visits_by_site(con, Viewer("pi"))
    assert set(got.siteid) == {"01", "02"}
    for site in ("01", "02"):
        mine = got[got.siteid == site].drop(columns="siteid").reset_index(drop=True)
        assert mine.astype(object).to_dict("records") == _visit_counts(site).astype(object).to_dict("records")
    # site 01 at the first visit, by hand: 5 RI + 2 CO subjects missed it, FU-A and FU-B came
    # in the window, FU-DEAD2 missed it (died after the window), FU-MISS missed it (its window
    # closed the day before the cut-off), FU-DEAD and FU-DUE were not due: 9 missed + 2 received
    first = got[(got.siteid == "01") & (got.visit == f"M{EARLY[0]}")].iloc[0]
    assert (first.expected, first.received, first.missed, first.out_of_window) == (11, 2, 9, 0)
    overdue = quality.overdue(con, Viewer("pi"))
    assert set(zip(overdue.subjid, overdue.visit, strict=True)) == {
        k for k, v in _expected_visits().items() if v == "missed"
    }


# ------------------------------------------------------------------ the pages
def test_the_deviations_and_data_quality_pages_show_these_numbers(wh):
    from apptest import clear_caches, open_page, page_text, serving

    with serving(wh):
        clear_caches()
        at = open_page(Viewer("pi"), "deviations.py")
        assert not at.exception, [e.value for e in at.exception]
        tables = [t.value for t in at.dataframe]
        windows = next(t for t in tables if "Rule (assumed schedule)" in t.columns)
        from dashboard.outputs import labels  # the windows by their labels (trial.toml [labels])

        assert dict(zip(windows["Window"], windows["Subjects"], strict=True)) == {
            labels.column(k): len(v) for k, v in FLAGGED.items()
        }
        listing = next(t for t in tables if "window_name" in t.columns)
        assert sorted(
            _frame_rows(listing, ["window_name", "subjid", "siteid", "days", "max_days", "note"]), key=str
        ) == sorted(
            [(labels.column(r[0]), *r[1:5], labels.text(r[5])) for r in _listing_rows()], key=str
        )  # as people read them: windows by label, no note as the dash
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Site-reported deviations"] == "4"
        clear_caches()
        at = open_page(Viewer("pi"), "data_quality.py")
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        statuses = list(_expected_visits().values())
        due_now = [s for s in statuses if s in ("in window", "out of window", "missed")]
        assert metrics["Visits due by the cut-off"] == str(len(due_now))
        assert metrics["Received"] == str(sum(s != "missed" for s in due_now))
        assert metrics["Missed (window closed)"] == str(statuses.count("missed"))
        assert "data cut-off **30 June 2030**" in page_text(at)  # a prose date
