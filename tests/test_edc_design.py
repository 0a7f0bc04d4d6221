"""The EDC designs generated from crf_spec.toml (dashboard/ingest/edc/design.py) and the demo
package written as their exports (dashboard/devtools/demo/edc.py), converted back by the lead's
convert(): the package must come back cell for cell.

Public layouts followed (read with the search tool, not copied):
- REDCap data dictionary, 18-column import format: REDCapR inst/test-data/projects/
  validation-types-1/dictionary.csv and repeating-instruments/dictionary.csv (header quoting,
  validation names date_ymd, datetime_seconds_ymd, integer, number; choices `1, Label | 2, Label`);
- REDCap flat records export: REDCapR inst/test-data/projects/repeating-instruments-sparse/data.csv
  (record ID, redcap_repeat_instrument, redcap_repeat_instance, then the fields and each
  instrument's `_complete`, base row then one row per instance) and blank-for-gray-status/data.csv
  (redcap_data_access_group, `_complete` 0 for an instrument without data);
- ODM 1.3.2: odmlib tests/data/cdash-odm-test.xml (Study > GlobalVariables, MetaDataVersion >
  Protocol, StudyEventDef, FormDef, ItemGroupDef, ItemDef, CodeList > CodeListItem > Decode >
  TranslatedText xml:lang) and tests/data/odm-data-snapshot.xml (ClinicalData > SubjectData >
  StudyEventData > FormData FormRepeatKey > ItemGroupData > ItemData Value).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from defusedxml import ElementTree as DET

from dashboard.config import load_crf_spec
from dashboard.devtools.demo import write_demo_package
from dashboard.devtools.demo.edc import dag_name, write_odm_export, write_redcap_export
from dashboard.ingest.edc import design as ds
from dashboard.ingest.edc import mapping as mp
from dashboard.ingest.edc.redcap import parse_choices

# the header line exactly as REDCap writes it (REDCapR's dictionary.csv files)
REDCAP_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",'
    '"Text Validation Min","Text Validation Max",Identifier?,"Branching Logic (Show field only if...)",'
    '"Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name",'
    '"Matrix Ranking?","Field Annotation"'
)
INSTRUMENTS = [
    "screening", "dm", "ie", "dx", "bl", "ex", "rs", "rand", "pr", "path",
    "adj", "ae", "fu", "recur", "dd", "ds", "dv", "qs",
]  # fmt: skip
REPEATING = {"ex", "rs", "pr", "adj", "ae", "fu", "recur", "ds", "dv", "qs"}
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# values that must survive both EDCs: Chinese, quotes, markup characters, a line break, a tab,
# leading and trailing spaces
HOSTILE_AETERM = '  术后出血, "再次手术" & <3级>\n次日止血\t '
HOSTILE_DVTERM = "受试者入降级组，访视超窗 ‘7天’"


@pytest.fixture(scope="module")
def spec():
    return load_crf_spec()


@pytest.fixture(scope="module")
def redcap(tmp_path_factory):
    out = tmp_path_factory.mktemp("redcap-design")
    paths = ds.write_design("redcap", out)
    with open(out / "dictionary.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return out, paths, rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def odm(tmp_path_factory):
    out = tmp_path_factory.mktemp("odm-design")
    paths = ds.write_design("odm", out)
    return out, paths, DET.parse(out / "metadata.xml").getroot()


def _by_name(rows):
    return {r["Variable / Field Name"]: r for r in rows}


# --------------------------------------------------------------------------- REDCap design
def test_redcap_design_files(redcap):
    out, paths, _, _ = redcap
    assert [p.name for p in paths] == ["dictionary.csv", "repeating_instruments.csv", "mapping.toml"]
    assert all(p.is_file() and p.parent == out for p in paths)


def test_dictionary_has_redcaps_18_columns_in_order(redcap):
    out, _, header, rows = redcap
    assert (out / "dictionary.csv").read_text(encoding="utf-8").splitlines()[0] == REDCAP_HEADER
    assert header == ds.DICTIONARY_HEADER and len(header) == 18
    assert header[0] == "Variable / Field Name" and header[-1] == "Field Annotation"
    first = rows[0]
    assert (first["Variable / Field Name"], first["Form Name"], first["Field Type"]) == (
        "record_id",
        "screening",
        "text",
    )


def test_field_names_are_valid_redcap_names_and_unique(redcap):
    _, _, _, rows = redcap
    names = [r["Variable / Field Name"] for r in rows]
    assert len(names) == len(set(names))
    for n in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", n), n
        assert "___" not in n and not n.endswith("_complete") and len(n) <= 26, n
    forms = list(dict.fromkeys(r["Form Name"] for r in rows))
    assert forms == INSTRUMENTS  # our forms lower-case, SITES and EXPORT are no instruments
    # fields are <form>_<column>, SUBJID once, SITEID nowhere
    for r in rows[1:]:
        assert r["Variable / Field Name"].startswith(r["Form Name"] + "_"), r
    assert [n for n in names if n.endswith("_subjid")] == ["screening_subjid"]
    assert not [n for n in names if "siteid" in n]
    # every instrument has an optional entry date-time with seconds
    for inst in INSTRUMENTS:
        e = _by_name(rows)[f"{inst}_entdtc"]
        assert (e["Field Type"], e["Text Validation Type OR Show Slider Number"], e["Required Field?"]) == (
            "text",
            "datetime_seconds_ymd",
            "",
        )


def test_every_spec_column_has_a_field(redcap, spec):
    out, _, _, rows = redcap
    fields = _by_name(rows)
    m = mp.load(out / "mapping.toml")
    assert m.subjects.subjid.field == "screening_subjid" and m.subjects.site == "dag"
    for form, f in spec.forms.items():
        if form in ("EXPORT", "SITES"):
            assert form not in m.forms
            continue
        fm = m.forms[form]
        assert fm.from_ == form.lower()
        for c in f.columns:
            if c.name == "SITEID" or (c.name == "SUBJID" and f.subject_level):
                assert c.name not in fm.columns  # the data access group / [subjects]
                continue
            if fm.unpivot and c.name in (fm.unpivot.key, fm.unpivot.value):
                assert sorted(fm.unpivot.fields) == sorted(c.codes or next(x.codes for x in f.columns if x.codes))
                for fname in fm.unpivot.fields.values():
                    assert fields[fname]["Form Name"] == form.lower()
                continue
            cs = fm.columns[c.name]
            if cs.record:
                assert (form, c.name) == ("SCREENING", "SCRNID")
                continue
            if cs.instance:
                assert (form, c.name) in (("AE", "AESPID"), ("DV", "DVSPID"))
                continue
            assert cs.fields, (form, c.name)
            for fname in cs.fields:
                assert fields[fname]["Form Name"] == form.lower(), (form, c.name, fname)
        assert fm.columns["ENTDTC"].field == f"{form.lower()}_entdtc"


def test_field_types_follow_the_spec(redcap, spec):
    _, _, _, rows = redcap
    fields = _by_name(rows)
    for form in ds.forms_of(spec):
        for c in spec.forms[form].columns:
            name = f"{form.lower()}_{c.name.lower()}"
            if name not in fields:
                continue
            r = fields[name]
            kind, valid = r["Field Type"], r["Text Validation Type OR Show Slider Number"]
            if c.codes:
                assert kind in ("dropdown", "radio"), name
            elif c.type == "yn":
                assert kind == "yesno" and r["Choices, Calculations, OR Slider Labels"] == "", name
            elif c.type == "date":
                assert (kind, valid) == ("text", "date_ymd"), name
            elif c.type in ("integer", "number"):
                assert (kind, valid) == ("text", c.type), name
                assert r["Text Validation Min"] == ("" if c.min is None else f"{c.min:g}"), name
                assert r["Text Validation Max"] == ("" if c.max is None else f"{c.max:g}"), name
            else:
                assert kind == ("notes" if c.name in ("AETERM", "DVTERM") else "text"), name
            assert r["Required Field?"] == ("y" if c.required else ""), name
    # the partial dates are year, month and day fields; a full date is required only to the month
    assert fields["dm_brthdat_yyyy"]["Required Field?"] == "y"
    assert fields["dm_brthdat_mm"]["Required Field?"] == "y"  # BRTHDAT: YYYY-MM at least
    assert fields["ae_aestdat_mm"]["Required Field?"] == ""  # AESTDAT: YYYY allowed
    assert fields["ae_aestdat_dd"]["Text Validation Max"] == "31"
    assert fields["bl_ecog"]["Text Validation Min"] == "0" and fields["bl_ecog"]["Text Validation Max"] == "5"
    assert [fields[f"ie_{c.lower()}"]["Field Type"] for c in ("i01", "e07")] == ["yesno", "yesno"]
    assert fields["dm_brthdat_yyyy"]["Identifier?"] == "y"


def test_choices_parse_back_to_the_spec_codes(redcap, spec):
    _, _, _, rows = redcap
    fields = _by_name(rows)
    checked = 0
    for form in ds.forms_of(spec):
        for c in spec.forms[form].columns:
            name = f"{form.lower()}_{c.name.lower()}"
            if not c.codes or name not in fields:
                continue
            choices = parse_choices(fields[name]["Choices, Calculations, OR Slider Labels"])  # the converter's parser
            assert list(choices) == [str(k) for k in range(1, len(c.codes) + 1)], name
            assert list(choices.values()) == c.codes, name
            checked += 1
    coded = [(f, c.name) for f in ds.forms_of(spec) for c in spec.forms[f].columns if c.codes]
    assert checked == len(coded) - 1  # all but IETESTCD, whose codes are fields (ie_i01 ..)
    assert fields["rand_arm"]["Choices, Calculations, OR Slider Labels"] == "1, DE-ESCALATION | 2, STANDARD"
    assert parse_choices(fields["qs_qscat"]["Choices, Calculations, OR Slider Labels"])["2"] == "QLQ-H&N35"
    # branching on the codes' numbers
    assert fields["screening_sfreas"]["Branching Logic (Show field only if...)"] == "[screening_scrnout] = '2'"
    assert fields["bl_pregnant"]["Branching Logic (Show field only if...)"] == "[dm_sex] = '2'"


def test_chinese_labels_survive(redcap):
    out, _, _, rows = redcap
    raw = (out / "dictionary.csv").read_bytes()
    assert "性别".encode() in raw  # UTF-8 on disk, no BOM needed
    fields = _by_name(rows)
    assert fields["dm_sex"]["Field Label"] == "Sex / 性别"
    assert "出生日期" in fields["dm_brthdat_yyyy"]["Field Label"]
    assert "不良事件" in fields["ae_aeterm"]["Field Label"]
    assert fields["ie_i01"]["Field Label"].endswith("入选标准1是否符合")


def test_repeating_instruments(redcap):
    out, _, _, rows = redcap
    fields = _by_name(rows)
    with open(out / "repeating_instruments.csv", encoding="utf-8", newline="") as fh:
        rep = list(csv.DictReader(fh))
    assert list(rep[0]) == ["form_name", "custom_form_label"]
    assert {r["form_name"] for r in rep} == REPEATING
    for r in rep:  # the custom labels pipe fields of their own instrument
        piped = re.findall(r"\[([a-z0-9_]+)\]", r["custom_form_label"])
        assert piped and all(fields[p]["Form Name"] == r["form_name"] for p in piped), r


def test_redcap_mapping_loads_and_reads_codes(redcap):
    out, _, _, _ = redcap
    text = (out / "mapping.toml").read_text(encoding="utf-8")
    m = mp.load(out / "mapping.toml")
    assert m.source.kind == "redcap" and m.source.record_id == "record_id"
    assert m.export["EXPORTDTC"].metadata == "export_time" and m.export["SOURCE"].metadata == "source"
    assert m.export["CUTOFFDAT"].value == "YYYY-MM-DD" and "# CUTOFFDAT" in text  # the office edits it
    assert len(m.sites) == 1 and "EXAMPLE" in text
    assert m.forms["RAND"].columns["ARM"].codes == "labels"
    assert m.forms["DX"].columns["RECUR"].codes == {"1": "Y", "0": "N"}
    assert m.forms["AE"].columns["AESPID"].instance and m.forms["DV"].columns["DVSPID"].instance
    assert m.forms["DM"].columns["BRTHDAT"].fields == ["dm_brthdat_yyyy", "dm_brthdat_mm", "dm_brthdat_dd"]
    assert m.forms["IE"].unpivot.key == "IETESTCD" and m.forms["IE"].unpivot.codes == {"1": "Y", "0": "N"}
    assert m.forms["SCREENING"].columns["SCRNID"].record


# --------------------------------------------------------------------------- ODM design
def test_odm_metadata_parses_and_has_the_study(odm, spec):
    out, paths, root = odm
    assert [p.name for p in paths] == ["metadata.xml", "mapping.toml"]
    assert root.tag == f"{{{NS['odm']}}}ODM" and root.get("ODMVersion") == "1.3.2"
    study = root.find("odm:Study", NS)
    assert study.find("odm:GlobalVariables/odm:StudyName", NS).text == "Neo-Margin"
    mdv = study.find("odm:MetaDataVersion", NS)
    events = mdv.findall("odm:StudyEventDef", NS)
    assert [e.get("OID") for e in events] == ["SE.TRIAL"]
    refs = [r.get("FormOID") for r in events[0].findall("odm:FormRef", NS)]
    assert refs == [f"F.{f}" for f in ds.forms_of(spec)]
    formdefs = {f.get("OID"): f for f in mdv.findall("odm:FormDef", NS)}
    for form in ds.forms_of(spec):
        assert formdefs[f"F.{form}"].get("Repeating") == ("Yes" if form.lower() in REPEATING else "No"), form
        assert formdefs[f"F.{form}"].find("odm:ItemGroupRef", NS).get("ItemGroupOID") == f"IG.{form}"
    items = {i.get("OID"): i for i in mdv.findall("odm:ItemDef", NS)}
    groups = {
        g.get("OID"): [r.get("ItemOID") for r in g.findall("odm:ItemRef", NS)]
        for g in mdv.findall("odm:ItemGroupDef", NS)
    }
    for refs_ in groups.values():
        assert all(r in items for r in refs_)
    assert items["I.DM.BRTHDAT"].get("DataType") == "partialDate"
    assert items["I.AE.AESTDAT"].get("DataType") == "partialDate"
    assert items["I.QS.QSSTRESN"].get("DataType") == "float"
    assert items["I.BL.ECOG"].get("DataType") == "integer"
    assert items["I.DM.RFICDAT"].get("DataType") == "date"
    assert [rc.get("Comparator") for rc in items["I.BL.ECOG"].findall("odm:RangeCheck", NS)] == ["GE", "LE"]
    q = {t.get(XML_LANG): t.text for t in items["I.DM.SEX"].findall("odm:Question/odm:TranslatedText", NS)}
    assert q == {"en": "Sex", "zh": "性别"}
    # no items for SITEID (SiteRef), SCRNID (SubjectKey), ENTDTC (AuditRecord), subject SUBJID
    assert not [o for o in items if o.endswith((".SITEID", ".ENTDTC", ".SCRNID"))]
    assert [o for o in items if o.endswith(".SUBJID")] == ["I.SCREENING.SUBJID"]
    assert groups["IG.IE"] == [f"I.IE.{c}" for c in next(c.codes for c in spec.forms["IE"].columns if c.codes)]


def test_odm_has_a_codelist_for_every_coded_column(odm, spec):
    _, _, root = odm
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    lists = {
        cl.get("OID"): [i.get("CodedValue") for i in cl.findall("odm:CodeListItem", NS)]
        for cl in mdv.findall("odm:CodeList", NS)
    }
    items = {i.get("OID"): i for i in mdv.findall("odm:ItemDef", NS)}
    n = 0
    for form in ds.forms_of(spec):
        for c in spec.forms[form].columns:
            oid = f"I.{form}.{c.name}"
            if c.codes and oid in items:
                ref = items[oid].find("odm:CodeListRef", NS).get("CodeListOID")
                assert lists[ref] == c.codes, oid
                n += 1
            elif c.type == "yn" and oid in items:
                assert items[oid].find("odm:CodeListRef", NS).get("CodeListOID") == "CL.YN"
    coded = [(f, c.name) for f in ds.forms_of(spec) for c in spec.forms[f].columns if c.codes]
    assert n == len(coded) - 1 and lists["CL.YN"] == ["Y", "N"]  # IETESTCD: below
    # IETESTCD's codes are the IE items themselves, each a Y/N answer
    assert all(
        items[f"I.IE.{code}"].find("odm:CodeListRef", NS).get("CodeListOID") == "CL.YN" for code in ("I01", "E07")
    )
    decode = mdv.find("odm:CodeList[@OID='CL.RAND.ARM']/odm:CodeListItem[@CodedValue='DE-ESCALATION']/odm:Decode", NS)
    langs = {t.get(XML_LANG): t.text for t in decode.findall("odm:TranslatedText", NS)}
    assert langs == {"en": "DE-ESCALATION", "zh": "降阶梯手术组"}


def test_odm_mapping_loads(odm):
    out, _, _ = odm
    m = mp.load(out / "mapping.toml")
    assert m.source.kind == "odm" and m.subjects.site == "siteref"
    assert m.subjects.subjid.field == "I.SCREENING.SUBJID"
    assert m.forms["AE"].from_ == "F.AE" and m.forms["AE"].columns["AETERM"].field == "I.AE.AETERM"
    assert m.forms["AE"].columns["AESPID"].instance and m.forms["DM"].columns["ENTDTC"].audit
    assert m.forms["SCREENING"].columns["SCRNID"].record
    assert m.forms["IE"].unpivot.fields["I01"] == "I.IE.I01" and m.forms["IE"].unpivot.codes is None


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="redcap or odm"):
        ds.write_design("openclinica", tmp_path)


# --------------------------------------------------------------------------- the exports
@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The demo package, with free text no EDC may alter."""
    out = tmp_path_factory.mktemp("package")
    write_demo_package(out, subjects=60, sites=4)
    for form, col, value in (("AE", "AETERM", HOSTILE_AETERM), ("DV", "DVTERM", HOSTILE_DVTERM)):
        path = out / f"{form}.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        rows[1][rows[0].index(col)] = value
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return out


def _table(folder: Path, form: str) -> tuple[list[str], list[list[str]]]:
    with open(folder / f"{form}.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _same_package(original: Path, converted: Path, spec) -> None:
    """Every form: the same rows (as sorted lists), column by column; a column one side lacks
    counts as empty."""
    for form in spec.forms:
        ha, ra = _table(original, form)
        hb, rb = _table(converted, form)
        cols = list(dict.fromkeys(ha + hb))

        def project(h, rows, cols=cols):
            at = {c: h.index(c) if c in h else None for c in cols}
            return sorted(tuple("" if at[c] is None else r[at[c]] for c in cols) for r in rows)

        a, b = project(ha, ra), project(hb, rb)
        assert len(a) == len(b), f"{form}: {len(a)} rows in the package, {len(b)} converted"
        for k, col in enumerate(cols):
            assert sorted(r[k] for r in a) == sorted(r[k] for r in b), f"{form}.{col} differs"
        assert a == b, f"{form}: the rows differ"


def test_redcap_export_layout(package, tmp_path, spec):
    out = write_redcap_export(package, tmp_path / "rc")
    header, rows = _table(out, "records")
    with open(out / "dictionary.csv", encoding="utf-8", newline="") as fh:
        names = [r[0] for r in list(csv.reader(fh))[1:]]
    assert header[:4] == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
    assert [h for h in header[4:] if not h.endswith("_complete")] == names[1:]
    assert [h[: -len("_complete")] for h in header if h.endswith("_complete")] == INSTRUMENTS
    _, screening = _table(package, "SCREENING")
    base = [r for r in rows if r[1] == ""]
    assert [r[0] for r in base] == [s[0] for s in screening]  # a record per screened patient
    sites = {s[0]: dag_name(s[1]) for s in screening}
    assert all(r[3] == sites[r[0]] for r in rows)  # the data access group on every row
    assert {r[1] for r in rows} - {""} <= REPEATING
    at = {h: k for k, h in enumerate(header)}
    ae = [r for r in rows if r[1] == "ae"]
    assert ae and all(r[at["ae_complete"]] == "2" and r[at["dm_complete"]] == "" for r in ae)
    failure = next(r for r in base if r[at["screening_subjid"]] == "")
    assert failure[at["dm_complete"]] == "0" and failure[at["screening_complete"]] == "2"
    assert any(r[at["ae_aeterm"]] == HOSTILE_AETERM for r in ae)
    entered = [r[at["dm_entdtc"]] for r in base if r[at["dm_entdtc"]]]
    assert entered and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", e) for e in entered)
    m = mp.load(out / "mapping.toml")
    _, site_rows = _table(package, "SITES")
    assert [(s.source, s.SITEID, s.SITENAME) for s in m.sites] == [(dag_name(r[0]), r[0], r[1]) for r in site_rows]
    _, export = _table(package, "EXPORT")
    assert (m.export["EXPORTDTC"].value, m.export["CUTOFFDAT"].value, m.export["SOURCE"].value) == tuple(export[0][:3])


def test_odm_export_layout(package, tmp_path):
    out = write_odm_export(package, tmp_path / "odm")
    root = DET.parse(out / "export.xml").getroot()
    subjects = root.findall("odm:ClinicalData/odm:SubjectData", NS)
    _, screening = _table(package, "SCREENING")
    assert [s.get("SubjectKey") for s in subjects] == [r[0] for r in screening]
    assert [s.find("odm:SiteRef", NS).get("LocationOID") for s in subjects] == [f"SITE.{r[1]}" for r in screening]
    locations = root.findall("odm:AdminData/odm:Location", NS)
    assert len(locations) == 4 and "医院" in locations[0].get("Name")
    header, ae = _table(package, "AE")
    first = dict(zip(header, ae[0], strict=True))

    def subjid(s):
        item = s.find(".//odm:ItemData[@ItemOID='I.SCREENING.SUBJID']", NS)
        return None if item is None else item.get("Value")

    subject = next(s for s in subjects if subjid(s) == first["SUBJID"])
    forms = subject.findall("odm:StudyEventData/odm:FormData[@FormOID='F.AE']", NS)
    assert forms[0].get("FormRepeatKey") == first["AESPID"]
    assert forms[0].find("odm:ItemGroupData/odm:ItemData[@ItemOID='I.AE.AETERM']", NS).get("Value") == HOSTILE_AETERM
    assert forms[0].find("odm:AuditRecord/odm:DateTimeStamp", NS).text == first["ENTDTC"]
    assert not root.findall(".//odm:ItemData[@Value='']", NS)  # empty items are left out
    assert mp.load(out / "mapping.toml").forms["AE"].columns["ENTDTC"].audit


def _convert():
    try:
        from dashboard.ingest.edc.convert import convert
    except ImportError:
        pytest.skip("dashboard.ingest.edc.convert is not there yet")
    return convert


def test_redcap_round_trip(package, tmp_path, spec):
    convert = _convert()
    src = write_redcap_export(package, tmp_path / "redcap")
    conv = convert(src, src / "mapping.toml", tmp_path / "converted")
    assert conv.kind == "redcap" and not conv.warnings  # every field mapped (`_complete` aside)
    _same_package(package, conv.package, spec)


def test_odm_round_trip(package, tmp_path, spec):
    convert = _convert()
    src = write_odm_export(package, tmp_path / "odm")
    conv = convert(src, src / "mapping.toml", tmp_path / "converted")
    assert conv.kind == "odm" and not conv.warnings
    _same_package(package, conv.package, spec)


# --------------------------------------------------------------------------- rows without a home
def _edit(package: Path, tmp_path: Path, form: str, line: int, col: str, value: str) -> Path:
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(package, copy)
    path = copy / f"{form}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(col)] = value
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return copy


@pytest.mark.parametrize("writer", [write_redcap_export, write_odm_export])
def test_a_subject_whose_site_differs_between_forms_has_no_home(package, tmp_path, writer):
    _, sites = _table(package, "SITES")
    header, rows = _table(package, "AE")
    other = next(s[0] for s in sites if s[0] != rows[0][header.index("SITEID")])
    edited = _edit(package, tmp_path, "AE", 2, "SITEID", other)
    with pytest.raises(ValueError, match=r"AE\.csv line 2: subject .* SITEID"):
        writer(edited, tmp_path / "out")


@pytest.mark.parametrize(
    ("form", "col", "value", "message"),
    [
        ("AE", "AESPID", "1a", "no repeat instance"),
        ("RAND", "ARM", "EXPERIMENTAL", "not one of the spec's codes"),
        ("DM", "SUBJID", "99-999", "no row in SCREENING.csv"),
        ("BL", "PREGNANT", "U", "not Y or N"),
        ("AE", "AESPID", "=", "AE.csv line 4: the same AESPID for subject 01-001 as line 2"),
        ("DM", "SUBJID", "=", "DM.csv line 3: a second row .* for subject 01-001 as line 2"),
    ],
)
def test_rows_the_design_cannot_hold_are_refused(package, tmp_path, form, col, value, message):
    """A value outside the design; "=" gives the second row the first row's value (AE.csv: the
    first row's AETERM holds a line break, so its second row starts on line 4)."""
    line = 2
    if value == "=":
        header, rows = _table(package, form)
        assert (
            rows[0][header.index("SUBJID")] == "01-001"
            and rows[0][header.index("SITEID")] == rows[1][header.index("SITEID")]
        )
        value, line = rows[0][header.index(col)], 3
    edited = _edit(package, tmp_path, form, line, col, value)
    with pytest.raises(ValueError, match=message):
        write_redcap_export(edited, tmp_path / "out")
