"""The demo package generator: spec conformance, coherence, determinism and the planted findings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict

import pytest

from dashboard.config import load_crf_spec, load_trial
from dashboard.devtools.demo import SOURCE_PREFIX, ajcc8_stage, write_demo_package

CUTOFF = dt.date(2028, 6, 30)
DATE_TYPES = ("date", "partial_date", "partial_date_y")
DATE_RE = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "partial_date": re.compile(r"^\d{4}-\d{2}(-\d{2})?$"),
    "partial_date_y": re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$"),
    "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"),
}


def read(folder, form, encoding="utf-8"):
    with open(folder / f"{form}.csv", encoding=encoding, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, r, strict=True)) for r in body]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default package, written once for the module."""
    out = tmp_path_factory.mktemp("demo")
    info = write_demo_package(out)
    spec = load_crf_spec()
    tables = {form: read(out, form)[1] for form in spec.forms}
    return out, info, tables


def _full(d: str) -> dt.date:
    """A (partial) date, imputed to the first day of its period as the build does."""
    return dt.date.fromisoformat(d if len(d) == 10 else (d + "-01-01")[:10] if len(d) == 4 else d + "-01")


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# ------------------------------------------------------------------ format
def test_every_form_has_the_spec_header(demo):
    out, info, _ = demo
    spec = load_crf_spec()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{f}.csv" for f in spec.forms)
    for form_name, form in spec.forms.items():
        header, rows = read(out, form_name)
        assert header[: len(form.columns)] == form.column_names, form_name
        assert set(header[len(form.columns) :]) <= set(spec.optional_everywhere), form_name
        assert info["rows"][form_name] == len(rows)
    assert info["rows"]["DM"] == info["rows"]["RAND"] == info["randomized"] == 300
    assert info["screened"] == info["rows"]["SCREENING"] > 300


def test_cells_follow_the_spec(demo):
    """Codes, patterns, Y/N, integers, numbers and date formats, column by column."""
    _, _, tables = demo
    spec = load_crf_spec()
    checked = Counter()  # cells each kind of check looked at: none may be zero
    for form_name, form in spec.forms.items():
        rows = tables[form_name]
        if form.must_have_rows:
            assert rows, form_name
            checked["must_have_rows"] += 1
        if form.exactly_one_row:
            assert len(rows) == 1
            checked["exactly_one_row"] += 1
        for col in form.columns:
            values = [r[col.name] for r in rows]
            where = f"{form_name}.{col.name}"
            if col.required:
                assert all(values), where
                checked["required"] += len(values)
            present = [v for v in values if v]
            if col.codes:
                assert set(present) <= set(col.codes), (where, set(present) - set(col.codes))
                checked["codes"] += len(present)
            if col.pattern:
                assert all(re.match(col.pattern, v) for v in present), where
                checked["pattern"] += len(present)
            if col.type == "yn":
                assert set(present) <= {"Y", "N"}, where
                checked["yn"] += len(present)
            if col.type in DATE_RE:
                assert all(DATE_RE[col.type].match(v) for v in present), where
                for v in present:  # real calendar dates
                    if col.type == "datetime":
                        dt.datetime.fromisoformat(v)
                    else:
                        _full(v)
                checked[col.type] += len(present)
            if col.type in ("integer", "number"):
                nums = [float(v) if col.type == "number" else int(v) for v in present]
                if col.min is not None:
                    assert all(x >= col.min for x in nums), where
                    checked["min"] += len(nums)
                if col.max is not None:
                    assert all(x <= col.max for x in nums), where
                    checked["max"] += len(nums)
        for r in rows:
            if r.get("ENTDTC"):
                assert DATE_RE["datetime"].match(r["ENTDTC"]), form_name
                checked["ENTDTC"] += 1
    kinds = [
        "must_have_rows",
        "exactly_one_row",
        "required",
        "codes",
        "pattern",
        "yn",
        "date",
        "partial_date",
        "partial_date_y",
        "datetime",
        "min",
        "max",
        "ENTDTC",
    ]
    assert not [k for k in kinds if not checked[k]], checked


def test_keys_are_unique(demo):
    _, _, tables = demo
    spec = load_crf_spec()
    keyed = {name: form.key for name, form in spec.forms.items() if form.key}
    assert {"DM", "RAND", "SCREENING", "AE", "EX", "DV"} <= set(keyed)
    for form_name, key in keyed.items():
        counts = Counter(tuple(r[k] for k in key) for r in tables[form_name])
        assert not [k for k, n in counts.items() if n > 1], form_name
    scrn = [r["SUBJID"] for r in tables["SCREENING"] if r["SUBJID"]]
    assert len(scrn) == len(set(scrn))


def test_each_subject_on_one_site(demo):
    _, _, tables = demo
    spec = load_crf_spec()
    sites = {r["SITEID"] for r in tables["SITES"]}
    site_of: dict[str, set] = defaultdict(set)
    for form_name, form in spec.forms.items():
        if form.subject_level or form_name == "SCREENING":
            for r in tables[form_name]:
                if r["SUBJID"]:
                    site_of[r["SUBJID"]].add(r["SITEID"])
                assert r["SITEID"] in sites
    assert len(site_of) >= 300 and all(len(v) == 1 for v in site_of.values())
    for sid, site in site_of.items():
        assert sid.split("-")[0] == next(iter(site))
    randomized = {r["SUBJID"] for r in tables["RAND"]}
    enrolled = {r["SUBJID"] for r in tables["SCREENING"] if r["SCRNOUT"] == "ENROLLED"}
    assert randomized == enrolled == {r["SUBJID"] for r in tables["DM"]}
    # forms with a row for every subject, and IE with every criterion
    every = [name for name, form in spec.forms.items() if form.rows_for_every_subject]
    assert {"IE", "EX", "RS"} <= set(every)
    for form_name in every:
        assert {r["SUBJID"] for r in tables[form_name]} == randomized, form_name
    codes = [c.code for c in load_trial().eligibility]
    per_subject = defaultdict(list)
    for r in tables["IE"]:
        per_subject[r["SUBJID"]].append(r["IETESTCD"])
    assert set(per_subject) == randomized and all(sorted(v) == sorted(codes) for v in per_subject.values())


def test_sites_and_accrual(demo):
    _, info, tables = demo
    sites = tables["SITES"]
    assert [s["SITEID"] for s in sites] == [f"{k:02d}" for k in range(1, 13)]
    assert sites[0]["SITENAME"] == "上海交通大学医学院附属第九人民医院"
    assert any("," in s["SITENAME"] for s in sites) and any('"' in s["SITENAME"] for s in sites)
    pending = [s for s in sites if s["STATUS"] == "PENDING"]
    assert len(pending) >= 2 and all(not s["ACTDAT"] for s in pending)
    assert [s["SITEID"] for s in pending] == info["pending_sites"]
    actdat = {s["SITEID"]: s["ACTDAT"] for s in sites}
    assert len(tables["RAND"]) == 300
    for r in tables["RAND"]:
        assert actdat[r["SITEID"]] and actdat[r["SITEID"]] <= r["RANDDAT"] <= CUTOFF.isoformat()
    per_site = Counter(r["SITEID"] for r in tables["RAND"])
    assert len(set(per_site.values())) > 3  # uneven accrual
    outcomes = Counter(r["SCRNOUT"] for r in tables["SCREENING"])
    assert outcomes["ENROLLED"] == 300 and outcomes["PENDING"] >= 1
    reasons = Counter(r["SFREAS"] for r in tables["SCREENING"] if r["SCRNOUT"] == "SCREEN FAILURE")
    assert reasons.most_common(1)[0][0] == "I07"
    export = tables["EXPORT"][0]
    assert export["SOURCE"].startswith(SOURCE_PREFIX)
    assert export["CUTOFFDAT"] == CUTOFF.isoformat() and export["SPECVER"] == "1.0"
    assert export["EXPORTDTC"][:10] > export["CUTOFFDAT"]


def test_randomization_is_balanced_within_strata(demo):
    _, _, tables = demo
    trial = load_trial()
    half = trial.randomization.block_size // 2
    arms = trial.arm_codes
    by_stratum = defaultdict(Counter)
    for r in sorted(tables["RAND"], key=lambda r: r["RANDNO"]):
        by_stratum[(r["STRATRESP"], r["STRATSITE"])][r["ARM"]] += 1
    assert len(by_stratum) == 4
    for counts in by_stratum.values():
        assert abs(counts[arms[0]] - counts[arms[1]]) <= half
    total = Counter(r["ARM"] for r in tables["RAND"])
    assert abs(total[arms[0]] - total[arms[1]]) <= half * len(by_stratum)
    assert sorted(r["RANDNO"] for r in tables["RAND"]) == [f"R{k:04d}" for k in range(1, 301)]
    # the protocol surgery names the arm
    arm = {r["SUBJID"]: r["ARM"] for r in tables["RAND"]}
    surgery = {"DE-ESCALATION": "DE-ESCALATION SURGERY", "STANDARD": "STANDARD SURGERY"}
    first = {}
    for r in sorted(tables["PR"], key=lambda r: r["PRDAT"]):
        first.setdefault(r["SUBJID"], r["PRTRT"])
    assert len(first) > 250 and all(first[s] == surgery[arm[s]] for s in first)


# ------------------------------------------------------------------ determinism and encoding
def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_demo_package(a, subjects=120, sites=8)
    write_demo_package(b, subjects=120, sites=8)
    write_demo_package(c, subjects=120, sites=8, seed=7)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    assert (a / "RAND.csv").read_bytes() != (c / "RAND.csv").read_bytes()


def test_gb18030_encoding(tmp_path):
    write_demo_package(tmp_path, subjects=60, sites=12, encoding="gb18030")
    raw = (tmp_path / "SITES.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError, match="'utf-8' codec can't decode"):
        raw.decode("utf-8")  # really GB18030, not UTF-8
    text = raw.decode("gb18030")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    names = [r["SITENAME"] for r in rows]
    assert "上海交通大学医学院附属第九人民医院" in names
    assert "南京大学医学院附属口腔医院, 南京市口腔医院" in names
    assert '浙江大学医学院附属第一医院 ("浙大一院")' in names
    assert rows[0]["CITY"] == "上海"
    dv = (tmp_path / "DV.csv").read_bytes().decode("gb18030")
    ae = (tmp_path / "AE.csv").read_bytes().decode("gb18030")
    assert re.search(r"[\u4e00-\u9fff]", dv) and re.search(r"[\u4e00-\u9fff]", ae)


def test_many_sites_three_digit_ids(tmp_path):
    info = write_demo_package(tmp_path, subjects=1500, sites=150)
    _, sites = read(tmp_path, "SITES")
    assert len(sites) == 150 and sites[0]["SITEID"] == "001"
    assert len({s["SITENAME"] for s in sites}) == 150
    _, rand = read(tmp_path, "RAND")
    assert len(rand) == 1500 == info["randomized"]
    assert all(re.match(r"^\d{3}-\d{3,}$", r["SUBJID"]) for r in rand)
    assert max(r["RANDDAT"] for r in rand) <= CUTOFF.isoformat()


# ------------------------------------------------------------------ coherence and planted findings
def test_no_date_after_the_cutoff_but_the_planted(demo):
    _, info, tables = demo
    spec = load_crf_spec()
    export = tables["EXPORT"][0]["EXPORTDTC"]
    late = []
    for form_name, form in spec.forms.items():
        for col in form.columns:
            if col.type not in DATE_TYPES or form_name == "EXPORT":
                continue
            for r in tables[form_name]:
                if r[col.name] and _full(r[col.name]) > CUTOFF:
                    late.append([form_name, r.get("SUBJID", ""), col.name])
        for r in tables[form_name]:
            assert r.get("ENTDTC", "") <= export
    assert late == info["planted"]["dates_after_cutoff"]
    assert [s for _, s, _ in late] == info["planted"]["ae_after_cutoff"]


def test_entry_stamps_after_their_row(demo):
    _, _, tables = demo
    spec = load_crf_spec()
    stamped = 0
    for form_name, form in spec.forms.items():
        main = form.main_date
        for r in tables[form_name]:
            if r.get("ENTDTC") and main:
                stamped += 1
                assert r["ENTDTC"][:10] >= _full(r[main]).isoformat()[:10], (form_name, r)
    assert stamped > 1000


def test_planted_i01_subject_is_76_at_consent(demo):
    _, info, tables = demo
    (sid,) = info["planted"]["I01"]
    dm = {r["SUBJID"]: r for r in tables["DM"]}
    ages = {s: _age(_full(r["BRTHDAT"]), _full(r["RFICDAT"])) for s, r in dm.items()}
    assert ages[sid] == 76
    assert [s for s, a in ages.items() if not 18 <= a <= 75] == [sid]
    ie = {(r["SUBJID"], r["IETESTCD"]): r["IEORRES"] for r in tables["IE"]}
    assert ie[(sid, "I01")] == "Y"  # the site disagrees with the data
    disagreements = {tuple(x) for x in info["planted"]["IE_DISAGREE"]}
    assert (sid, "I01") in disagreements


def test_stage_recomputes_except_planted(demo):
    _, info, tables = demo
    planted = info["planted"]
    mismatch, ineligible = [], []
    assert len(tables["DX"]) == 300
    for r in tables["DX"]:
        stage = ajcc8_stage(r["PRIMSITE"], r["P16"], r["CT"], r["CN"], r["CM"])
        if stage != r["STAGE"]:
            mismatch.append(r["SUBJID"])
        hpv = r["PRIMSITE"] == "OROPHARYNX" and r["P16"] == "POSITIVE"
        if stage not in (("III",) if hpv else ("III", "IVA")):
            ineligible.append(r["SUBJID"])
        assert r["PRIMSITE"] != "NASOPHARYNX"
    assert sorted(mismatch) == sorted(planted["STAGE_MISMATCH"]) and len(mismatch) >= 3
    assert sorted(ineligible) == sorted(planted["I03"])


def test_ajcc8_rules():
    assert ajcc8_stage("ORAL CAVITY", "", "T4", "N0", "M0") == "IVA"
    assert ajcc8_stage("ORAL CAVITY", "POSITIVE", "T3", "N0", "M0") == "III"  # p16 only in the oropharynx
    assert ajcc8_stage("OROPHARYNX", "POSITIVE", "T3", "N2", "M0") == "II"
    assert ajcc8_stage("OROPHARYNX", "NOT DONE", "T3", "N2B", "M0") == "IVA"
    assert ajcc8_stage("OROPHARYNX", "POSITIVE", "T2", "N3", "M0") == "III"
    assert ajcc8_stage("LARYNX", "", "T2", "N3B", "M0") == "IVB"
    assert ajcc8_stage("HYPOPHARYNX", "", "T1", "N0", "M1") == "IVC"
    assert ajcc8_stage("NASOPHARYNX", "", "T2", "N0", "M0") == "II"
    assert ajcc8_stage("LARYNX", "", "TX", "N0", "M0") is None


def test_planted_windows_and_criteria(demo):
    """Each planted deviation is exactly the set of subjects that break that rule."""
    _, info, tables = demo
    planted = info["planted"]
    sch = load_trial().schedule
    days = lambda a, b: (_full(b) - _full(a)).days  # noqa: E731
    rand = {r["SUBJID"]: r["RANDDAT"] for r in tables["RAND"]}
    consent = {r["SUBJID"]: r["RFICDAT"] for r in tables["DM"]}
    assert sorted(s for s in rand if consent[s] > rand[s]) == sorted(planted["I12"])
    surgery = {}
    for r in sorted(tables["PR"], key=lambda r: r["PRDAT"]):
        surgery.setdefault(r["SUBJID"], r["PRDAT"])
    late_surgery = [s for s in surgery if days(rand[s], surgery[s]) > sch.randomization_to_surgery_max_days]
    assert sorted(late_surgery) == sorted(planted["randomization_to_surgery"])
    assert all(days(rand[s], surgery[s]) >= 0 for s in surgery)
    never = [s for s in rand if s not in surgery and days(rand[s], CUTOFF.isoformat()) > sch.never_operated_after_days]
    assert sorted(never) == sorted(planted["never_operated"])
    rt = {}
    for r in sorted(tables["ADJ"], key=lambda r: r["ADJSTDAT"]):
        if r["ADJTYPE"] in sch.adjuvant_rt_types:
            rt.setdefault(r["SUBJID"], r["ADJSTDAT"])
    late_rt = [s for s in rt if days(surgery[s], rt[s]) > sch.surgery_to_adjuvant_rt_max_days]
    assert sorted(late_rt) == sorted(planted["surgery_to_adjuvant_rt"])
    ecog = {r["SUBJID"]: int(r["ECOG"]) for r in tables["BL"]}
    assert [s for s, e in ecog.items() if e > 1] == planted["I04"]
    cycles = Counter(r["SUBJID"] for r in tables["EX"])
    assert [s for s, n in cycles.items() if n > 6] == planted["I06"]
    last_response = {}
    for r in sorted(tables["RS"], key=lambda r: r["RSDAT"]):
        if r["RSDAT"] <= rand[r["SUBJID"]]:
            last_response[r["SUBJID"]] = r["RSORRES"]
    assert [s for s, v in last_response.items() if v not in ("CR", "PR")] == planted["I07"]
    # follow-up visits against their windows
    dpm = load_trial().trial.days_per_month
    out_of_window = set()
    for r in tables["FU"]:
        if r["VISIT"] == "UNSCHEDULED":
            continue
        m = int(r["VISIT"][1:])
        due = _full(surgery[r["SUBJID"]]) + dt.timedelta(days=round(m * dpm))
        window = sch.followup_window_days if m <= sch.followup_window_switch_month else sch.followup_window_days_late
        if abs((_full(r["VISDAT"]) - due).days) > window:
            out_of_window.add(r["SUBJID"])
    assert sorted(out_of_window) == sorted(planted["followup_out_of_window"])
    assert len(planted["followup_out_of_window"]) >= 1


def test_outcomes_are_coherent(demo):
    _, _, tables = demo
    death = {r["SUBJID"]: r["DTHDAT"] for r in tables["DD"]}
    assert death and all(r["DSDECOD"] == "DEATH" for r in tables["DS"] if r["SUBJID"] in death)
    assert {r["SUBJID"] for r in tables["DS"] if r["DSDECOD"] == "DEATH"} == set(death)
    spec = load_crf_spec()
    dated_before_death = 0
    for form_name, form in spec.forms.items():
        if form_name in ("DD", "DS") or not form.subject_level:
            continue
        for col in form.columns:
            if col.type not in DATE_TYPES or col.name == "BRTHDAT":
                continue
            for r in tables[form_name]:
                if r["SUBJID"] in death and r[col.name] and not (form_name == "FU" and r["SSSTAT"] == "DEAD"):
                    assert _full(r[col.name]) <= _full(death[r["SUBJID"]]), (form_name, col.name, r)
                    dated_before_death += 1
    assert dated_before_death > len(death)  # the dead subjects' dates were looked at
    rand = {r["SUBJID"]: r["RANDDAT"] for r in tables["RAND"]}
    assert tables["RECUR"] and all(r["RECDAT"] > rand[r["SUBJID"]] for r in tables["RECUR"])
    assert all(r["DTHDAT"] > rand[r["SUBJID"]] for r in tables["DD"])
    arms = {r["SUBJID"]: r["ARM"] for r in tables["RAND"]}
    surgery_arm = {r["SUBJID"]: arms[r["SUBJID"]] for r in tables["PR"]}
    assert set(surgery_arm.values()) == set(load_trial().arm_codes)
    # AEs: partial onsets exist, grades span 1..5, Chinese verbatim terms
    ae = tables["AE"]
    assert any(len(r["AESTDAT"]) == 7 for r in ae) and any(len(r["AESTDAT"]) == 4 for r in ae)
    assert {r["AETOXGR"] for r in ae} >= {"1", "2", "3", "5"}
    assert any(r["AECLAV"] for r in ae) and any(r["AEIMMUNE"] == "Y" for r in ae)
    qs_visits = {r["VISIT"] for r in tables["QS"]}
    assert {"BASELINE", "M3", "M6", "M12"} <= qs_visits
