"""An EDC design generated from the CRF spec (crf_spec.toml), so that a trial office can build its
EDC to fit our export package: `python -m dashboard edc-design redcap|odm --out DIR`.

`write_design("redcap", out)` writes
    dictionary.csv             a REDCap data dictionary in the 18-column import format (the layout of
                               REDCapR's inst/test-data/projects/*/dictionary.csv), UTF-8
    repeating_instruments.csv  the repeating instruments, as REDCap's API repeatingFormsEvents
                               export lists them for a classic project (form_name, custom_form_label)
    mapping.toml               the mapping (dashboard/ingest/edc/mapping.py) that reads the records
                               export of this project into our package
`write_design("odm", out)` writes
    metadata.xml               a CDISC ODM 1.3.2 Study (GlobalVariables, MetaDataVersion)
    mapping.toml               the mapping that reads an ODM export of it

The REDCap project (classic, not longitudinal):
- a record is one screened patient; the record ID `record_id` is the screening number (SCRNID) on
  the instrument `screening`, which also holds the subject number given at enrollment
  (`screening_subjid`, SUBJID). The sites are data access groups (SITEID is no field; the mapping's
  [[sites]] turns a group's unique name into SITEID). EXPORT and SITES are no instruments: they
  come from the mapping's [export] and [[sites]].
- instruments are our forms in lower case, fields `<form>_<column>`; every instrument has an
  optional `<form>_entdtc` (ENTDTC, date-time with seconds, filled by @NOW when the form opens).
- coded columns are dropdowns whose choices are numbered 1..n in the spec's order, each labelled
  with our code (`1, DE-ESCALATION | 2, STANDARD`: the mapping reads them with codes = "labels");
  Y/N columns are yesno fields (1/0); dates are date_ymd text fields; the partial dates (BRTHDAT,
  AESTDAT) are three integer fields `_yyyy`, `_mm`, `_dd` (REDCap has no partial date
  validation; an empty day or month makes the date partial, as the spec allows); integers and
  numbers are validated text fields with the spec's min and max.
- IE is one yesno field per criterion (ie_i01 .. ie_e07), unpivoted by the mapping into IETESTCD
  and IEORRES.
- forms with more than one row per subject are repeating instruments; AESPID is AE's repeat
  instance and DVSPID DV's (the mapping's `instance = true`).

The ODM study (one StudyEventDef SE.TRIAL, every form in it):
- a SubjectData is one screened patient, as a REDCap record is: SubjectKey is the screening number
  (SCRNID), the site is SiteRef/@LocationOID, and the subject number given at enrollment is the item
  I.SCREENING.SUBJID of form F.SCREENING ([subjects] subjid reads it for every form of the
  patient). A SubjectKey that never changes serves screen failures and enrolled patients alike, and
  keeps one SubjectData per person (the alternative, SubjectKey = SUBJID, would need a second
  SubjectData for the screening log of every enrolled patient, or a key renamed at enrollment).
- FormDef F.<FORM> (Repeating="Yes" for the repeating forms, whose FormRepeatKey is the instance:
  AESPID, DVSPID), one ItemGroupDef IG.<FORM> each, ItemDef I.<FORM>.<COLUMN> with the spec's type
  (partialDate for the partial dates), CodeList CL.<FORM>.<COLUMN> per coded column (CodedValue =
  our code, Decode in English and, where known, Chinese), CL.YN for the Y/N items, RangeCheck for
  the spec's min and max. ENTDTC is no item: an EDC records entry time in AuditRecord/DateTimeStamp,
  which the mapping reads (`audit = true`). IE has one item per criterion (I.IE.I01 ..), unpivoted.
Element and attribute names follow ODM 1.3.2 as in odmlib's tests/data/cdash-odm-test.xml
(metadata) and tests/data/odm-data-snapshot.xml (clinical data); the children's order (ItemDef:
Question, RangeCheck, CodeListRef, Alias; FormData and ItemGroupData: AuditRecord first;
AuditRecord: UserRef, LocationRef, DateTimeStamp; Location: MetaDataVersionRef) and the DataType,
Comparator and LocationType values were checked against the schema odmlib keeps in
tests/fixtures/odm1-3-2/ODM1-3-2-foundation.xsd.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import escape

from dashboard.config import Column, CrfSpec, load_crf_spec
from dashboard.i18n import _

# REDCap's data dictionary, 18 columns in the order of its import format
DICTIONARY_HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]
NOT_INSTRUMENTS = ("EXPORT", "SITES")  # from the mapping's [export] and [[sites]]
REPEATING = ("EX", "RS", "PR", "ADJ", "AE", "FU", "RECUR", "DS", "DV", "QS")
INSTANCE = {"AE": "AESPID", "DV": "DVSPID"}  # the repeat instance is this column
UNPIVOT = {"IE": ("IETESTCD", "IEORRES")}  # one field per code of the key column
NOTES = ("AETERM", "DVTERM")  # free text: a notes box
IDENTIFIERS = {("DM", "BRTHDAT")}  # REDCap's identifier flag (left out of de-identified exports)
REDCAP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID = "NEO-MARGIN"
EVENT_OID = "SE.TRIAL"
DATETIME_VALIDATION = "datetime_seconds_ymd"  # ENTDTC keeps its seconds: REDCap exports YYYY-MM-DD HH:MM:SS

FORM_LABELS = {
    "SCREENING": ("Screening log", "筛选登记"),
    "DM": ("Demographics and consent", "人口学资料与知情同意"),
    "IE": ("Eligibility", "入排标准"),
    "DX": ("Diagnosis and staging", "诊断与分期"),
    "BL": ("Baseline status", "基线状况"),
    "EX": ("Neoadjuvant immunotherapy", "新辅助免疫治疗"),
    "RS": ("Response to neoadjuvant therapy", "新辅助治疗疗效评估"),
    "RAND": ("Randomization", "随机化"),
    "PR": ("Surgery", "手术"),
    "PATH": ("Surgical pathology", "术后病理"),
    "ADJ": ("Adjuvant therapy", "辅助治疗"),
    "AE": ("Adverse events", "不良事件"),
    "FU": ("Follow-up", "随访"),
    "RECUR": ("Recurrence", "复发"),
    "DD": ("Death", "死亡"),
    "DS": ("End of study", "研究结束"),
    "DV": ("Protocol deviations", "方案偏离"),
    "QS": ("Quality of life", "生活质量"),
}
# (form, column) or column -> (English, Chinese)
COLUMN_LABELS = {
    "SCRNID": ("Screening number", "筛选号"),
    "SCRNDAT": ("Screening date", "筛选日期"),
    "AGE": ("Age at screening (years)", "筛选时年龄（岁）"),
    "SEX": ("Sex", "性别"),
    "SCRNOUT": ("Screening outcome", "筛选结果"),
    "SFREAS": ("Screen failure: criterion failed", "筛选失败原因（未满足的标准）"),
    "SUBJID": ("Subject number (given at enrollment)", "受试者编号（入组时分配）"),
    "BRTHDAT": ("Date of birth", "出生日期"),
    "RFICDAT": ("Date informed consent signed", "知情同意书签署日期"),
    "IEORRES": ("Criterion answer", "标准判定"),
    "DXDAT": ("Date of histological diagnosis", "病理确诊日期"),
    "PRIMSITE": ("Primary tumour site", "原发肿瘤部位"),
    "HISTOL": ("Histology", "组织学类型"),
    "P16": ("p16 status", "p16状态"),
    "CT": ("Clinical T", "临床T分期"),
    "CN": ("Clinical N", "临床N分期"),
    "CM": ("Clinical M", "临床M分期"),
    "STAGE": ("Clinical stage (AJCC 8th)", "临床分期（AJCC第8版）"),
    "RECUR": ("Current tumour is a recurrence", "当前肿瘤为复发"),
    "PRIORTX": ("Prior curative surgery or radiotherapy for this tumour", "既往针对该肿瘤的根治性手术或放疗"),
    "BLDAT": ("Baseline assessment date", "基线评估日期"),
    "ECOG": ("ECOG performance status", "ECOG体能状态评分"),
    "CARDIAC6M": ("Serious cardiac condition in the last 6 months", "近6个月严重心脏疾病"),
    "PREGNANT": ("Pregnant", "妊娠"),
    "OTHMAL5Y": ("Other malignancy within 5 years", "5年内其他恶性肿瘤"),
    "SMOKING": ("Smoking status", "吸烟状况"),
    "EXCYCLE": ("Cycle number", "周期数"),
    "EXSTDAT": ("Dose date", "给药日期"),
    "EXTRT": ("Drug name", "药物名称"),
    "EXCLASS": ("Drug class", "药物类别"),
    "EXCHEMO": ("Chemotherapy given with this cycle", "本周期联合化疗"),
    "RSDAT": ("Imaging date", "影像评估日期"),
    "RSORRES": ("Overall response (RECIST 1.1)", "总体疗效（RECIST 1.1）"),
    "RANDDAT": ("Randomization date", "随机日期"),
    "RANDNO": ("Randomization number", "随机号"),
    "ARM": ("Arm", "组别"),
    "STRATRESP": ("Stratum: response", "分层因素：疗效"),
    "STRATSITE": ("Stratum: primary site", "分层因素：原发部位"),
    "PRDAT": ("Surgery date", "手术日期"),
    "PRTRT": ("Operation", "手术类型"),
    "PRPRIM": ("Primary lesion resected", "原发灶切除"),
    "MANDPRES": ("Mandible preserved", "保留下颌骨"),
    "FLAP": ("Flap reconstruction", "皮瓣修复"),
    "GLOSSEXT": ("Extent of glossectomy", "舌切除范围"),
    "NECKDIS": ("Neck dissection", "颈淋巴结清扫"),
    "PATHDAT": ("Pathology report date", "病理报告日期"),
    "PCR": ("Pathological complete response", "病理完全缓解"),
    "MARGIN": ("Margin status", "切缘状态"),
    "ENE": ("Extranodal extension", "淋巴结包膜外侵犯"),
    "PNPOS": ("Number of positive nodes", "阳性淋巴结数"),
    "ADJTYPE": ("Adjuvant therapy", "辅助治疗类型"),
    "ADJSTDAT": ("Start date", "开始日期"),
    "ADJENDAT": ("End date", "结束日期"),
    "RTDOSE": ("Total radiotherapy dose (Gy)", "放疗总剂量（Gy）"),
    "AESPID": ("Event number", "事件编号"),
    "AETERM": ("Adverse event (verbatim term)", "不良事件（原始描述）"),
    "AEDECOD": ("MedDRA preferred term", "MedDRA首选术语"),
    "AESOC": ("MedDRA system organ class", "MedDRA系统器官分类"),
    "AESTDAT": ("Onset date", "不良事件开始日期"),
    "AEENDAT": ("Resolution date", "不良事件结束日期"),
    "AETOXGR": ("CTCAE v5 grade", "CTCAE v5分级"),
    "AESER": ("Serious", "严重不良事件"),
    "AEREL": ("Attributed to", "相关性"),
    "AEIMMUNE": ("Immune-related", "免疫相关"),
    "AECLAV": ("Clavien-Dindo grade", "Clavien-Dindo分级"),
    "AEOUT": ("Outcome", "转归"),
    "VISIT": ("Visit", "访视"),
    "VISDAT": ("Contact date", "随访日期"),
    "SSSTAT": ("Vital status", "生存状态"),
    "RECDAT": ("Date recurrence diagnosed", "复发诊断日期"),
    "RECTYPE": ("Recurrence type", "复发类型"),
    "DTHDAT": ("Date of death", "死亡日期"),
    "DTHCAUS": ("Cause of death", "死亡原因"),
    "DSDECOD": ("Reason for end of study", "研究结束原因"),
    "DSSTDAT": ("End of study date", "研究结束日期"),
    "DVSPID": ("Deviation number", "偏离编号"),
    "DVSTDAT": ("Deviation date", "偏离日期"),
    "DVCAT": ("Category", "偏离类别"),
    "DVTERM": ("Description", "偏离描述"),
    "DVSEV": ("Severity", "严重程度"),
    "QSDAT": ("Questionnaire date", "问卷日期"),
    "QSCAT": ("Questionnaire", "问卷"),
    "QSTESTCD": ("Score code", "评分代码"),
    "QSSTRESN": ("Score (0-100)", "评分（0-100）"),
    "ENTDTC": ("Entry date-time", "录入时间"),
}
# Chinese decodes of our codes (ODM CodeList); (column, code) first, then the code
CODE_ZH = {
    "M": "男",
    "F": "女",
    "Y": "是",
    "N": "否",
    "ENROLLED": "已入组",
    "SCREEN FAILURE": "筛选失败",
    "PENDING": "待定",
    "OTHER": "其他",
    "ORAL CAVITY": "口腔",
    "OROPHARYNX": "口咽",
    "LARYNX": "喉",
    "HYPOPHARYNX": "下咽",
    "NASOPHARYNX": "鼻咽",
    "SCC": "鳞状细胞癌",
    "POSITIVE": "阳性",
    "NEGATIVE": "阴性",
    "NOT DONE": "未检测",
    "CLOSE": "近切缘",
    "NEVER": "从不吸烟",
    "FORMER": "既往吸烟",
    "CURRENT": "目前吸烟",
    "ANTI-PD-1": "抗PD-1单抗",
    "BISPECIFIC-PD-1": "PD-1双特异性抗体",
    "CR": "完全缓解",
    "PR": "部分缓解",
    "SD": "疾病稳定",
    "PD": "疾病进展",
    "NE": "无法评估",
    "DE-ESCALATION": "降阶梯手术组",  # the terms of docs/glossary.md
    "STANDARD": "标准手术组",
    "DE-ESCALATION SURGERY": "降阶梯手术",
    "STANDARD SURGERY": "标准手术",
    "RE-OPERATION": "再次手术",
    "NONE": "无",
    "LT HALF": "小于半舌",
    "HEMI": "半舌",
    "GT HALF": "大于半舌",
    "RT": "放疗",
    "CRT": "同步放化疗",
    "IMMUNOTHERAPY": "免疫治疗",
    "SURGERY": "手术",
    "RADIOTHERAPY": "放疗",
    "UNKNOWN": "不详",
    "RECOVERED": "已恢复",
    "RECOVERING": "恢复中",
    "NOT RECOVERED": "未恢复",
    "FATAL": "死亡",
    "ALIVE": "存活",
    "DEAD": "死亡",
    "LOCAL": "局部复发",
    "REGIONAL": "区域复发",
    "DISTANT": "远处转移",
    "SECOND PRIMARY": "第二原发肿瘤",
    "DISEASE": "疾病进展",
    "TREATMENT": "治疗相关",
    "WITHDREW CONSENT": "撤回知情同意",
    "LOST TO FOLLOW-UP": "失访",
    "PHYSICIAN DECISION": "研究者决定",
    "DEATH": "死亡",
    "COMPLETED": "完成研究",
    "ELIGIBILITY": "入排标准",
    "INFORMED CONSENT": "知情同意",
    "VISIT WINDOW": "访视超窗",
    "PROCEDURE": "操作流程",
    "MAJOR": "重大",
    "MINOR": "轻微",
    ("AEREL", "NONE"): "无关",
    ("GLOSSEXT", "NONE"): "未切除舌",
    ("DVCAT", "TREATMENT"): "治疗",
}
# show the field only when another has this code: (form, column) -> (form, column, code)
BRANCHING = {
    ("SCREENING", "SFREAS"): ("SCREENING", "SCRNOUT", "SCREEN FAILURE"),
    ("SCREENING", "SUBJID"): ("SCREENING", "SCRNOUT", "ENROLLED"),
    ("BL", "PREGNANT"): ("DM", "SEX", "F"),
}


# --------------------------------------------------------------------------- shared helpers
def forms_of(spec: CrfSpec) -> list[str]:
    """Our forms that are instruments / ODM forms, in the spec's order (SCREENING first)."""
    return [f for f in spec.forms if f not in NOT_INSTRUMENTS]


def is_repeating(spec: CrfSpec, form: str) -> bool:
    """More than one row per subject: the listed forms, and any form keyed by more than SUBJID
    (IE excepted: one field per criterion)."""
    if form in UNPIVOT or form == "SCREENING":
        return False
    f = spec.forms[form]
    return form in REPEATING or (f.subject_level and f.key != ["SUBJID"])


def column_label(form: str, col: str) -> tuple[str, str]:
    en, zh = COLUMN_LABELS.get((form, col)) or COLUMN_LABELS.get(col) or (col.title(), "")
    return en, zh


def code_zh(col: str, code: str) -> str:
    if re.fullmatch(r"[IE][0-9]{2}", code):
        return ("入选标准" if code[0] == "I" else "排除标准") + str(int(code[1:]))
    return CODE_ZH.get((col, code)) or CODE_ZH.get(code, "")


def criterion_label(code: str, text: str) -> tuple[str, str]:
    """(English, Chinese) question for one eligibility criterion: inclusion met? exclusion present?"""
    if code.startswith("I"):
        en, zh = f"{code} Inclusion criterion met", f"入选标准{int(code[1:])}是否符合"
    else:
        en, zh = f"{code} Exclusion criterion present", f"排除标准{int(code[1:])}是否存在"
    return (f"{en}: {text}" if text else en), zh


def _both(en: str, zh: str) -> str:
    return f"{en} / {zh}" if zh else en


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _criteria_text() -> dict[str, str]:
    """The eligibility criteria's wording from trial.toml, for the IE field labels (optional)."""
    try:
        from dashboard.config import load_trial

        return {c.code: c.text for c in load_trial().eligibility}
    except Exception:  # noqa: BLE001 - a label is a nicety; the design does not need trial.toml
        return {}


def is_yn_codes(codes: list[str] | None) -> bool:
    return bool(codes) and sorted(codes) == ["N", "Y"]


def toml_str(s: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(s, ensure_ascii=False)


def _inline(d: dict) -> str:
    parts = []
    for k, v in d.items():
        if isinstance(v, bool):
            val = "true" if v else "false"
        elif isinstance(v, dict):
            val = _inline(v)
        else:
            val = toml_str(str(v))
        parts.append(f"{_key(k)} = {val}")
    return "{ " + ", ".join(parts) + " }"


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", k) else toml_str(k)


def _spec_value(v) -> str:
    return toml_str(v) if isinstance(v, str) else _inline(v)


# --------------------------------------------------------------------------- REDCap
@dataclass(frozen=True)
class RedcapField:
    """One row of the data dictionary."""

    name: str
    form: str  # the instrument
    type: str
    label: str
    choices: str = ""
    note: str = ""
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    identifier: bool = False
    branching: str = ""
    required: bool = False
    annotation: str = ""

    def row(self) -> list[str]:
        return [
            self.name,
            self.form,
            "",
            self.type,
            self.label,
            self.choices,
            self.note,
            self.validation,
            self.vmin,
            self.vmax,
            "y" if self.identifier else "",
            self.branching,
            "y" if self.required else "",
            "",
            "",
            "",
            "",
            self.annotation,
        ]


@dataclass(frozen=True)
class RedcapColumn:
    """How one of our columns lives in the REDCap project: `how` is
    record (the record ID), dag (the data access group), auto (SUBJID from [subjects]),
    instance (the repeat instance), coded (a dropdown, 1..n), yn (yesno 1/0), parts (year, month,
    day fields), datetime (YYYY-MM-DD HH:MM:SS) or field (the value as it is)."""

    form: str
    column: str
    how: str
    fields: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    @property
    def _name(self) -> str:
        return f"{self.form}.{self.column}"

    def encode(self, value: str) -> dict[str, str]:
        """Our value as the REDCap raw values of the column's fields (the records export);
        ValueError when the design has no way to hold it."""
        if value == "" or not self.fields:
            return {}
        f = self.fields
        if self.how == "coded":
            if value not in self.codes:
                raise ValueError(
                    _("{column}: {value} is not one of the spec's codes").format(column=self._name, value=repr(value))
                )
            return {f[0]: str(self.codes.index(value) + 1)}
        if self.how == "yn":
            if value not in ("Y", "N"):
                raise ValueError(_("{column}: {value} is not Y or N").format(column=self._name, value=repr(value)))
            return {f[0]: "1" if value == "Y" else "0"}
        if self.how == "parts":
            m = re.fullmatch(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?", value)
            if not m:
                raise ValueError(
                    _("{column}: {value} is not YYYY-MM-DD, YYYY-MM or YYYY").format(
                        column=self._name, value=repr(value)
                    )
                )
            y, mo, d = m.groups()
            out = {f[0]: y}
            if mo:
                out[f[1]] = str(int(mo))  # as a site types it; the mapping pads it
            if d:
                out[f[2]] = str(int(d))
            return out
        if self.how == "datetime":
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}", value):
                raise ValueError(
                    _("{column}: {value} is not YYYY-MM-DDTHH:MM:SS ({validation} holds no other)").format(
                        column=self._name, value=repr(value), validation=DATETIME_VALIDATION
                    )
                )
            return {f[0]: value.replace("T", " ")}
        if self.how == "date" and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(
                _("{column}: {value} is not a YYYY-MM-DD date (date_ymd)").format(column=self._name, value=repr(value))
            )
        return {f[0]: value}

    def mapping(self):
        """The column spec of the mapping file (a field name or an inline table), None if automatic."""
        if self.how == "record":
            return {"record": True}
        if self.how == "instance":
            return {"instance": True}
        if self.how in ("dag", "auto", "unpivot"):
            return None
        if self.how == "coded":
            return {"field": self.fields[0], "codes": "labels"}
        if self.how == "yn":
            return {"field": self.fields[0], "codes": {"1": "Y", "0": "N"}}
        if self.how == "parts":
            return {"year": self.fields[0], "month": self.fields[1], "day": self.fields[2]}
        return self.fields[0]


@dataclass
class RedcapDesign:
    fields: list[RedcapField]
    columns: dict[str, dict[str, RedcapColumn]]  # form -> column -> how it is held
    instruments: list[str]  # in order
    repeating: list[str]  # instrument names
    unpivot: dict[str, tuple[str, str, dict[str, str]]]  # form -> (key, value, {code: field})
    custom_labels: dict[str, str]

    def instrument(self, form: str) -> str:
        return form.lower()

    def fields_of(self, instrument: str) -> list[str]:
        return [f.name for f in self.fields if f.form == instrument]


def redcap_design(spec: CrfSpec | None = None) -> RedcapDesign:
    spec = spec or load_crf_spec()
    criteria = _criteria_text()
    fields: list[RedcapField] = []
    columns: dict[str, dict[str, RedcapColumn]] = {}
    unpivot: dict[str, tuple[str, str, dict[str, str]]] = {}
    custom: dict[str, str] = {}
    coded_index: dict[tuple[str, str], tuple[str, ...]] = {}
    for form in forms_of(spec):
        for c in spec.forms[form].columns:
            if c.codes:
                coded_index[(form, c.name)] = tuple(c.codes)

    def branching(form: str, col: str) -> str:
        b = BRANCHING.get((form, col))
        if not b or b[:2] not in coded_index or b[2] not in coded_index[b[:2]]:
            return ""
        codes = coded_index[b[:2]]
        return f"[{b[0].lower()}_{b[1].lower()}] = '{codes.index(b[2]) + 1}'"

    for form in forms_of(spec):
        f = spec.forms[form]
        inst = form.lower()
        cols: dict[str, RedcapColumn] = {}
        trace = f"CRF spec {spec.version}"
        if form == "SCREENING":
            en, zh = column_label(form, "SCRNID")
            fields.append(
                RedcapField("record_id", inst, "text", _both(en, zh), annotation=f"{trace}: SCREENING.SCRNID")
            )
        for c in f.columns:
            name = f"{inst}_{c.name.lower()}"
            en, zh = column_label(form, c.name)
            ann = f"{trace}: {form}.{c.name}"
            if form == "SCREENING" and c.name == "SCRNID":
                cols[c.name] = RedcapColumn(form, c.name, "record", ("record_id",))
                continue
            if c.name == "SITEID":
                cols[c.name] = RedcapColumn(form, c.name, "dag")
                continue
            if c.name == "SUBJID" and f.subject_level:
                cols[c.name] = RedcapColumn(form, c.name, "auto")
                continue
            if INSTANCE.get(form) == c.name:
                cols[c.name] = RedcapColumn(form, c.name, "instance")
                continue
            if form in UNPIVOT:
                key, value = UNPIVOT[form]
                if c.name == key:
                    by_code = {}
                    for code in c.codes or []:
                        fname = f"{inst}_{code.lower()}"
                        fields.append(
                            RedcapField(
                                fname,
                                inst,
                                "yesno",
                                _both(*criterion_label(code, criteria.get(code, ""))),
                                required=True,
                                annotation=f"{trace}: IE.IEORRES where IETESTCD = {code}",
                            )
                        )
                        by_code[code] = fname
                    unpivot[form] = (key, value, by_code)
                    cols[c.name] = RedcapColumn(form, c.name, "unpivot", tuple(by_code.values()), tuple(by_code))
                    continue
                if c.name == value:
                    cols[c.name] = RedcapColumn(form, c.name, "unpivot")
                    continue
            rc, new = _redcap_column(form, c, name, (en, zh), ann)
            for nf in new:
                fields.append(replace(nf, identifier=(form, c.name) in IDENTIFIERS, branching=branching(form, c.name)))
            cols[c.name] = rc
        en, zh = column_label(form, "ENTDTC")
        ent = f"{inst}_entdtc"
        fields.append(
            RedcapField(
                ent,
                inst,
                "text",
                _both(en, zh),
                note="filled when the form is first opened",  # i18n: verbatim (the EDC's field note)
                validation=DATETIME_VALIDATION,
                annotation=f"@NOW {trace}: {form}.ENTDTC",
            )
        )
        cols["ENTDTC"] = RedcapColumn(form, "ENTDTC", "datetime", (ent,))
        columns[form] = cols
        if is_repeating(spec, form):
            shown = []
            for c in f.columns:
                rc = cols[c.name]
                if c.name == f.main_date or (c.required and rc.how in ("field", "coded") and c.name not in f.key):
                    shown.append(f"[{rc.fields[0]}]")
                if len(shown) == 2:
                    break
            custom[inst] = " ".join(shown)
    design = RedcapDesign(
        fields=fields,
        columns=columns,
        instruments=[x.lower() for x in forms_of(spec)],
        repeating=[x.lower() for x in forms_of(spec) if is_repeating(spec, x)],
        unpivot=unpivot,
        custom_labels=custom,
    )
    names = [f.name for f in fields]
    bad = [n for n in names if not REDCAP_NAME.match(n) or "___" in n or n.endswith("_complete") or len(n) > 26]
    dup = {n for n in names if names.count(n) > 1}
    if bad or dup:
        raise ValueError(
            _("REDCap field names invalid {bad} or repeated {repeated}").format(bad=bad, repeated=sorted(dup))
        )
    return design


def _redcap_column(
    form: str, c: Column, name: str, labels: tuple[str, str], ann: str
) -> tuple[RedcapColumn, list[RedcapField]]:
    req = c.required
    label = _both(*labels)
    if c.codes and is_yn_codes(c.codes) and c.type != "yn":
        choices = " | ".join(f"{k + 1}, {code}" for k, code in enumerate(c.codes))
        return RedcapColumn(form, c.name, "coded", (name,), tuple(c.codes)), [
            RedcapField(name, form.lower(), "radio", label, choices, required=req, annotation=ann)
        ]
    if c.codes:
        choices = " | ".join(f"{k + 1}, {code}" for k, code in enumerate(c.codes))
        return RedcapColumn(form, c.name, "coded", (name,), tuple(c.codes)), [
            RedcapField(name, form.lower(), "dropdown", label, choices, required=req, annotation=ann)
        ]
    if c.type == "yn":
        return RedcapColumn(form, c.name, "yn", (name,)), [
            RedcapField(name, form.lower(), "yesno", label, required=req, annotation=ann)
        ]
    if c.type in ("partial_date", "partial_date_y"):
        y, m, d = f"{name}_yyyy", f"{name}_mm", f"{name}_dd"
        en, zh = labels
        mo_req = req and c.type == "partial_date"
        unknown = "empty if unknown"
        return RedcapColumn(form, c.name, "parts", (y, m, d)), [
            RedcapField(
                y,
                form.lower(),
                "text",
                _both(f"{en}: year", f"{zh}：年" if zh else ""),
                "",
                "YYYY",
                "integer",
                "1900",
                "2100",
                required=req,
                annotation=ann,
            ),
            RedcapField(
                m,
                form.lower(),
                "text",
                _both(f"{en}: month", f"{zh}：月" if zh else ""),
                "",
                "1-12" + ("" if mo_req else f", {unknown}"),
                "integer",
                "1",
                "12",
                required=mo_req,
                annotation=ann,
            ),
            RedcapField(
                d,
                form.lower(),
                "text",
                _both(f"{en}: day", f"{zh}：日" if zh else ""),
                "",
                f"1-31, {unknown}",
                "integer",
                "1",
                "31",
                annotation=ann,
            ),
        ]
    if c.type == "date":
        return RedcapColumn(form, c.name, "date", (name,)), [
            RedcapField(name, form.lower(), "text", label, "", "YYYY-MM-DD", "date_ymd", required=req, annotation=ann)
        ]
    if c.type == "datetime":
        return RedcapColumn(form, c.name, "datetime", (name,)), [
            RedcapField(name, form.lower(), "text", label, "", "", DATETIME_VALIDATION, required=req, annotation=ann)
        ]
    if c.type in ("integer", "number"):
        return RedcapColumn(form, c.name, "field", (name,)), [
            RedcapField(
                name,
                form.lower(),
                "text",
                label,
                "",
                "",
                c.type,
                _num(c.min),
                _num(c.max),
                required=req,
                annotation=ann,
            )
        ]
    note = f"must match {c.pattern}" if c.pattern else ""
    kind = "notes" if c.name in NOTES else "text"
    return RedcapColumn(form, c.name, "field", (name,)), [
        RedcapField(name, form.lower(), kind, label, "", note, required=req, annotation=ann)
    ]


def _redcap_cell(value: str) -> str:
    """A cell quoted as REDCap's dictionary download quotes it: any value with a space, comma,
    quote or line break is in double quotes (`Identifier?` and `record_id` are not)."""
    if any(ch in value for ch in ' ,"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_dictionary(design: RedcapDesign, path: Path) -> Path:
    """dictionary.csv, UTF-8, the header exactly as REDCap writes it."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(_redcap_cell(h) for h in DICTIONARY_HEADER) + "\n")
        for f in design.fields:
            fh.write(",".join(_redcap_cell(v) for v in f.row()) + "\n")
    return path


def redcap_mapping_text(
    spec: CrfSpec | None = None,
    *,
    sites: list[dict[str, str]] | None = None,
    export: dict[str, str] | None = None,
) -> str:
    """The mapping file that reads this project's records export. Without `sites` it holds one
    example [[sites]] row; without `export` the export time and source come from the export
    (export.json) and CUTOFFDAT is a placeholder the office edits."""
    spec = spec or load_crf_spec()
    d = redcap_design(spec)
    out = [
        f"# Mapping of the REDCap project built from dictionary.csv (CRF spec {spec.version}) into our export",
        "# package: written by `python -m dashboard edc-design redcap`; the format is",
        "# dashboard/ingest/edc/mapping.py. A record is one screened patient (record_id = SCRNID).",
        "",
        "[source]",
        'kind = "redcap"',
        'records = "records.csv"        # content=record, type=flat, rawOrLabel=raw, exportDataAccessGroups=true',
        'dictionary = "dictionary.csv"',
        'record_id = "record_id"',
        "",
        "[export]",
    ]
    out += _export_lines(export)
    out += [
        "",
        "[subjects]",
        'subjid = { field = "screening_subjid" }   # the subject number given at enrollment',
        'site = "dag"                              # the data access group, through [[sites]]',
        "",
    ]
    out += _site_lines(sites, "the data access group's unique name", "site_01")
    for form in forms_of(spec):
        body = [f"{col} = {_spec_value(c.mapping())}" for col, c in d.columns[form].items() if c.mapping() is not None]
        out += _form_lines(form, form.lower(), body, d.unpivot.get(form), {"1": "Y", "0": "N"})
    return "\n".join(out) + "\n"


def _export_lines(export: dict[str, str] | None) -> list[str]:
    if export:
        return [f"{k} = {toml_str(export[k])}" for k in ("EXPORTDTC", "CUTOFFDAT", "SOURCE")]
    return [
        'EXPORTDTC = { metadata = "export_time" }',
        'SOURCE = { metadata = "source" }',
        "# CUTOFFDAT: the data cut-off date of this transfer (YYYY-MM-DD). EDIT it before each",
        "# conversion: the placeholder is no date, so the build refuses the package until it is set.",
        'CUTOFFDAT = "YYYY-MM-DD"',
    ]


def _site_lines(sites: list[dict[str, str]] | None, source_is: str, example: str) -> list[str]:
    out = []
    if sites is None:
        out += [
            f"# [[sites]]: one row per site; `source` is {source_is}. This row is an EXAMPLE:",
            "# replace it by the trial's sites (a record whose site is not listed is refused).",
            "[[sites]]",
            f"source = {toml_str(example)}",
            'SITEID = "01"',
            'SITENAME = "Example hospital"',
            'CITY = "Shanghai"',
            'COUNTRY = "CHN"',
            'ACTDAT = "2026-01-15"',
            'TARGETN = "100"',
            'STATUS = "ACTIVE"',
            "",
        ]
        return out
    for s in sites:
        out.append("[[sites]]")
        for k in ("source", "SITEID", "SITENAME", "CITY", "COUNTRY", "ACTDAT", "TARGETN", "STATUS"):
            if s.get(k, "") != "":
                out.append(f"{k} = {toml_str(s[k])}")
        out.append("")
    return out


def _form_lines(form: str, source_form: str, body: list[str], unpivot, unpivot_codes: dict | None) -> list[str]:
    """A [forms.<FORM>] table: its columns (lines `COL = spec`) and its unpivot."""
    out = [f"[forms.{form}]", f"from = {toml_str(source_form)}", ""]
    if body:
        out += [f"[forms.{form}.columns]", *body, ""]
    if unpivot:
        key, value, by_code = unpivot
        out += [f"[forms.{form}.unpivot]", f"key = {toml_str(key)}", f"value = {toml_str(value)}"]
        if unpivot_codes:
            out.append(f"codes = {_inline(unpivot_codes)}")
        out.append(f"[forms.{form}.unpivot.fields]")
        out += [f"{code} = {toml_str(field)}" for code, field in by_code.items()]
        out.append("")
    return out


def write_repeating(design: RedcapDesign, path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["form_name", "custom_form_label"])
        for inst in design.repeating:
            w.writerow([inst, design.custom_labels.get(inst, "")])
    return path


# --------------------------------------------------------------------------- ODM
ODM_TYPES = {
    "text": "text",
    "yn": "text",
    "integer": "integer",
    "number": "float",
    "date": "date",
    "partial_date": "partialDate",
    "partial_date_y": "partialDate",
    "datetime": "datetime",
}


@dataclass(frozen=True)
class OdmColumn:
    """How one of our columns lives in the ODM study: `how` is record (SubjectKey), siteref
    (SiteRef), auto (SUBJID from [subjects]), instance (FormRepeatKey), audit (AuditRecord),
    unpivot (one item per code) or item (ItemData of `item`)."""

    form: str
    column: str
    how: str
    item: str = ""

    def mapping(self):
        return {
            "record": {"record": True},
            "instance": {"instance": True},
            "audit": {"audit": True},
            "item": self.item,
        }.get(self.how)


def item_oid(form: str, col: str) -> str:
    return f"I.{form}.{col}"


def odm_columns(spec: CrfSpec | None = None) -> dict[str, dict[str, OdmColumn]]:
    spec = spec or load_crf_spec()
    out: dict[str, dict[str, OdmColumn]] = {}
    for form in forms_of(spec):
        f = spec.forms[form]
        cols = {}
        for c in f.columns:
            if form == "SCREENING" and c.name == "SCRNID":
                how = "record"
            elif c.name == "SITEID":
                how = "siteref"
            elif c.name == "SUBJID" and f.subject_level:
                how = "auto"
            elif INSTANCE.get(form) == c.name:
                how = "instance"
            elif form in UNPIVOT and c.name in UNPIVOT[form]:
                how = "unpivot"
            else:
                how = "item"
            cols[c.name] = OdmColumn(form, c.name, how, item_oid(form, c.name) if how == "item" else "")
        cols["ENTDTC"] = OdmColumn(form, "ENTDTC", "audit")
        out[form] = cols
    return out


def odm_unpivot(spec: CrfSpec) -> dict[str, tuple[str, str, dict[str, str]]]:
    out = {}
    for form, (key, value) in UNPIVOT.items():
        if form in spec.forms:
            col = next(c for c in spec.forms[form].columns if c.name == key)
            out[form] = (key, value, {code: item_oid(form, code) for code in col.codes or []})
    return out


def _t(text: str) -> str:
    return escape(text)


def _a(text: str) -> str:
    """An attribute value in double quotes (newlines and tabs kept as character references)."""
    return '"' + escape(str(text), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}) + '"'


def _translated(en: str, zh: str, indent: str) -> list[str]:
    out = [f'{indent}<TranslatedText xml:lang="en">{_t(en)}</TranslatedText>']
    if zh:
        out.append(f'{indent}<TranslatedText xml:lang="zh">{_t(zh)}</TranslatedText>')
    return out


def odm_study(spec: CrfSpec | None = None, indent: str = "  ") -> str:
    """The <Study> element: GlobalVariables and the MetaDataVersion of our spec."""
    spec = spec or load_crf_spec()
    criteria = _criteria_text()
    i1, i2, i3, i4, i5, i6 = (indent * k for k in range(1, 7))
    mdv = f"MDV.CRF.{spec.version}"
    L = [
        f"{i1}<Study OID={_a(STUDY_OID)}>",
        f"{i2}<GlobalVariables>",
        f"{i3}<StudyName>Neo-Margin</StudyName>",
        f"{i3}<StudyDescription>Neo-Margin (NCT07320690): the EDC design of the CRF export spec "
        f"{spec.version}</StudyDescription>",
        f"{i3}<ProtocolName>NCT07320690</ProtocolName>",
        f"{i2}</GlobalVariables>",
        f"{i2}<MetaDataVersion OID={_a(mdv)} Name={_a(f'Neo-Margin CRF export spec {spec.version}')}>",
        f"{i3}<Protocol>",
        f'{i4}<StudyEventRef StudyEventOID="{EVENT_OID}" OrderNumber="1" Mandatory="Yes"/>',
        f"{i3}</Protocol>",
        f'{i3}<StudyEventDef OID="{EVENT_OID}" Name="Trial" Repeating="No" Type="Common">',
    ]
    forms = forms_of(spec)
    for k, form in enumerate(forms, 1):
        mand = "Yes" if spec.forms[form].must_have_rows else "No"
        L.append(f'{i4}<FormRef FormOID="F.{form}" OrderNumber="{k}" Mandatory="{mand}"/>')
    L.append(f"{i3}</StudyEventDef>")
    cols = odm_columns(spec)
    unp = odm_unpivot(spec)
    for form in forms:
        en, zh = FORM_LABELS.get(form, (form, ""))
        rep = "Yes" if is_repeating(spec, form) else "No"
        L += [
            f'{i3}<FormDef OID="F.{form}" Name={_a(_both(en, zh))} Repeating="{rep}">',
            f'{i4}<ItemGroupRef ItemGroupOID="IG.{form}" Mandatory="Yes"/>',
            f"{i3}</FormDef>",
        ]
    items: list[tuple[str, str, Column, str]] = []  # (form, oid, column, code for unpivot items)
    for form in forms:
        L.append(f'{i3}<ItemGroupDef OID="IG.{form}" Name={_a(form)} Repeating="No">')
        n = 0
        for c in spec.forms[form].columns:
            oc = cols[form][c.name]
            if oc.how == "item":
                n += 1
                req = "Yes" if c.required else "No"
                L.append(f'{i4}<ItemRef ItemOID="{oc.item}" OrderNumber="{n}" Mandatory="{req}"/>')
                items.append((form, oc.item, c, ""))
            elif oc.how == "unpivot" and form in unp and c.name == unp[form][0]:
                value_col = next(x for x in spec.forms[form].columns if x.name == unp[form][1])
                for code, oid in unp[form][2].items():
                    n += 1
                    L.append(f'{i4}<ItemRef ItemOID="{oid}" OrderNumber="{n}" Mandatory="Yes"/>')
                    items.append((form, oid, value_col, code))
        L.append(f"{i3}</ItemGroupDef>")
    codelists: list[tuple[str, str, list[str]]] = []
    yn_needed = False
    for form, oid, c, code in items:
        dtype = ODM_TYPES[c.type]
        length = ""
        if c.type == "yn":
            length = "1"
        elif c.type == "text":
            length = str(max(len(x) for x in c.codes)) if c.codes else ("2000" if c.name in NOTES else "200")
        elif c.type == "integer":
            length = str(len(_num(c.max))) if c.max is not None and c.max >= 0 else "8"
        attrs = f'OID="{oid}" Name={_a(code or c.name)} DataType="{dtype}"' + (f' Length="{length}"' if length else "")
        if code:
            en, zh = criterion_label(code, criteria.get(code, ""))
        else:
            en, zh = column_label(form, c.name)
        L.append(f"{i3}<ItemDef {attrs}>")
        L += [f"{i4}<Question>", *_translated(en, zh, i5), f"{i4}</Question>"]
        for comparator, bound in (("GE", c.min), ("LE", c.max)):
            if bound is not None and not code:
                L += [
                    f'{i4}<RangeCheck Comparator="{comparator}" SoftHard="Hard">',
                    f"{i5}<CheckValue>{_num(bound)}</CheckValue>",
                    f"{i4}</RangeCheck>",
                ]
        if c.type == "yn":
            L.append(f'{i4}<CodeListRef CodeListOID="CL.YN"/>')
            yn_needed = True
        elif c.codes:
            cl = f"CL.{form}.{c.name}"
            L.append(f'{i4}<CodeListRef CodeListOID="{cl}"/>')
            codelists.append((cl, c.name, list(c.codes)))
        alias = f"{form}.{c.name}" + (f"[{code}]" if code else "")
        L.append(f"{i4}<Alias Context={_a(f'CRF spec {spec.version}')} Name={_a(alias)}/>")
        L.append(f"{i3}</ItemDef>")
    if yn_needed:
        codelists.append(("CL.YN", "", ["Y", "N"]))
    for oid, col, codes in codelists:
        L.append(f'{i3}<CodeList OID="{oid}" Name={_a(oid[3:])} DataType="text">')
        for code in codes:
            L += [
                f"{i4}<CodeListItem CodedValue={_a(code)}>",
                f"{i5}<Decode>",
                *_translated(code, code_zh(col, code), i6),
                f"{i5}</Decode>",
                f"{i4}</CodeListItem>",
            ]
        L.append(f"{i3}</CodeList>")
    L += [f"{i2}</MetaDataVersion>", f"{i1}</Study>"]
    return "\n".join(L)


def odm_root(attrs: dict[str, str]) -> str:
    """The opening ODM tag with the namespace and the given attributes."""
    a = " ".join(f"{k}={_a(v)}" for k, v in attrs.items())
    return f'<ODM xmlns="{ODM_NS}" {a}>'


def write_metadata(spec: CrfSpec, path: Path) -> Path:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    root = odm_root(
        {
            "FileOID": f"NEO-MARGIN.DESIGN.{spec.version}",
            "FileType": "Snapshot",
            "Granularity": "Metadata",
            "CreationDateTime": now,
            "ODMVersion": "1.3.2",
            "Originator": "Neo-Margin monitor (dashboard.ingest.edc.design)",
        }
    )
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + root + "\n" + odm_study(spec) + "\n</ODM>\n"
    path.write_text(text, encoding="utf-8")
    return path


def odm_mapping_text(
    spec: CrfSpec | None = None,
    *,
    sites: list[dict[str, str]] | None = None,
    export: dict[str, str] | None = None,
) -> str:
    """The mapping file that reads an ODM export of this study (`export` as for REDCap, but its
    EXPORTDTC and SOURCE may still be None to read them from the ODM element)."""
    spec = spec or load_crf_spec()
    cols = odm_columns(spec)
    unp = odm_unpivot(spec)
    out = [
        f"# Mapping of an ODM 1.3 export of the study in metadata.xml (CRF spec {spec.version}) into our",
        "# export package: written by `python -m dashboard edc-design odm`; the format is",
        "# dashboard/ingest/edc/mapping.py. A SubjectData is one screened patient (SubjectKey = SCRNID).",
        "",
        "[source]",
        'kind = "odm"',
        'file = "export.xml"',
        '# metadata_file = "metadata.xml"   # when the export carries no MetaDataVersion (code lists)',
        "",
        "[export]",
    ]
    if export:
        for k in ("EXPORTDTC", "CUTOFFDAT", "SOURCE"):
            if export.get(k) is None:
                meta = "export_time" if k == "EXPORTDTC" else "source"
                out.append(f'{k} = {{ metadata = "{meta}" }}')
            else:
                out.append(f"{k} = {toml_str(export[k])}")
    else:
        out += _export_lines(None)
    out += [
        "",
        "[subjects]",
        'subjid = { field = "I.SCREENING.SUBJID" }   # the subject number given at enrollment',
        'site = "siteref"                            # SiteRef LocationOID, through [[sites]]',
        "",
    ]
    out += _site_lines(sites, "the site's LocationOID (SiteRef)", "SITE.01")
    for form in forms_of(spec):
        body = [f"{col} = {_spec_value(c.mapping())}" for col, c in cols[form].items() if c.mapping() is not None]
        out += _form_lines(form, f"F.{form}", body, unp.get(form), None)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- entry point
def write_design(kind: str, out: Path, spec: CrfSpec | None = None) -> list[Path]:
    """Write the EDC design of the CRF spec for `kind` ("redcap" or "odm") into the folder `out`;
    returns the files written."""
    spec = spec or load_crf_spec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if kind == "redcap":
        d = redcap_design(spec)
        written = [write_dictionary(d, out / "dictionary.csv"), write_repeating(d, out / "repeating_instruments.csv")]
        (out / "mapping.toml").write_text(redcap_mapping_text(spec), encoding="utf-8")
    elif kind == "odm":
        written = [write_metadata(spec, out / "metadata.xml")]
        (out / "mapping.toml").write_text(odm_mapping_text(spec), encoding="utf-8")
    else:
        raise ValueError(_("unknown EDC kind {kind}: redcap or odm").format(kind=repr(kind)))
    return [*written, out / "mapping.toml"]
