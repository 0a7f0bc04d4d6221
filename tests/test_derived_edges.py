"""Edges of the derived tables that the other data tests leave open, found by the SQL mutation
tool (dashboard/devtools/mutate_sql.py): each case below fails on one small change of
queries/derived/*.sql (or queries/ingest/allocation_long.sql) that no other test noticed.

One hand-made package (tests/factory.py), randomized on 2026-03-01, operated on 2026-03-15
unless said otherwise, cut-off 2028-06-30 (the factory's). Every expected value is worked out
by hand from how the subject was made (export spec section 5, docs/warehouse.md, trial.toml),
in the comments, never by running the derivation.

Covered: survival.sql (dfs_event, the first local recurrence, events on the randomization day,
DFS censored at the last disease assessment and the count of moved censorings through
queries/closed/dfs_censoring.sql, on a package of its own), subjects.sql (operations, dose and
response dates, chemotherapy, pathology, AJCC stage not assessable), surgeries.sql
(protocol_surgery), adverse_events.sql (phase, the post-operative windows at their edges, coded
answers, Clavien-Dindo rank), allocation_long.sql (the stratum labels, through the wide
allocation table), eligibility.sql (undecidable data, exclusion criteria), followup_status.sql
and followup_visits.sql (several DS rows), last_known_alive.sql (which FU and DS rows are
contacts), windows.sql (min/max days, same-day consent and RT).
The other window and follow-up visit limits are pinned by test_windows.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.store import warehouse
from factory import CUTOFF, Package, d

CFG = load_trial()
RAND = d("2026-03-01")
SURG = d("2026-03-15")
COMPLICATION_DAYS = CFG.safety.complication_window_days  # 30 today
EARLY_DEATH_DAYS = max(CFG.safety.early_death_days)  # the longest: 90 today
NEVER_OPERATED_AFTER = CFG.schedule.never_operated_after_days


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# subject -> site; every subject of the package, all randomized
SUBJECTS: dict[str, str] = {}


def _subject(pkg: Package, subjid: str, site: str = "01", **kw) -> None:
    SUBJECTS[subjid] = site
    kw.setdefault("randdat", RAND.isoformat())
    kw.setdefault("surgery", SURG.isoformat())
    pkg.add_subject(subjid, site, **kw)


def _fu(pkg: Package, subjid: str, visit: str, when: str, status: str = "ALIVE") -> None:
    pkg.add("FU", SUBJID=subjid, SITEID=SUBJECTS[subjid], VISIT=visit, VISDAT=when, SSSTAT=status)


def _ds(pkg: Package, subjid: str, decod: str, when: str) -> None:
    pkg.add("DS", SUBJID=subjid, SITEID=SUBJECTS[subjid], DSDECOD=decod, DSSTDAT=when)


# Adverse events of AE-EDGE: AESPID -> (onset, phase, days after surgery, within the
# complication window, within the early-death window), by hand from RAND and SURG.
AE_EDGE = {
    # on the randomization day, surgery still to come: not after randomization -> neoadjuvant
    "1": (RAND, "neoadjuvant", (RAND - SURG).days, False, False),
    # the day after randomization, before surgery -> pre-operative
    "2": (RAND + days(1), "pre-operative", (RAND + days(1) - SURG).days, False, False),
    # the day before surgery: pre-operative, day -1, in neither window (they start at day 0)
    "3": (SURG - days(1), "pre-operative", -1, False, False),
    # the surgery day: post-operative, day 0, in both windows
    "4": (SURG, "post-operative", 0, True, True),
    # the last day of the complication window; the day after it (still an early death window day)
    "5": (SURG + days(COMPLICATION_DAYS), "post-operative", COMPLICATION_DAYS, True, True),
    "6": (SURG + days(COMPLICATION_DAYS + 1), "post-operative", COMPLICATION_DAYS + 1, False, True),
    # the last day of the longest early-death window, and the day after it
    "7": (SURG + days(EARLY_DEATH_DAYS), "post-operative", EARLY_DEATH_DAYS, False, True),
    "8": (SURG + days(EARLY_DEATH_DAYS + 1), "post-operative", EARLY_DEATH_DAYS + 1, False, False),
}
# The coded answers of some of them (the rest: AESER N, AEIMMUNE and AECLAV empty), and by hand
# (serious = AESER Y, immune_related = AEIMMUNE Y (empty: unknown), clavien_rank = the place of
# AECLAV in trial.toml [safety] clavien_order I, II, IIIA, ... counted from 1, clavien_3a_plus
# whether AECLAV is one of clavien_serious (IIIA or worse)):
AE_CODES = {
    "1": {"AEIMMUNE": "N"},
    "4": {"AESER": "Y", "AECLAV": "IIIA"},
    "5": {"AEIMMUNE": "Y", "AECLAV": "II"},
}
AE_CODED = {spid: (False, None, None) for spid in AE_EDGE}  # (serious, immune_related, clavien_rank)
AE_CODED.update({"1": (False, False, None), "4": (True, None, 3), "5": (False, True, 2)})
CLAVIEN_3A_PLUS = {"4": True, "5": False}  # of the events with a Clavien-Dindo grade


# FS-2DS (operated on SURG): off study on these two dates. The first two follow-up visits
# (trial.toml followup_months, today M3 and M6) are due SURG + round(k x 30.4375) days, M3 on
# 2026-06-14 (91 days), M6 on 2026-09-14 (183 days), each +-14 days: windows end 2026-06-28 and
# 2026-09-28. The first off-study date falls between the two window ends, the second after both.
FS_OFF = (d("2026-07-01"), d("2026-10-01"))


def _package() -> Package:
    SUBJECTS.clear()
    pkg = Package()

    # --- survival.sql: disease-free survival
    # a regional recurrence first, then two local ones (the later written first); alive
    _subject(pkg, "DFS-REC")
    for when, kind in [("2026-09-01", "REGIONAL"), ("2027-03-01", "LOCAL"), ("2026-10-01", "LOCAL")]:
        pkg.add("RECUR", SUBJID="DFS-REC", SITEID="01", RECDAT=when, RECTYPE=kind)
    # dead, no recurrence
    _subject(pkg, "DFS-DEAD")
    pkg.add("DD", SUBJID="DFS-DEAD", SITEID="01", DTHDAT="2027-02-01", DTHCAUS="DISEASE")
    # neither: alive at the last visit, no recurrence
    _subject(pkg, "DFS-NONE")
    _fu(pkg, "DFS-NONE", "M3", "2026-06-14")

    # --- survival.sql: excluded only when the death (recurrence) comes before randomization
    _subject(pkg, "SV-DEATH0", surgery=None)  # died on the randomization day
    pkg.add("DD", SUBJID="SV-DEATH0", SITEID="01", DTHDAT=RAND.isoformat(), DTHCAUS="OTHER")
    _subject(pkg, "SV-REC0")  # recurrence on the randomization day
    pkg.add("RECUR", SUBJID="SV-REC0", SITEID="01", RECDAT=RAND.isoformat(), RECTYPE="DISTANT")
    _subject(pkg, "SV-REC-1")  # recurrence the day before
    pkg.add("RECUR", SUBJID="SV-REC-1", SITEID="01", RECDAT=(RAND - days(1)).isoformat(), RECTYPE="DISTANT")

    # --- subjects.sql / surgeries.sql: a re-operation 18 days after the protocol surgery, its
    # row written before the protocol surgery's, so only the dates order them
    _subject(pkg, "OP-TWICE")
    (protocol,) = pkg.rows("PR", SUBJID="OP-TWICE")
    pkg.forms["PR"].insert(
        pkg.forms["PR"].index(protocol),
        {
            "SUBJID": "OP-TWICE",
            "SITEID": "01",
            "PRDAT": (SURG + days(18)).isoformat(),
            "PRTRT": "RE-OPERATION",
            "PRPRIM": "N",
            "NECKDIS": "N",
        },
    )
    # never operated, randomized long before the cut-off; one adverse event after randomization
    _subject(pkg, "OP-NEVER", surgery=None)
    pkg.add(
        "AE", SUBJID="OP-NEVER", SITEID="01", AESPID="1", AETERM="fever", AESTDAT="2026-04-01", AETOXGR="1", AESER="N"
    )

    # enrolled, never randomized, every neoadjuvant cycle dated after the cut-off: the clean
    # form (crf_ex) holds none of them (docs/warehouse.md, step 5), so no cycle counts
    pkg.add_subject("NR-NOEX", "01", randdat=RAND.isoformat(), randomize=False)
    for k, row in enumerate(pkg.rows("EX", SUBJID="NR-NOEX")):
        row["EXSTDAT"] = (CUTOFF + days(1 + 21 * k)).isoformat()
    # pathology of one subject only
    _subject(pkg, "PATH-POS")
    pkg.add("PATH", SUBJID="PATH-POS", SITEID="01", PATHDAT="2026-03-25", PCR="N", MARGIN="POSITIVE")

    # --- windows.sql: consent signed on the randomization day; adjuvant RT on the surgery day
    _subject(pkg, "CO-SAMEDAY", consent=RAND.isoformat())
    _subject(pkg, "ADJ-SAMEDAY")
    pkg.add("ADJ", SUBJID="ADJ-SAMEDAY", SITEID="01", ADJTYPE="RT", ADJSTDAT=SURG.isoformat(), RTDOSE="60")

    # --- adverse_events.sql: the edges of AE_EDGE
    _subject(pkg, "AE-EDGE")
    for spid, (onset, *_rest) in AE_EDGE.items():
        pkg.add(
            "AE",
            SUBJID="AE-EDGE",
            SITEID="01",
            AESPID=spid,
            AETERM=f"event {spid}",
            AESTDAT=onset.isoformat(),
            AETOXGR="2",
            **{"AESER": "N", **AE_CODES.get(spid, {})},
        )

    # --- allocation_long.sql: strata CR|OTHER (larynx, site 02) and a missing STRATSITE
    _subject(pkg, "ALLOC-CR", "02", arm="DE-ESCALATION", response="CR", primsite="LARYNX")
    _subject(pkg, "ALLOC-NOSITE")
    (rand_row,) = pkg.rows("RAND", SUBJID="ALLOC-NOSITE")
    rand_row["STRATSITE"] = ""

    # --- eligibility.sql: oral cavity TX N0 M0 -> the stage is not assessable, I03 undecided
    _subject(pkg, "ELIG-TX", ct="TX", cn="N0", stage="III")

    # TX or NX that could change the stage: not assessable in the p16-positive oropharynx and
    # the nasopharynx branches of AJCC 8th as well (the nasopharynx also breaks I02)
    _subject(pkg, "ELIG-P16-TX", primsite="OROPHARYNX", p16="POSITIVE", ct="TX", cn="N1", stage="II")
    _subject(pkg, "ELIG-NPC-NX", primsite="NASOPHARYNX", ct="T1", cn="NX", stage="I")
    # the site answers E01 (investigator's) "present"
    _subject(pkg, "ELIG-E01")
    (ie,) = pkg.rows("IE", SUBJID="ELIG-E01", IETESTCD="E01")
    ie["IEORRES"] = "Y"
    # DX says the tumour is a recurrence (E02, checked from the data), the site answered "not present"
    _subject(pkg, "ELIG-E02")
    (dx,) = pkg.rows("DX", SUBJID="ELIG-E02")
    dx["RECUR"] = "Y"

    # --- subjects.sql: response assessments 30 and 5 (the factory's, PR) days before
    # randomization, on the day and 30 days after it
    _subject(pkg, "RS-MANY")
    for offset, result in [(-30, "SD"), (0, "CR"), (30, "PD")]:
        pkg.add("RS", SUBJID="RS-MANY", SITEID="01", RSDAT=(RAND + days(offset)).isoformat(), RSORRES=result)
    # neoadjuvant cycles without chemotherapy (the factory gives every cycle EXCHEMO Y)
    _subject(pkg, "CHEMO-NONE")
    for row in pkg.rows("EX", SUBJID="CHEMO-NONE"):
        row["EXCHEMO"] = "N"

    # --- followup_status.sql, followup_visits.sql: two DS rows, the later one (withdrawal)
    # written first; FS_OFF below places them around the end of the first two visit windows
    _subject(pkg, "FS-2DS")
    _ds(pkg, "FS-2DS", "WITHDREW CONSENT", FS_OFF[1].isoformat())
    _ds(pkg, "FS-2DS", "PHYSICIAN DECISION", FS_OFF[0].isoformat())

    # --- last_known_alive.sql
    # the latest FU row reports death (no DD row): that date is not a contact
    _subject(pkg, "LKA-FUDEAD")
    _fu(pkg, "LKA-FUDEAD", "M3", "2026-06-15")
    _fu(pkg, "LKA-FUDEAD", "UNSCHEDULED", "2026-08-01", "DEAD")
    # a withdrawal after the last visit: its date is a contact
    _subject(pkg, "LKA-DSWD")
    _fu(pkg, "LKA-DSWD", "M3", "2026-06-15")
    _ds(pkg, "LKA-DSWD", "WITHDREW CONSENT", "2026-09-01")
    # a loss to follow-up after the last visit: its date is not a contact
    _subject(pkg, "LKA-DSLOST")
    _fu(pkg, "LKA-DSLOST", "M3", "2026-06-15")
    _ds(pkg, "LKA-DSLOST", "LOST TO FOLLOW-UP", "2026-09-01")
    return pkg


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("derived_edges")
    build(_package().write(tmp / "pkg"), tmp / "wh")
    con = warehouse.connect(tmp / "wh", closed=True)
    yield con
    con.close()


def _rows(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def test_the_package_is_what_the_tests_assume(closed):
    assert dict(_rows(closed, "select subjid, siteid from subjects where randomized")) == SUBJECTS
    # every subject but OP-NEVER operated on SURG (OP-TWICE a second time); the factory's
    # neoadjuvant cycles 21 days apart, the last 21 days before randomization
    assert CUTOFF == d("2028-06-30") and (CUTOFF - RAND).days > NEVER_OPERATED_AFTER
    assert 0 < COMPLICATION_DAYS < EARLY_DEATH_DAYS


# ------------------------------------------------------------------ survival.sql
def test_disease_free_survival_events_and_days(closed):
    got = {
        s: rest
        for s, *rest in _rows(
            closed,
            "select subjid, first_recurrence_date, first_local_recurrence_date, dfs_event, dfs_days, os_event "
            "from survival where subjid like 'DFS-%'",
        )
    }
    assert got == {
        # recurrences 2026-09-01 (regional), 2026-10-01 and 2027-03-01 (local): the first of any
        # type is the regional one, the first local the earlier local one; an event, alive
        "DFS-REC": [d("2026-09-01"), d("2026-10-01"), True, (d("2026-09-01") - RAND).days, False],
        # death without recurrence: a DFS event at the death date
        "DFS-DEAD": [None, None, True, (d("2027-02-01") - RAND).days, True],
        # neither: censored at the last disease assessment, the M3 visit (also its last
        # contact, later than the surgery)
        "DFS-NONE": [None, None, False, (d("2026-06-14") - RAND).days, False],
    }


def test_dfs_event_is_false_without_recurrence_or_death(closed):
    # every subject of the package but those with a recurrence or a death has neither;
    # LKA-FUDEAD's death at follow-up without a death form is not a death (test_derivations)
    got = {s for (s,) in _rows(closed, "select subjid from survival where dfs_event")}
    assert got == {"DFS-REC", "DFS-DEAD", "SV-DEATH0", "SV-REC0", "SV-REC-1"}


def test_events_on_the_randomization_day_are_not_excluded(closed):
    got = {
        s: rest
        for s, *rest in _rows(
            closed,
            "select subjid, os_event, os_days, os_excluded_reason, dfs_days, dfs_excluded_reason from survival "
            "where subjid like 'SV-%'",
        )
    }
    assert got == {
        # death on the day: an OS and DFS event at day 0, in both analyses
        "SV-DEATH0": [True, 0, None, 0, None],
        # recurrence on the day: DFS event at day 0, kept; alive, censored at the surgery (its
        # latest date), 14 days
        "SV-REC0": [False, 14, None, 0, None],
        # recurrence the day before: left out of DFS (day -1), kept in OS
        "SV-REC-1": [False, 14, None, -1, "recurrence before randomization"],
    }


# ------------------------------------------------------------------ subjects.sql, surgeries.sql
def test_operations_count_and_first_surgery(closed):
    got = {
        s: rest
        for s, *rest in _rows(
            closed,
            "select subjid, operations, first_surgery_date, operated, never_operated from subjects "
            "where subjid in ('OP-TWICE', 'OP-NEVER', 'DFS-NONE')",
        )
    }
    assert got == {
        "OP-TWICE": [2, SURG, True, False],  # the protocol surgery and the re-operation
        # no PR row: 0 operations; randomized more than never_operated_after_days before the cut-off
        "OP-NEVER": [0, None, False, True],
        "DFS-NONE": [1, SURG, True, False],  # the factory's one surgery
    }


def test_first_and_last_dose_dates(closed):
    # the factory's three cycles 21 days apart, the last 21 days before randomization:
    # RAND - 63, RAND - 42, RAND - 21
    got = _rows(closed, "select cycles, first_dose_date, last_dose_date from subjects where subjid = 'OP-TWICE'")
    assert got == [(3, RAND - days(63), RAND - days(21))]


def test_response_that_counts_is_the_last_on_or_before_randomization(closed):
    got = _rows(closed, "select response_at_randomization, response_date from subjects where subjid = 'RS-MANY'")
    # SD at -30 days, PR at -5, CR on the randomization day, PD at +30: the day itself counts
    assert got == [("CR", RAND)]


def test_with_chemotherapy(closed):
    got = dict(_rows(closed, "select subjid, with_chemotherapy from subjects"))
    # EXCHEMO Y on every factory cycle; CHEMO-NONE's all N; NR-NOEX has no cycle before the
    # cut-off: not with chemotherapy either
    assert got == {**{s: s != "CHEMO-NONE" for s in SUBJECTS}, "NR-NOEX": False}
    assert _rows(closed, "select randomized, cycles from subjects where subjid = 'NR-NOEX'") == [(False, None)]


def test_pathology_belongs_to_its_subject(closed):
    got = {
        s: (m, p)
        for s, m, p in _rows(closed, "select subjid, surgical_margin, pathological_complete_response from subjects")
    }
    # one PATH row, PATH-POS's: positive margin, no pCR; nobody else has pathology
    assert got == {s: ("POSITIVE", "N") if s == "PATH-POS" else (None, None) for s in [*SUBJECTS, "NR-NOEX"]}


def test_only_the_first_operation_is_the_protocol_surgery(closed):
    got = _rows(
        closed,
        "select surgery_date, operation_number, protocol_surgery, prtrt from surgeries "
        "where subjid = 'OP-TWICE' order by surgery_date",
    )
    # the earlier date is operation 1 though its row comes second in PR.csv
    assert got == [
        (SURG, 1, True, "STANDARD SURGERY"),
        (SURG + days(18), 2, False, "RE-OPERATION"),
    ]
    # one protocol surgery per operated subject; OP-NEVER and SV-DEATH0 were never operated
    per_subject = dict(
        _rows(closed, "select subjid, count(*) filter (where protocol_surgery) from surgeries group by 1")
    )
    assert per_subject == {s: 1 for s in SUBJECTS if s not in ("OP-NEVER", "SV-DEATH0")}


# ------------------------------------------------------------------ windows.sql
def test_window_limits(closed):
    got = set(_rows(closed, "select window_name, min_days, max_days from windows"))
    # every window starts at day 0; the maxima are trial.toml [schedule]'s; consent has none
    sch = CFG.schedule
    assert got == {
        ("response_imaging", 0, sch.response_imaging_max_days_after_last_cycle),
        ("consent_to_randomization", 0, None),
        ("randomization_to_surgery", 0, sch.randomization_to_surgery_max_days),
        ("surgery_to_adjuvant", 0, sch.surgery_to_adjuvant_rt_max_days),
    }


def test_same_day_consent_and_adjuvant_rt_are_no_deviation(closed):
    got = _rows(
        closed,
        "select subjid, window_name, days, deviation, note from windows "
        "where (subjid = 'CO-SAMEDAY' and window_name = 'consent_to_randomization') "
        "or window_name = 'surgery_to_adjuvant'",
    )
    # consent on the randomization day: 0 days, inside, no note; RT on the surgery day: 0 days,
    # inside (ADJ-SAMEDAY is the only subject with adjuvant RT)
    assert sorted(got) == [
        ("ADJ-SAMEDAY", "surgery_to_adjuvant", 0, False, None),
        ("CO-SAMEDAY", "consent_to_randomization", 0, False, None),
    ]


# ------------------------------------------------------------------ adverse_events.sql
def test_adverse_event_phase_and_post_operative_windows_at_the_edges(closed):
    got = {
        spid: rest
        for spid, *rest in _rows(
            closed,
            "select aespid, onset_date, phase, days_after_surgery, within_complication_window, "
            "within_early_death_window from adverse_events where subjid = 'AE-EDGE'",
        )
    }
    assert got == {spid: list(v) for spid, v in AE_EDGE.items()}


def test_adverse_event_codes_and_clavien_rank(closed):
    rows = _rows(
        closed,
        "select aespid, serious, immune_related, clavien_rank, clavien_dindo, clavien_3a_plus "
        "from adverse_events where subjid = 'AE-EDGE'",
    )
    assert len(rows) == len(AE_EDGE)  # one row per event: the Clavien-Dindo join adds none
    assert {spid: (ser, imm, rank) for spid, ser, imm, rank, _c, _p in rows} == AE_CODED
    assert {spid: (c, plus) for spid, _s, _i, _r, c, plus in rows if c is not None} == {
        spid: (AE_CODES[spid]["AECLAV"], v) for spid, v in CLAVIEN_3A_PLUS.items()
    }


def test_adverse_event_of_a_never_operated_subject_is_in_no_window(closed):
    got = _rows(
        closed,
        "select phase, days_after_surgery, within_complication_window, within_early_death_window "
        "from adverse_events where subjid = 'OP-NEVER'",
    )
    # after randomization, no surgery: pre-operative, no day after surgery, in neither window
    assert got == [("pre-operative", None, False, False)]


# ------------------------------------------------------------------ allocation (allocation_long.sql)
def test_allocation_by_stratum_is_response_bar_site(closed):
    got = {
        g: (de, st, total)
        for g, de, st, total in _rows(
            closed,
            "select group_value, n_de_escalation, n_standard, n_total from allocation where grouping = 'stratum'",
        )
    }
    # the factory: STRATRESP = the response (PR by default), STRATSITE ORAL CAVITY for an oral
    # cavity primary else OTHER; ALLOC-CR is CR on the larynx (de-escalation arm), ALLOC-NOSITE
    # has no STRATSITE ('?'), ELIG-P16-TX (oropharynx) and ELIG-NPC-NX (nasopharynx) are PR on
    # another site, everybody else PR on the oral cavity; all but ALLOC-CR on the standard arm
    n = len(SUBJECTS) - 4
    assert got == {
        "PR|ORAL CAVITY": (0, n, n),
        "CR|OTHER": (1, 0, 1),
        "PR|?": (0, 1, 1),
        "PR|OTHER": (0, 2, 2),
    }
    by_site = {
        g: total
        for g, total in _rows(closed, "select group_value, n_total from allocation where grouping = 'site_stratum'")
    }
    assert by_site == {"01|PR|ORAL CAVITY": n, "02|CR|OTHER": 1, "01|PR|?": 1, "01|PR|OTHER": 2}


# ------------------------------------------------------------------ eligibility.sql
def test_undecidable_data_checked_criterion_is_listed(closed):
    rows = _rows(
        closed,
        "select subjid, code, checked_by, data_violated, site_answer, site_violated, violated, site_disagrees "
        "from eligibility",
    )
    # TX with N0 M0 on the oral cavity leaves the AJCC stage not assessable: the data cannot
    # decide I03 (data_violated null), the site said met (Y), so the criterion counts as met and
    # nobody disagrees; it is listed because the data could not decide. Every other subject
    # meets every criterion by the factory's defaults and the site agrees: no other row.
    assert ("ELIG-TX", "I03", "data", None, "Y", False, False, False) in rows


def test_eligibility_exceptions_exactly(closed):
    rows = _rows(
        closed,
        "select subjid, code, checked_by, data_violated, site_answer, site_violated, violated, site_disagrees "
        "from eligibility",
    )
    # (subject, criterion, checked by, data violated, site answer, site violated, violated, disagrees)
    assert sorted(rows) == sorted(
        [
            # undecidable stage, the site says met: kept, met, no disagreement (above)
            ("ELIG-TX", "I03", "data", None, "Y", False, False, False),
            ("ELIG-P16-TX", "I03", "data", None, "Y", False, False, False),
            ("ELIG-NPC-NX", "I03", "data", None, "Y", False, False, False),
            # the nasopharynx is excluded by I02 (the data), the site ticked it as met
            ("ELIG-NPC-NX", "I02", "data", True, "Y", False, True, True),
            # investigator's exclusion E01 answered Y = present: violated from the site's answer alone
            ("ELIG-E01", "E01", "investigator", None, "Y", True, True, False),
            # E02 from the data (RECUR Y) is violated; the site's N = not present disagrees
            ("ELIG-E02", "E02", "data", True, "N", False, True, True),
        ]
    )


def test_stage_not_assessable_in_every_ajcc_branch(closed):
    got = dict(_rows(closed, "select subjid, stage_computed from subjects where subjid like 'ELIG-%'"))
    # oral cavity TX N0 M0, p16-positive oropharynx TX N1 M0, nasopharynx T1 NX M0: the unknown
    # T or N could change the stage, so none is guessed; the others are the factory's T3 N1 M0
    # on the oral cavity: III
    assert got == {
        "ELIG-TX": None,
        "ELIG-P16-TX": None,
        "ELIG-NPC-NX": None,
        "ELIG-E01": "III",
        "ELIG-E02": "III",
    }


# ------------------------------------------------------------------ followup_status.sql
def test_followup_status_with_two_ds_rows_takes_the_latest(closed):
    got = _rows(closed, "select end_reason, end_date, status from followup_status where subjid = 'FS-2DS'")
    # physician decision on FS_OFF[0], withdrawal on FS_OFF[1]: the latest row counts
    assert got == [("WITHDREW CONSENT", FS_OFF[1], "withdrew consent")]


def test_followup_visits_after_the_first_off_study_date_are_not_expected(closed):
    months = sorted(CFG.schedule.followup_months)
    w = CFG.schedule.followup_window_days
    assert months[:2] == [3, 6] and months[1] <= CFG.schedule.followup_window_switch_month and w == 14
    got = dict(_rows(closed, "select visit, status from followup_visits where subjid = 'FS-2DS'"))
    # no visit recorded. M3's window closed (2026-06-28) before the subject went off study
    # (FS_OFF[0], 2026-07-01), long before the cut-off: missed. Every later window ends after
    # FS_OFF[0]: not expected (M6's, 2026-09-28, also before the second date, FS_OFF[1]).
    assert d("2026-06-28") < FS_OFF[0] <= d("2026-09-28") < FS_OFF[1]
    assert got == {f"M{m}": ("missed" if m == 3 else "not expected") for m in months}


# ------------------------------------------------------------------ last_known_alive.sql
def test_last_known_alive_leaves_out_deaths_at_follow_up_and_losses(closed):
    got = dict(_rows(closed, "select subjid, last_known_alive from last_known_alive where subjid like 'LKA-%'"))
    # every other date of these subjects is on or before the surgery (2026-03-15), so the
    # latest contact is the M3 visit (2026-06-15) unless a later row counts:
    assert got == {
        "LKA-FUDEAD": d("2026-06-15"),  # the FU row of 2026-08-01 reports death: not a contact
        "LKA-DSWD": d("2026-09-01"),  # a withdrawal is a contact
        "LKA-DSLOST": d("2026-06-15"),  # a loss is dated at the last contact instead
    }
    # survival censors at that date (all before the cut-off), none of them an OS event
    surv = {s: (e, lka) for s, e, lka in _rows(closed, "select subjid, os_event, last_known_alive from survival")}
    assert {s: surv[s] for s in got} == {s: (False, v) for s, v in got.items()}


def test_last_known_alive_of_a_subject_with_forms_but_no_follow_up(closed):
    # DFS-REC: no FU or DS row; its latest date is its last recurrence (a RECUR row is a contact)
    # and DFS-DEAD's the surgery (the DD row is left out)
    got = dict(_rows(closed, "select subjid, last_known_alive from last_known_alive where subjid like 'DFS-%'"))
    assert got == {"DFS-REC": d("2027-03-01"), "DFS-DEAD": SURG, "DFS-NONE": d("2026-06-14")}


# ------------------------------------------------------------------ survival.sql: DFS censoring
# DFS is censored at the last disease assessment (docs/warehouse.md "Definitions"): RS.RSDAT,
# PATH.PATHDAT, or FU.VISDAT of a scheduled visit attended alive, on or before the cut-off and
# never before randomization; OS at the last date known alive. A package of its own, so that
# the count of moved censorings below is countable by hand. Randomized on RAND, operated on SURG
# (the factory's response imaging is 5 days before randomization), arms as listed.
CENSOR_ARMS = {
    "CEN-AE": "STANDARD",
    "CEN-UNSCHED": "DE-ESCALATION",
    "CEN-PATH": "STANDARD",
    "CEN-NONE": "DE-ESCALATION",
    "CEN-SAME": "STANDARD",
    "CEN-LATE": "DE-ESCALATION",
    "CEN-DEADFU": "STANDARD",
    "CEN-REC": "DE-ESCALATION",
    "CEN-RSAFTER": "STANDARD",
}


def _censoring_package() -> Package:
    pkg = Package()
    for subjid, arm in CENSOR_ARMS.items():
        surgery = None if subjid == "CEN-RSAFTER" else SURG.isoformat()
        pkg.add_subject(subjid, "01", arm=arm, randdat=RAND.isoformat(), surgery=surgery)

    def fu(subjid, visit, when, status="ALIVE"):
        pkg.add("FU", SUBJID=subjid, SITEID="01", VISIT=visit, VISDAT=when, SSSTAT=status)

    def ae(subjid, when):
        pkg.add("AE", SUBJID=subjid, SITEID="01", AESPID="1", AETERM="rash", AESTDAT=when, AETOXGR="1", AESER="N")

    def path(subjid, when):
        pkg.add("PATH", SUBJID=subjid, SITEID="01", PATHDAT=when, PCR="N", MARGIN="NEGATIVE")

    # pathology, the M3 visit, then an AE months later: the AE is the last contact
    path("CEN-AE", "2026-03-25")
    fu("CEN-AE", "M3", "2026-06-14")
    ae("CEN-AE", "2026-11-02")
    # an unscheduled contact after the M3 visit is a contact, not an assessment
    fu("CEN-UNSCHED", "M3", "2026-06-14")
    fu("CEN-UNSCHED", "UNSCHEDULED", "2026-08-01")
    # pathology only, then an AE
    path("CEN-PATH", "2026-03-25")
    ae("CEN-PATH", "2026-05-01")
    # CEN-NONE: operated, no pathology, no visit: its only assessment is before randomization
    # CEN-SAME: pathology and the M3 visit on one day, nothing later
    path("CEN-SAME", "2026-06-14")
    fu("CEN-SAME", "M3", "2026-06-14")
    # the M21 visit, then an M30 visit after the cut-off (left out of crf_fu, a finding): a
    # contact for OS (censored at the cut-off), not an assessment for DFS
    fu("CEN-LATE", "M21", "2028-01-01")
    fu("CEN-LATE", "M30", "2028-07-15")
    # a scheduled visit that reports death (no death form): neither a contact nor an assessment
    fu("CEN-DEADFU", "M3", "2026-06-14")
    fu("CEN-DEADFU", "M6", "2026-09-14", "DEAD")
    # a recurrence: a DFS event, no censoring at all
    fu("CEN-REC", "M3", "2026-06-14")
    pkg.add("RECUR", SUBJID="CEN-REC", SITEID="01", RECDAT="2026-08-01", RECTYPE="LOCAL")
    ae("CEN-REC", "2026-12-01")
    # not operated; response imaging 10 days after randomization, then an AE
    pkg.add("RS", SUBJID="CEN-RSAFTER", SITEID="01", RSDAT=(RAND + days(10)).isoformat(), RSORRES="SD")
    ae("CEN-RSAFTER", "2026-04-01")
    return pkg


# subject -> (last known alive (OS censoring), DFS censoring date, its source, moved), by hand
CENSORING = {
    "CEN-AE": (d("2026-11-02"), d("2026-06-14"), "FU", True),
    "CEN-UNSCHED": (d("2026-08-01"), d("2026-06-14"), "FU", True),
    "CEN-PATH": (d("2026-05-01"), d("2026-03-25"), "PATH", True),
    # last contact the surgery; the RS row (RAND - 5) censors at randomization, day 0
    "CEN-NONE": (SURG, RAND, "randomization", True),
    # on one day the FU visit names the source
    "CEN-SAME": (d("2026-06-14"), d("2026-06-14"), "FU", False),
    # the contact after the cut-off censors OS at the cut-off; DFS stays at the M21 visit
    "CEN-LATE": (CUTOFF, d("2028-01-01"), "FU", True),
    "CEN-DEADFU": (d("2026-06-14"), d("2026-06-14"), "FU", False),
    "CEN-RSAFTER": (d("2026-04-01"), RAND + days(10), "RS", True),
}


@pytest.fixture(scope="module")
def censoring(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dfs_censoring")
    build(_censoring_package().write(tmp / "pkg"), tmp / "wh")
    con = warehouse.connect(tmp / "wh", closed=True)
    blinded = warehouse.connect(tmp / "wh", closed=False)
    yield con, blinded
    con.close()
    blinded.close()


def test_dfs_is_censored_at_the_last_disease_assessment(censoring):
    con, _ = censoring
    got = {
        s: tuple(rest)
        for s, *rest in _rows(
            con,
            "select subjid, last_known_alive, last_disease_assessment, dfs_censor_source, dfs_censor_moved "
            "from survival where not dfs_event",
        )
    }
    assert got == CENSORING
    times = {s: (os, dfs) for s, os, dfs in _rows(con, "select subjid, os_days, dfs_days from survival")}
    for subjid, (lka, censor, _source, _moved) in CENSORING.items():
        assert times[subjid] == ((lka - RAND).days, (censor - RAND).days), subjid


def test_a_dfs_event_has_no_censoring(censoring):
    con, _ = censoring
    assert _rows(
        con,
        "select dfs_event, dfs_days, last_disease_assessment, dfs_censor_source, dfs_censor_moved, os_days "
        "from survival where subjid = 'CEN-REC'",
    ) == [(True, (d("2026-08-01") - RAND).days, None, None, False, (d("2026-12-01") - RAND).days)]


def test_the_count_of_moved_dfs_censorings_by_arm(censoring):
    from dashboard.store.sql import query

    con, _ = censoring
    moved = {
        s: (lka - censor).days for s, (lka, censor, _src, is_moved) in CENSORING.items() if is_moved
    }  # CEN-AE 141, CEN-UNSCHED 48, CEN-PATH 37, CEN-NONE 14, CEN-LATE 181, CEN-RSAFTER 21

    def arm(a):
        return sorted(v for s, v in moved.items() if a is None or CENSOR_ARMS[s] == a)

    got = con.execute(query("closed/dfs_censoring")).df()
    rows = {
        r.arm if isinstance(r.arm, str) else None: (
            r.randomized,
            r.dfs_censored,
            r.dfs_censor_moved,
            r.censored_at_randomization,
            r.median_days_moved,
            r.max_days_moved,
        )
        for r in got.itertuples()
    }
    # STANDARD: 5 randomized, none with an event, 3 moved (37, 141, 21 days: median 37)
    # DE-ESCALATION: 4 randomized, CEN-REC an event, 3 moved (48, 14 at randomization, 181)
    # both arms: 9, 8 censored, 6 moved, median of 14, 21, 37, 48, 141, 181 = 42.5
    assert rows == {
        "STANDARD": (5, 5, 3, 0, 37.0, 141),
        "DE-ESCALATION": (4, 3, 3, 1, 48.0, 181),
        None: (9, 8, 6, 1, 42.5, 181),
    }
    assert arm("STANDARD") == [21, 37, 141] and arm("DE-ESCALATION") == [14, 48, 181]
    assert list(got.arm.iloc[:2]) == ["DE-ESCALATION", "STANDARD"]


def test_blinded_roles_read_the_dfs_censoring_columns(censoring):
    con, blinded = censoring
    cols = "subjid, last_disease_assessment, dfs_censor_source, dfs_censor_moved, dfs_days"
    assert sorted(_rows(blinded, f"select {cols} from survival")) == sorted(_rows(con, f"select {cols} from survival"))
