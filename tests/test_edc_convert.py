"""The EDC converter, one mapping feature per test (dashboard/ingest/edc/mapping.py lists them), on
tiny REDCap and ODM sources written here, and its refusals. Each test converts a source of one or
two records whose answers are known and reads the package's CSV files.

The REDCap sources follow REDCapR's test projects (github.com/OuhscBbmc/REDCapR,
inst/test-data/projects/: longitudinal-with-repeating-instrument/data.csv for the flat export's
columns, dag-write/data.csv for redcap_data_access_group, checkboxes-1/dictionary.csv for the
dictionary and field___code checkboxes); the ODM sources follow odmlib's
tests/data/odm-data-snapshot.xml (github.com/swhume/odmlib) and, for FormData directly under
SubjectData with the data access group as an ItemData, REDCapR's dag/project.xml."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.ingest.edc.convert import convert
from dashboard.ingest.edc.mapping import MappingError
from dashboard.ingest.problems import WITHHELD, PackageRefused

FIXTURES = Path(__file__).parent / "fixtures" / "edc"

# ------------------------------------------------------------------------------ tiny sources

# one record's answers on the instrument `crf` (every must-have form reads it)
BASE = {
    "scr_no": "S101",
    "scr_date": "2026-02-01",
    "scr_out": "1",
    "dob": "1960-05-10",
    "sex": "1",
    "consent": "2026-02-01",
    "ie_i01": "1",
    "ie_e01": "0",
    "dx_date": "2026-01-10",
    "prim": "1",
    "histol": "1",
    "ct": "T3",
    "cn": "N1",
    "cm": "M0",
    "stage": "III",
    "recur": "0",
    "priortx": "0",
    "bl_date": "2026-02-03",
    "ecog": "1",
    "cardiac": "0",
    "othmal": "0",
    "ex_cycle": "1",
    "ex_date": "2026-02-10",
    "ex_trt": "TORIPALIMAB",
    "ex_class": "ANTI-PD-1",
    "rs_date": "2026-04-01",
    "rs_res": "PR",
    "rand_date": "2026-04-05",
    "rand_no": "R1",
    "grp": "1",
}
YN = '{ "1" = "Y", "0" = "N" }'
FORMS = {
    "SCREENING": """
[forms.SCREENING]
from = "crf"
[forms.SCREENING.columns]
SCRNID = "scr_no"
SCRNDAT = "scr_date"
SCRNOUT = { field = "scr_out", codes = { "1" = "ENROLLED", "2" = "SCREEN FAILURE" } }
""",
    "DM": """
[forms.DM]
from = "crf"
[forms.DM.columns]
BRTHDAT = "dob"
SEX = { field = "sex", codes = { "1" = "M", "2" = "F" } }
RFICDAT = "consent"
""",
    "IE": f"""
[forms.IE]
from = "crf"
[forms.IE.unpivot]
key = "IETESTCD"
value = "IEORRES"
codes = {YN}
fields = {{ I01 = "ie_i01", E01 = "ie_e01" }}
""",
    "DX": f"""
[forms.DX]
from = "crf"
[forms.DX.columns]
DXDAT = "dx_date"
PRIMSITE = {{ field = "prim", codes = {{ "1" = "ORAL CAVITY", "2" = "LARYNX" }} }}
HISTOL = {{ field = "histol", codes = {{ "1" = "SCC", "2" = "OTHER" }} }}
CT = "ct"
CN = "cn"
CM = "cm"
STAGE = "stage"
RECUR = {{ field = "recur", codes = {YN} }}
PRIORTX = {{ field = "priortx", codes = {YN} }}
""",
    "BL": f"""
[forms.BL]
from = "crf"
[forms.BL.columns]
BLDAT = "bl_date"
ECOG = "ecog"
CARDIAC6M = {{ field = "cardiac", codes = {YN} }}
OTHMAL5Y = {{ field = "othmal", codes = {YN} }}
""",
    "EX": """
[forms.EX]
from = "crf"
[forms.EX.columns]
EXCYCLE = "ex_cycle"
EXSTDAT = "ex_date"
EXTRT = "ex_trt"
EXCLASS = "ex_class"
""",
    "RS": """
[forms.RS]
from = "crf"
[forms.RS.columns]
RSDAT = "rs_date"
RSORRES = "rs_res"
""",
    "RAND": """
[forms.RAND]
from = "crf"
[forms.RAND.columns]
RANDDAT = "rand_date"
RANDNO = "rand_no"
ARM = { field = "grp", codes = { "1" = "DE-ESCALATION", "2" = "STANDARD" } }
""",
}
EXPORT = """
[export]
EXPORTDTC = { metadata = "export_time" }
SOURCE = { metadata = "source" }
CUTOFFDAT = "2028-06-30"
"""
SITES = """
[[sites]]
source = "site_a"
SITEID = "01"
SITENAME = "第一人民医院"
CITY = "上海"

[[sites]]
source = "site_b"
SITEID = "02"
SITENAME = "第二人民医院"
"""
REDCAP_META = ["redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
EXPORT_JSON = {"export_time": "2028-07-01T08:00:00+08:00", "source": "REDCap 14.5.1 project 123"}


def mapping(
    tmp: Path,
    *,
    kind: str = "redcap",
    forms: dict[str, str | None] | None = None,
    subjects: str = "",
    sites: str = SITES,
    events: str = "",
    export: str = EXPORT,
    source_extra: str = "",
) -> Path:
    """A mapping file: the base forms, each replaced (or, None, left out) by `forms`."""
    parts = {**FORMS, **(forms or {})}
    text = f'[source]\nkind = "{kind}"\n{source_extra}\n{export}\n{subjects}\n{sites}\n{events}\n'
    text += "".join(v for v in parts.values() if v)
    path = tmp / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def record(rid: str = "101", dag: str = "site_a", **values) -> dict:
    return {"record_id": rid, "redcap_data_access_group": dag, **BASE, **values}


def redcap(
    tmp: Path,
    rows: list[dict] | None = None,
    *,
    info: dict[str, tuple[str, str, str]] | None = None,
    api_names: bool = True,
    export_json: dict | None = EXPORT_JSON,
) -> Path:
    """A REDCap source folder: records.csv in REDCap's column order (record ID, the redcap_ columns
    present, then the fields) and dictionary.csv (`info`: field -> (instrument, type, choices);
    every other field a text field of `crf`)."""
    rows = rows if rows is not None else [record()]
    folder = tmp / "src"
    folder.mkdir()
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    header = ["record_id"] + [m for m in REDCAP_META if m in fields]
    header += [f for f in fields if f not in header]
    with open(folder / "records.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    info = dict(info or {})
    names = ["record_id"] + [f for f in header if f not in REDCAP_META and f != "record_id"]
    entries: dict[str, tuple[str, str, str]] = {}
    for f in names:
        base = f.split("___")[0]
        if base in entries:
            continue
        entries[base] = info.pop(base, ("crf", "text", ""))
    entries.update(info)
    if api_names:
        dheader = ["field_name", "form_name", "section_header", "field_type", "field_label"]
        dheader += ["select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number"]
    else:
        dheader = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label"]
        dheader += [
            "Choices, Calculations, OR Slider Labels",
            "Field Note",
            "Text Validation Type OR Show Slider Number",
        ]
        dheader += [
            "Text Validation Min",
            "Text Validation Max",
            "Identifier?",
            "Branching Logic (Show field only if...)",
        ]
        dheader += ["Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name"]
        dheader += ["Matrix Ranking?", "Field Annotation"]
    with open(folder / "dictionary.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(dheader)
        for name, (form, kind, choices) in entries.items():
            w.writerow([name, form, "", kind, name, choices] + [""] * (len(dheader) - 6))
    if export_json is not None:
        (folder / "export.json").write_text(json.dumps(export_json, ensure_ascii=False), encoding="utf-8")
    return folder


ODM_ATTRS = 'CreationDateTime="2028-07-01T08:00:00+08:00" SourceSystem="TestEDC" SourceSystemVersion="2.1"'


def items(values: dict[str, str]) -> str:
    return "".join(f'<ItemData ItemOID="{k}" Value="{v}"/>' for k, v in values.items())


def odm_subject(key: str = "101", site: str = "site_a", extra: str = "", values: dict | None = None) -> str:
    """A SubjectData with its SiteRef and the base answers in one FormData `crf`."""
    v = {**BASE, **(values or {})}
    return (
        f'<SubjectData SubjectKey="{key}"><SiteRef LocationOID="{site}"/>'
        f'<StudyEventData StudyEventOID="SE.BASE"><FormData FormOID="crf">'
        f'<ItemGroupData ItemGroupOID="IG.CRF">{items(v)}</ItemGroupData></FormData></StudyEventData>'
        f"{extra}</SubjectData>"
    )


def odm(tmp: Path, subjects: str, *, metadata: str = "", attrs: str = ODM_ATTRS, prolog: str = "") -> Path:
    folder = tmp / "src"
    folder.mkdir()
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}'
    text += (
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:redcap="https://projectredcap.org" '
        f'ODMVersion="1.3.2" FileType="Snapshot" FileOID="T.1" {attrs}>\n'
    )
    if metadata:
        text += f'<Study OID="S.1"><MetaDataVersion OID="MDV.1" Name="v1">{metadata}</MetaDataVersion></Study>\n'
    text += f'<ClinicalData StudyOID="S.1" MetaDataVersionOID="MDV.1">\n{subjects}\n</ClinicalData>\n</ODM>\n'
    (folder / "export.xml").write_text(text, encoding="utf-8")
    return folder


def run(tmp: Path, src: Path, m: Path):
    return convert(src, m, tmp / "pkg")


def read(conv, form: str) -> list[dict[str, str]]:
    with open(conv.package / f"{form}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def col(conv, form: str, name: str) -> list[str]:
    return [r[name] for r in read(conv, form)]


def refused(exc) -> list:
    return [p for p in exc.value.problems if p.severity == "error"]


AE_FORM = f"""
[forms.AE]
from = "adverse_events"
[forms.AE.columns]
AESPID = {{ instance = true }}
AETERM = "ae_term"
AESTDAT = "ae_date"
AETOXGR = "ae_grade"
AESER = {{ field = "ae_ser", codes = {YN} }}
"""
AE_INFO = {
    f: ("adverse_events", "text", "") for f in ("ae_term", "ae_date", "ae_grade", "ae_ser", "ae_y", "ae_m", "ae_d")
}


def ae_row(rid: str, instance: str, dag: str = "site_a", **values) -> dict:
    base = {"ae_term": "发热", "ae_date": "2026-03-01", "ae_grade": "1", "ae_ser": "0"}
    return {
        "record_id": rid,
        "redcap_repeat_instrument": "adverse_events",
        "redcap_repeat_instance": instance,
        "redcap_data_access_group": dag,
        **base,
        **values,
    }


# ------------------------------------------------------------------------------ features


def test_field_to_column_passes_the_value_on(tmp_path):
    conv = run(tmp_path, redcap(tmp_path), mapping(tmp_path))
    assert read(conv, "DM") == [
        {"SUBJID": "101", "SITEID": "01", "BRTHDAT": "1960-05-10", "SEX": "M", "RFICDAT": "2026-02-01"}
    ]
    dx = read(conv, "DX")[0]
    assert (dx["CT"], dx["CN"], dx["CM"], dx["STAGE"]) == ("T3", "N1", "M0", "III")
    assert read(conv, "SCREENING") == [
        {"SCRNID": "S101", "SITEID": "01", "SCRNDAT": "2026-02-01", "SCRNOUT": "ENROLLED", "SUBJID": "101"}
    ]


def test_codes_given_map_source_codes_to_ours(tmp_path):
    rows = [record("101", sex="1"), record("102", sex="2", scr_no="S102", rand_no="R2", grp="2")]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    assert col(conv, "DM", "SEX") == ["M", "F"]
    assert col(conv, "RAND", "ARM") == ["DE-ESCALATION", "STANDARD"]
    assert col(conv, "DX", "RECUR") == ["N", "N"]


@pytest.mark.parametrize("api_names", [True, False], ids=["api-metadata", "18-column-download"])
def test_codes_labels_from_the_redcap_dictionary(tmp_path, api_names):
    rows = [record("101", prim="1"), record("102", prim="4", scr_no="S102")]
    info = {"prim": ("crf", "dropdown", "1, ORAL CAVITY | 2, OROPHARYNX | 4, LARYNX")}
    forms = {"DX": FORMS["DX"].replace('{ "1" = "ORAL CAVITY", "2" = "LARYNX" }', '"labels"')}
    conv = run(tmp_path, redcap(tmp_path, rows, info=info, api_names=api_names), mapping(tmp_path, forms=forms))
    assert col(conv, "DX", "PRIMSITE") == ["ORAL CAVITY", "LARYNX"]


def test_codes_labels_from_an_odm_codelist(tmp_path):
    metadata = (
        '<ItemDef OID="prim" Name="prim" DataType="text"><CodeListRef CodeListOID="CL.PRIM"/></ItemDef>'
        '<CodeList OID="CL.PRIM" Name="prim" DataType="text">'
        '<CodeListItem CodedValue="1"><Decode><TranslatedText xml:lang="en">ORAL CAVITY</TranslatedText>'
        '<TranslatedText xml:lang="zh">口腔</TranslatedText></Decode></CodeListItem>'
        '<CodeListItem CodedValue="3"><Decode><TranslatedText xml:lang="en">HYPOPHARYNX</TranslatedText>'
        '<TranslatedText xml:lang="zh">下咽</TranslatedText></Decode></CodeListItem></CodeList>'
    )
    src = odm(
        tmp_path, odm_subject("101") + odm_subject("102", values={"prim": "3", "scr_no": "S2"}), metadata=metadata
    )
    forms = {"DX": FORMS["DX"].replace('{ "1" = "ORAL CAVITY", "2" = "LARYNX" }', '"labels"')}
    conv = run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', forms=forms))
    assert col(conv, "DX", "PRIMSITE") == ["ORAL CAVITY", "HYPOPHARYNX"]


FU_FORM = """
[forms.FU]
from = "follow_up"
[forms.FU.columns]
VISIT = { event = "visit" }
VISDAT = "fu_date"
SSSTAT = { field = "vital", codes = { "1" = "ALIVE", "2" = "DEAD" } }
"""
FU_INFO = {"fu_date": ("follow_up", "text", ""), "vital": ("follow_up", "radio", "1, 存活 | 2, 死亡")}


def fu(rid: str, event: str, date: str, dag: str = "site_a") -> dict:
    return {
        "record_id": rid,
        "redcap_event_name": event,
        "redcap_data_access_group": dag,
        "fu_date": date,
        "vital": "1",
    }


def test_events_become_visits_through_the_events_table_or_upper_case(tmp_path):
    rows = [
        {**record("101"), "redcap_event_name": "screening_arm_1"},
        fu("101", "m3_arm_1", "2026-07-01"),
        fu("101", "m6_arm_1", "2026-10-01"),
        fu("101", "year_1_arm_1", "2027-04-01"),
        {**record("102", dag="site_b", scr_no="S102", grp="2"), "redcap_event_name": "screening_arm_2"},
        fu("102", "m3_arm_2", "2026-07-05", "site_b"),
        fu("102", "year_1_arm_2", "2027-04-05", "site_b"),
    ]
    m = mapping(tmp_path, forms={"FU": FU_FORM}, events='[events]\nyear_1 = "M12"')
    conv = run(tmp_path, redcap(tmp_path, rows, info=FU_INFO), m)
    got = [(r["SUBJID"], r["SITEID"], r["VISIT"], r["VISDAT"]) for r in read(conv, "FU")]
    assert got == [
        ("101", "01", "M3", "2026-07-01"),
        ("101", "01", "M6", "2026-10-01"),
        ("101", "01", "M12", "2027-04-01"),
        ("102", "02", "M3", "2026-07-05"),
        ("102", "02", "M12", "2027-04-05"),
    ]
    for f in conv.package.glob("*.csv"):  # the arm number of an event name is in no file
        assert "_arm_" not in f.read_text(encoding="utf-8"), f.name


def test_events_become_visits_by_upper_casing_without_an_events_table(tmp_path):
    rows = [
        {**record("101"), "redcap_event_name": "screening_arm_1"},
        fu("101", "m3_arm_1", "2026-07-01"),
        fu("101", "m24_arm_1", "2028-04-01"),
        fu("101", "unscheduled_arm_1", "2026-08-15"),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=FU_INFO), mapping(tmp_path, forms={"FU": FU_FORM}))
    assert col(conv, "FU", "VISIT") == ["M3", "M24", "UNSCHEDULED"]


def test_event_number_is_the_first_number_of_the_event_name(tmp_path):
    ex = {f: ("neoadjuvant", "text", "") for f in ("nx_date", "nx_drug")}
    rows = [{**record("101", grp="2"), "redcap_event_name": "screening_arm_2"}]
    for k, event in enumerate(["cycle_1_arm_2", "cycle_2_arm_2", "c10_arm_2"], 1):
        rows.append(
            {
                "record_id": "101",
                "redcap_event_name": event,
                "redcap_data_access_group": "site_a",
                "nx_date": f"2026-0{k}-15",
                "nx_drug": "CAMRELIZUMAB",
            }
        )
    form = """
[forms.EX]
from = "neoadjuvant"
[forms.EX.columns]
EXCYCLE = { event = "number" }
EXSTDAT = "nx_date"
EXTRT = "nx_drug"
EXCLASS = { value = "ANTI-PD-1" }
"""
    conv = run(tmp_path, redcap(tmp_path, rows, info=ex), mapping(tmp_path, forms={"EX": form}))
    assert [(r["EXCYCLE"], r["EXSTDAT"]) for r in read(conv, "EX")] == [
        ("1", "2026-01-15"),
        ("2", "2026-02-15"),
        ("10", "2026-03-15"),
    ]


def test_repeat_instance_is_the_aespid(tmp_path):
    rows = [
        record("101"),
        ae_row("101", "1", ae_term="口腔黏膜炎"),
        ae_row("101", "2", ae_term="伤口感染", ae_grade="3"),
        ae_row("101", "3", ae_term="皮疹"),
        record("102", dag="site_b", scr_no="S102"),
        ae_row("102", "1", dag="site_b", ae_term="吞咽困难"),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=AE_INFO), mapping(tmp_path, forms={"AE": AE_FORM}))
    got = [(r["SUBJID"], r["SITEID"], r["AESPID"], r["AETERM"], r["AETOXGR"]) for r in read(conv, "AE")]
    assert got == [
        ("101", "01", "1", "口腔黏膜炎", "1"),
        ("101", "01", "2", "伤口感染", "3"),
        ("101", "01", "3", "皮疹", "1"),
        ("102", "02", "1", "吞咽困难", "1"),
    ]
    assert (conv.package / "AE.csv").read_bytes().decode("utf-8").count("口腔黏膜炎") == 1
    assert len(read(conv, "DM")) == 2  # the repeating rows make no DM rows


def test_odm_repeating_item_groups_are_rows_numbered_by_their_repeat_key(tmp_path):
    """odmlib's snapshot layout: one AE FormData, one ItemGroupData per event (ItemGroupRepeatKey)."""
    ae = AE_FORM.replace('from = "adverse_events"', 'from = "F.AE"')
    groups = "".join(
        f'<ItemGroupData ItemGroupOID="IG.AE.AE_ARRAY1" ItemGroupRepeatKey="{k}">'
        + items({"ae_term": term, "ae_date": f"2026-03-0{k}", "ae_grade": str(k), "ae_ser": "0"})
        + "</ItemGroupData>"
        for k, term in ((1, "便秘"), (2, "腹泻"), (3, "皮疹"))
    )
    event = (
        '<StudyEventData StudyEventOID="SE.VISIT1" StudyEventRepeatKey="1">'
        f'<FormData FormOID="F.AE" FormRepeatKey="1">{groups}</FormData></StudyEventData>'
    )
    src = odm(tmp_path, odm_subject("101", extra=event))
    conv = run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', forms={"AE": ae}))
    assert [(r["AESPID"], r["AETERM"], r["AESTDAT"], r["AETOXGR"]) for r in read(conv, "AE")] == [
        ("1", "便秘", "2026-03-01", "1"),
        ("2", "腹泻", "2026-03-02", "2"),
        ("3", "皮疹", "2026-03-03", "3"),
    ]


PR_FORM = """
[forms.PR]
from = "surgery"
[forms.PR.columns]
PRDAT = "op_date"
PRTRT = { field = "op_type", codes = { "1" = "DE-ESCALATION SURGERY", "2" = "STANDARD SURGERY" } }
PRPRIM = { checkbox = "op_opts", code = "1" }
FLAP = { checkbox = "op_opts", code = "2" }
NECKDIS = { checkbox = "op_opts", code = "3" }
"""
PR_INFO = {
    "op_date": ("surgery", "text", ""),
    "op_type": ("surgery", "radio", "1, 降级手术 | 2, 标准手术"),
    "op_opts": ("surgery", "checkbox", "1, 原发灶切除 | 2, 皮瓣修复 | 3, 颈清扫"),
}


def test_checkbox_choice_is_yes_or_no(tmp_path):
    rows = [
        record("101", op_date="2026-04-20", op_type="1", op_opts___1="1", op_opts___2="0", op_opts___3="1"),
        record(
            "102", scr_no="S102", op_date="2026-04-22", op_type="2", op_opts___1="0", op_opts___2="1", op_opts___3="0"
        ),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=PR_INFO), mapping(tmp_path, forms={"PR": PR_FORM}))
    got = [(r["SUBJID"], r["PRTRT"], r["PRPRIM"], r["FLAP"], r["NECKDIS"]) for r in read(conv, "PR")]
    assert got == [("101", "DE-ESCALATION SURGERY", "Y", "N", "Y"), ("102", "STANDARD SURGERY", "N", "Y", "N")]


def test_unpivot_makes_one_row_per_criterion(tmp_path):
    fields = {f"ie_i{i:02d}": "1" for i in (1, 2, 3)} | {"ie_e01": "0", "ie_e02": "1", "ie_e03": ""}
    form = f"""
[forms.IE]
from = "crf"
[forms.IE.unpivot]
key = "IETESTCD"
value = "IEORRES"
codes = {YN}
[forms.IE.unpivot.fields]
I01 = "ie_i01"
I02 = "ie_i02"
I03 = "ie_i03"
E01 = "ie_e01"
E02 = "ie_e02"
E03 = "ie_e03"
"""
    rows = [record("101", **fields), record("102", scr_no="S102", **{**fields, "ie_i02": "0"})]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path, forms={"IE": form}))
    got = [(r["SUBJID"], r["SITEID"], r["IETESTCD"], r["IEORRES"]) for r in read(conv, "IE")]
    assert got == [  # E03 unanswered: no row
        ("101", "01", "I01", "Y"),
        ("101", "01", "I02", "Y"),
        ("101", "01", "I03", "Y"),
        ("101", "01", "E01", "N"),
        ("101", "01", "E02", "Y"),
        ("102", "01", "I01", "Y"),
        ("102", "01", "I02", "N"),
        ("102", "01", "I03", "Y"),
        ("102", "01", "E01", "N"),
        ("102", "01", "E02", "Y"),
    ]


def test_checkbox_to_rows_keeps_only_the_ticked_choices(tmp_path):
    form = """
[forms.RECUR]
from = "recurrence"
[forms.RECUR.columns]
RECDAT = "rec_date"
[forms.RECUR.unpivot]
key = "RECTYPE"
keep = ["1"]
fields = { LOCAL = "rec_type___1", REGIONAL = "rec_type___2", DISTANT = "rec_type___3" }
"""
    info = {
        "rec_date": ("recurrence", "text", ""),
        "rec_type": ("recurrence", "checkbox", "1, 局部 | 2, 区域 | 3, 远处"),
    }
    rows = [
        record("101", rec_date="2027-01-10", rec_type___1="1", rec_type___2="0", rec_type___3="1"),
        record("102", scr_no="S102", rec_date="", rec_type___1="0", rec_type___2="0", rec_type___3="0"),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=info), mapping(tmp_path, forms={"RECUR": form}))
    assert [(r["SUBJID"], r["RECDAT"], r["RECTYPE"]) for r in read(conv, "RECUR")] == [
        ("101", "2027-01-10", "LOCAL"),
        ("101", "2027-01-10", "DISTANT"),
    ]


def test_data_access_group_is_the_site_through_the_sites_table(tmp_path):
    rows = [record("101", dag="site_b"), record("102", dag="site_a", scr_no="S102")]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    assert [(r["SUBJID"], r["SITEID"]) for r in read(conv, "DM")] == [("101", "02"), ("102", "01")]
    assert col(conv, "SCREENING", "SITEID") == ["02", "01"]
    assert {r["SITEID"] for r in read(conv, "IE")} == {"01", "02"}
    sites = read(conv, "SITES")
    assert [(s["SITEID"], s["SITENAME"], s["CITY"]) for s in sites] == [
        ("01", "第一人民医院", "上海"),
        ("02", "第二人民医院", ""),
    ]


def test_siteref_is_the_site_through_the_sites_table(tmp_path):
    src = odm(tmp_path, odm_subject("101", "site_b") + odm_subject("102", "site_a", values={"scr_no": "S2"}))
    conv = run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"'))
    assert [(r["SUBJID"], r["SITEID"]) for r in read(conv, "DM")] == [("101", "02"), ("102", "01")]
    assert [(r["SCRNID"], r["SITEID"]) for r in read(conv, "SCREENING")] == [("S101", "02"), ("S2", "01")]


def test_a_site_field_is_the_site_of_every_row_of_the_record(tmp_path):
    rows = [
        {**record("101", hosp="2"), "redcap_event_name": "screening_arm_1", "redcap_data_access_group": ""},
        {**fu("101", "m3_arm_1", "2026-07-01"), "redcap_data_access_group": ""},
        {
            **record("102", hosp="1", scr_no="S102"),
            "redcap_event_name": "screening_arm_1",
            "redcap_data_access_group": "",
        },
    ]
    sites = SITES.replace('"site_a"', '"1"').replace('"site_b"', '"2"')
    info = {**FU_INFO, "hosp": ("crf", "radio", "1, 第一人民医院 | 2, 第二人民医院")}
    m = mapping(
        tmp_path,
        forms={"FU": FU_FORM},
        subjects='[subjects]\nsite = { field = "hosp" }',
        sites=sites,
        events='[events]\nm3 = "M3"',
    )
    conv = run(tmp_path, redcap(tmp_path, rows, info=info), m)
    assert [(r["SUBJID"], r["SITEID"]) for r in read(conv, "DM")] == [("101", "02"), ("102", "01")]
    assert [(r["SUBJID"], r["SITEID"], r["VISIT"]) for r in read(conv, "FU")] == [("101", "02", "M3")]


AE_SPLIT = AE_FORM.replace('AESTDAT = "ae_date"', 'AESTDAT = { year = "ae_y", month = "ae_m", day = "ae_d" }')


def test_a_split_date_is_joined_full_or_partial(tmp_path):
    rows = [
        record("101"),
        ae_row("101", "1", ae_date="", ae_y="2026", ae_m="3", ae_d="5"),
        ae_row("101", "2", ae_date="", ae_y="2026", ae_m="04", ae_d=""),
        ae_row("101", "3", ae_date="", ae_y="2026", ae_m="", ae_d=""),
        ae_row("101", "4", ae_date="", ae_y="2026", ae_m="11", ae_d="30"),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=AE_INFO), mapping(tmp_path, forms={"AE": AE_SPLIT}))
    assert col(conv, "AE", "AESTDAT") == ["2026-03-05", "2026-04", "2026", "2026-11-30"]
    assert not any(w.column in ("ae_y", "ae_m", "ae_d") for w in conv.warnings)  # the parts are mapped


def test_a_date_time_with_or_without_offset_gives_its_date_as_written(tmp_path):
    stamps = ["2027-03-04T09:15:00+08:00", "2026-06-02T07:45:00+08:00", "2026-04-15 10:20", "2026-05-01"]
    rows = [record(str(101 + i), scr_no=f"S{i}", rand_date=s, rand_no=f"R{i}") for i, s in enumerate(stamps)]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    # 2026-06-02T07:45+08:00 is 06-01 in UTC: the date as written is kept
    assert col(conv, "RAND", "RANDDAT") == ["2027-03-04", "2026-06-02", "2026-04-15", "2026-05-01"]


def test_redcap_date_time_becomes_iso_and_comma_decimals_a_number(tmp_path):
    adj = """
[forms.ADJ]
from = "adjuvant"
[forms.ADJ.columns]
ADJTYPE = "adj_type"
ADJSTDAT = "adj_start"
RTDOSE = "rt_dose"
ENTDTC = "adj_entered"
"""
    info = {f: ("adjuvant", "text", "") for f in ("adj_type", "adj_start", "rt_dose", "adj_entered")}
    rows = [
        record("101", adj_type="RT", adj_start="2026-05-20", rt_dose="60,5", adj_entered="2026-05-21 14:30"),
        record("102", scr_no="S2", rand_no="11,5", adj_type="CRT", adj_start="2026-05-22", rt_dose="66"),
    ]
    conv = run(tmp_path, redcap(tmp_path, rows, info=info), mapping(tmp_path, forms={"ADJ": adj}))
    assert [(r["RTDOSE"], r["ENTDTC"]) for r in read(conv, "ADJ")] == [("60.5", "2026-05-21T14:30"), ("66", "")]
    assert col(conv, "RAND", "RANDNO") == ["R1", "11,5"]  # a text column keeps its comma


def test_constants_and_the_redcap_export_metadata(tmp_path):
    form = FORMS["EX"].replace('EXCLASS = "ex_class"', 'EXCLASS = { value = "BISPECIFIC-PD-1" }')
    rows = [record("101"), record("102", scr_no="S2", ex_class="")]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path, forms={"EX": form}))
    assert col(conv, "EX", "EXCLASS") == ["BISPECIFIC-PD-1", "BISPECIFIC-PD-1"]
    assert read(conv, "EXPORT") == [
        {
            "EXPORTDTC": "2028-07-01T08:00:00+08:00",
            "CUTOFFDAT": "2028-06-30",
            "SOURCE": "REDCap 14.5.1 project 123",
            "SPECVER": "1.0",
        }
    ]


def test_the_odm_export_metadata(tmp_path):
    src = odm(tmp_path, odm_subject())
    export = (
        '[export]\nEXPORTDTC = { metadata = "export_time" }\nSOURCE = { metadata = "source" }\nCUTOFFDAT = "2028-05-31"'
    )
    conv = run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', export=export))
    assert read(conv, "EXPORT") == [
        {"EXPORTDTC": "2028-07-01T08:00:00+08:00", "CUTOFFDAT": "2028-05-31", "SOURCE": "TestEDC 2.1", "SPECVER": "1.0"}
    ]


def test_odm_isnull_is_an_empty_value(tmp_path):
    bl = FORMS["BL"] + 'PREGNANT = { field = "preg", codes = { "1" = "Y", "0" = "N" } }\n'
    dx = FORMS["DX"] + 'P16 = "p16"\n'
    nulls = (
        '<ItemGroupData ItemGroupOID="IG.X"><ItemData ItemOID="preg" IsNull="Yes"/>'
        '<ItemData ItemOID="p16" IsNull="Yes"/></ItemGroupData>'
    )
    subj = odm_subject("101").replace("</ItemGroupData></FormData>", "</ItemGroupData>" + nulls + "</FormData>", 1)
    subj2 = odm_subject("102", values={"scr_no": "S2", "preg": "0", "p16": "NOT DONE"})
    src = odm(tmp_path, subj + subj2)
    m = mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', forms={"BL": bl, "DX": dx})
    conv = run(tmp_path, src, m)
    assert col(conv, "BL", "PREGNANT") == ["", "N"]
    assert col(conv, "DX", "P16") == ["", "NOT DONE"]


def _audit(stamp: str) -> str:
    return (
        '<AuditRecord><UserRef UserOID="U.1"/><LocationRef LocationOID="site_a"/>'
        f"<DateTimeStamp>{stamp}</DateTimeStamp></AuditRecord>"
    )


def test_odm_audit_records_give_the_entry_time_the_latest_of_the_row(tmp_path):
    dm = FORMS["DM"] + "ENTDTC = { audit = true }\n"
    subj = odm_subject("101")
    # the form's audit record first, then one inside an item (a later correction)
    subj = subj.replace('<FormData FormOID="crf">', '<FormData FormOID="crf">' + _audit("2026-02-01T10:00:00+08:00"))
    subj = subj.replace(
        '<ItemData ItemOID="sex" Value="1"/>',
        f'<ItemData ItemOID="sex" Value="1">{_audit("2026-02-03T16:45:00+08:00")}</ItemData>',
    )
    subj2 = odm_subject("102", values={"scr_no": "S2"}).replace(
        '<FormData FormOID="crf">', '<FormData FormOID="crf">' + _audit("2026-02-05T08:00:00+08:00")
    )
    subj3 = odm_subject("103", values={"scr_no": "S3"})  # no audit record: not known
    src = odm(tmp_path, subj + subj2 + subj3)
    conv = run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', forms={"DM": dm}))
    got = [(r["SUBJID"], r["ENTDTC"][:16]) for r in read(conv, "DM")]
    assert got == [("101", "2026-02-03T16:45"), ("102", "2026-02-05T08:00"), ("103", "")]


def test_odm_transaction_remove_is_left_out(tmp_path):
    dx = FORMS["DX"] + 'P16 = { field = "p16", codes = { "P" = "POSITIVE", "N" = "NEGATIVE" } }\n'
    ae = AE_FORM.replace('from = "adverse_events"', 'from = "F.AE"')
    # a value outside the code map, removed: neither an error nor a value
    subj = odm_subject("101").replace(
        '<ItemData ItemOID="ct" Value="T3"/>',
        '<ItemData ItemOID="ct" Value="T3"/><ItemData ItemOID="p16" Value="9" TransactionType="Remove"/>',
    )

    def ae_form(k: str, term: str, remove: bool = False) -> str:
        t = ' TransactionType="Remove"' if remove else ""
        return (
            f'<FormData FormOID="F.AE" FormRepeatKey="{k}"{t}><ItemGroupData ItemGroupOID="IG.AE">'
            + items({"ae_term": term, "ae_date": "2026-03-01", "ae_grade": "2", "ae_ser": "0"})
            + "</ItemGroupData></FormData>"
        )

    forms = ae_form("1", "皮疹") + ae_form("2", "误录", remove=True)
    events = f'<StudyEventData StudyEventOID="SE.AE">{forms}</StudyEventData>'
    subj = subj.replace("</SubjectData>", events + "</SubjectData>")
    src = odm(tmp_path, subj + odm_subject("102", values={"scr_no": "S2", "p16": "N"}))
    m = mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"', forms={"DX": dx, "AE": ae})
    conv = run(tmp_path, src, m)
    assert col(conv, "DX", "P16") == ["", "NEGATIVE"]
    assert [(r["AESPID"], r["AETERM"]) for r in read(conv, "AE")] == [("1", "皮疹")]
    assert "误录" not in (conv.package / "AE.csv").read_text(encoding="utf-8")


def test_odm_formdata_directly_under_subjectdata(tmp_path):
    """REDCap's classic project in ODM (REDCapR dag/project.xml): no StudyEventData, repeat keys
    of 1, the data access group an ItemData."""

    def subject(key: str, dag: str, **values) -> str:
        v = {**BASE, **values}
        return (
            f'<SubjectData SubjectKey="{key}" redcap:RecordIdField="record_id">'
            f'<FormData FormOID="crf" FormRepeatKey="1">'
            f'<ItemGroupData ItemGroupOID="crf.record_id" ItemGroupRepeatKey="1">'
            f'<ItemData ItemOID="record_id" Value="{key}"/><ItemData ItemOID="redcap_data_access_group" Value="{dag}"/>'
            f"</ItemGroupData>"
            f'<ItemGroupData ItemGroupOID="crf.scr_no" ItemGroupRepeatKey="1">{items(v)}</ItemGroupData>'
            f"</FormData></SubjectData>"
        )

    src = odm(tmp_path, subject("331-1", "site_a") + subject("332-3", "site_b", scr_no="S2", sex="2"))
    m = mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = { field = "redcap_data_access_group" }')
    conv = run(tmp_path, src, m)
    assert [(r["SUBJID"], r["SITEID"], r["SEX"]) for r in read(conv, "DM")] == [
        ("331-1", "01", "M"),
        ("332-3", "02", "F"),
    ]
    assert len(read(conv, "IE")) == 4


def test_unmapped_fields_are_warnings_by_name_and_count(tmp_path):
    rows = [record("101", weight="68,5", note="自由文本"), record("102", scr_no="S2", weight="70", note="")]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    got = {w.column: w.message for w in conv.warnings if w.severity == "warning"}
    assert set(got) == {"weight", "note"}
    assert "2 value(s)" in got["weight"] and "1 value(s)" in got["note"]
    assert "自由文本" not in got["note"] and "68,5" not in got["weight"]


# ------------------------------------------------------------------------------ refusals


def test_an_unknown_key_in_the_mapping_is_named(tmp_path):
    dm = FORMS["DM"].replace('from = "crf"', 'from = "crf"\ncolour = "blue"')
    with pytest.raises(MappingError) as exc:
        run(tmp_path, redcap(tmp_path), mapping(tmp_path, forms={"DM": dm}))
    assert "unknown key 'colour'" in str(exc.value) and "forms.DM" in str(exc.value)
    assert not (tmp_path / "pkg").exists()
    dm = FORMS["DM"].replace('BRTHDAT = "dob"', 'BRTHDAT = { feild = "dob" }')
    with pytest.raises(MappingError) as exc:
        convert(tmp_path / "src", mapping(tmp_path, forms={"DM": dm}), tmp_path / "pkg")
    assert "feild" in str(exc.value) and "BRTHDAT" in str(exc.value)


def test_a_mapped_field_the_source_lacks_is_named_with_its_mapping_key(tmp_path):
    dm = FORMS["DM"].replace('BRTHDAT = "dob"', 'BRTHDAT = "birth_date"')
    with pytest.raises(MappingError) as exc:
        run(tmp_path, redcap(tmp_path), mapping(tmp_path, forms={"DM": dm}))
    text = str(exc.value)
    assert "[forms.DM.columns] BRTHDAT" in text and "'birth_date'" in text and "records.csv" in text
    assert not (tmp_path / "pkg").exists()


def test_a_code_outside_the_code_map_names_file_line_field_and_record(tmp_path):
    rows = [record("101"), record("102", scr_no="S2", sex="9"), record("103", scr_no="S3", grp="7")]
    with pytest.raises(PackageRefused) as exc:
        run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    errors = {p.column: p for p in refused(exc)}
    assert set(errors) == {"sex", "grp"}
    sex = errors["sex"]
    assert (sex.file, sex.line, sex.subjid) == ("records.csv", 3, "102")
    assert "record 102" in sex.message
    grp = errors["grp"]  # the arm's column is closed: its value is not quoted
    assert (grp.file, grp.line, grp.subjid) == ("records.csv", 4, "103")
    assert "record 103" in grp.message and WITHHELD in grp.message and "'7'" not in grp.message
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("dag, words", [("", "no site"), ("site_x", "'site_x'")], ids=["no-dag", "unknown-dag"])
def test_a_record_with_no_site_or_an_unknown_one_is_refused(tmp_path, dag, words):
    rows = [record("101"), record("102", dag=dag, scr_no="S2")]
    with pytest.raises(PackageRefused) as exc:
        run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path))
    errors = refused(exc)
    assert len(errors) == 1
    p = errors[0]
    assert (p.file, p.line) == ("records.csv", 3)
    assert "record 102" in p.message and words in p.message


def test_a_date_that_does_not_parse_is_the_builds_refusal_with_the_source_record_and_field(tmp_path):
    src = tmp_path / "redcap_hn"
    shutil.copytree(FIXTURES / "redcap_hn", src)
    lines = (src / "records.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    for n, line in enumerate(lines[1:], 2):  # no cell spans lines in this file
        cells = next(csv.reader([line]))
        if cells[0] == "1004" and cells[1] == "screening_arm_2":
            assert cells[header.index("dob")] == "1966-01-09"
            cells[header.index("dob")] = "1966-13-09"
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(cells)
            lines[n - 1] = out.getvalue()
            source_line = n
            break
    (src / "records.csv").write_text("".join(lines), encoding="utf-8")
    wh = tmp_path / "wh"
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "build", str(src), "--source", "redcap"]
        + ["--mapping", str(src / "mapping.toml"), "--warehouse", str(wh)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, done.stderr
    # DM.csv: the header, then 1001..1004: line 5
    assert errors[0].startswith("ERROR: DM.csv, line 5, column BRTHDAT, SUBJID 1004: ")
    assert f"[source: records.csv line {source_line}, record 1004, event screening, field dob]" in errors[0]
    assert "_arm_" not in done.stderr
    assert not (wh / "current").exists()


BILLION_LAUGHS = """<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


def test_an_xml_bomb_is_refused_by_the_hardened_parser(tmp_path):
    subj = odm_subject("101", values={"scr_no": "&lol9;"})
    src = odm(tmp_path, subj, prolog=BILLION_LAUGHS)
    t0 = time.perf_counter()
    with pytest.raises(PackageRefused) as exc:
        run(tmp_path, src, mapping(tmp_path, kind="odm", subjects='[subjects]\nsite = "siteref"'))
    assert time.perf_counter() - t0 < 5
    errors = refused(exc)
    assert [p.file for p in errors] == ["export.xml"]
    assert re.search(r"hardened|DTD|entit", errors[0].message, re.I), errors[0].message
    assert not (tmp_path / "pkg").exists()


def test_the_redcap_arm_may_not_feed_a_blinded_column(tmp_path):
    fu = FU_FORM.replace('VISIT = { event = "visit" }', 'VISIT = { event = "arm" }')
    with pytest.raises(MappingError) as exc:
        run(tmp_path, redcap(tmp_path), mapping(tmp_path, forms={"FU": fu}))
    assert "[forms.FU.columns] VISIT" in str(exc.value) and "blinded" in str(exc.value)
    strat = FORMS["RAND"] + 'STRATRESP = { event = "arm", codes = { "1" = "CR", "2" = "PR" } }\n'
    with pytest.raises(MappingError) as exc:
        convert(tmp_path / "src", mapping(tmp_path, forms={"RAND": strat}), tmp_path / "pkg2")
    assert "[forms.RAND.columns] STRATRESP" in str(exc.value)


def test_the_redcap_arm_feeds_the_closed_arm_column_only(tmp_path):
    rand = FORMS["RAND"].replace(
        'ARM = { field = "grp", codes = { "1" = "DE-ESCALATION", "2" = "STANDARD" } }',
        'ARM = { event = "arm", codes = { "1" = "DE-ESCALATION", "2" = "STANDARD" } }',
    )
    rows = [
        {**record("101"), "redcap_event_name": "baseline_arm_2"},
        {**record("102", scr_no="S2"), "redcap_event_name": "baseline_arm_1"},
    ]
    conv = run(tmp_path, redcap(tmp_path, rows), mapping(tmp_path, forms={"RAND": rand}))
    assert col(conv, "RAND", "ARM") == ["STANDARD", "DE-ESCALATION"]
    for f in conv.package.glob("*.csv"):
        text = f.read_text(encoding="utf-8")
        assert "_arm_" not in text and "baseline" not in text, f.name
