"""The mapping file (TOML) that reads an EDC's export into an export package of the CRF spec.

One mapping per EDC project. Its parts (docs/edc.md is the reference with examples):

    [source]                 kind = "redcap" | "odm"; the files in the SOURCE folder
    [export]                 EXPORT.csv: EXPORTDTC, CUTOFFDAT, SOURCE, each a column spec
    [subjects]               where SUBJID and the site come from
    [[sites]]                the site table: source value (DAG, LocationOID, site code) -> SITEID
                             and the site register's columns (SITENAME, CITY, ...)
    [events]                 event name (arm suffix dropped) -> visit, where not just upper-cased
    [forms.<FORM>]           one of our forms, read from one instrument (REDCap) or form (ODM)
    [forms.<FORM>.columns]   our column -> a column spec
    [forms.<FORM>.unpivot]   one row per listed field (eligibility, checkboxes to rows)

A column spec is a field name (shorthand for {field = ...}) or a table with exactly one source:
    field = "ae_term"                       the field's value (REDCap field / ODM ItemOID)
    value = "CHN"                           a constant
    year, month, day = "y", "m", "d"        a date split in parts (a missing day or month makes it
                                            partial: YYYY-MM, YYYY)
    checkbox = "pr_opts", code = "2"        REDCap checkbox pr_opts___2 (0/1) as Y/N
    event = "visit" | "number" | "arm"      from the event: its visit (via [events]), the first
                                            number in its name, or the REDCap arm number (closed
                                            columns only: the arm enters only through a mapped
                                            randomization field)
    instance = true                         the repeat instance (REDCap redcap_repeat_instance, ODM
                                            the innermost repeat key)
    record = true                           the record ID / SubjectKey
    audit = true                            ODM: the latest AuditRecord DateTimeStamp over the row
    metadata = "export_time" | "source"     [export] only: what the export says of itself
and, beside `field` or `checkbox` or `event`:
    codes = { "1" = "M", "2" = "F" }        source code -> our code; a value outside is an error
    codes = "labels"                        the choice's label (REDCap dictionary, ODM CodeList) is
                                            our code
Values are converted to the target column's type: a date-time (with or without an offset) where
a date is wanted gives its date as written; `YYYY-MM-DD HH:MM` becomes ISO `YYYY-MM-DDTHH:MM`;
`11,5` becomes `11.5` in a number column. Anything else is passed on as it is, and the build's own
checks refuse it with the package's file, line and column and the source's record and field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dashboard.config import CrfSpec, load_crf_spec
from dashboard.i18n import N_, _
from dashboard.ingest.problems import English, MessageError, indented, msg


class MappingError(MessageError):
    """The mapping file is invalid, or does not fit the spec or the source; the message names the
    key and, where it is about the source, the field (in the reader's language)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Codes = dict[str, str] | Literal["labels"]


class ColumnSpec(_Strict):
    field: str | None = None
    value: str | None = None
    year: str | None = None
    month: str | None = None
    day: str | None = None
    checkbox: str | None = None
    code: str | None = None
    event: Literal["visit", "number", "arm"] | None = None
    instance: bool | None = None
    record: bool | None = None
    audit: bool | None = None
    metadata: Literal["export_time", "source"] | None = None
    codes: Codes | None = None

    @model_validator(mode="after")
    def _one_source(self):
        kinds = [
            k
            for k, v in (
                ("field", self.field),
                ("value", self.value),
                ("year", self.year),
                ("checkbox", self.checkbox),
                ("event", self.event),
                ("instance", self.instance),
                ("record", self.record),
                ("audit", self.audit),
                ("metadata", self.metadata),
            )
            if v is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                _(
                    "give exactly one of field, value, year (with month, day), checkbox (with code), event, "
                    "instance, record, audit, metadata; got {kinds}"
                ).format(kinds=", ".join(kinds) or _("none"))
            )
        if (self.month or self.day) and not self.year:
            raise ValueError(_("month and day need year"))
        if self.checkbox is not None and self.code is None:
            raise ValueError(_("checkbox needs the code of its choice (code = ...)"))
        if self.code is not None and self.checkbox is None:
            raise ValueError(_("code belongs to checkbox"))
        if self.codes is not None and kinds[0] not in ("field", "event"):
            raise ValueError(_("codes go with field or event"))
        return self

    @property
    def fields(self) -> list[str]:
        """The source fields this column reads."""
        if self.checkbox is not None:
            return [f"{self.checkbox}___{self.code}"]
        return [f for f in (self.field, self.year, self.month, self.day) if f]


def _column(v):
    return {"field": v} if isinstance(v, str) else v


class Unpivot(_Strict):
    """One row per listed field: `key` gets the dict's key (IETESTCD = "I01"), `value` (when
    given) the field's value through `codes`; `keep` lists the only source values that make a row
    (a checkbox's "1")."""

    key: str
    value: str | None = None
    fields: dict[str, str]
    codes: Codes | None = None
    keep: list[str] | None = None


class When(_Strict):
    field: str
    equals: list[str] | None = None


class FormMap(_Strict):
    from_: str = Field(alias="from")
    events: list[str] | None = None  # only rows of these events (arm suffix optional)
    when: When | str | None = None  # a row only where this field has a value (or one of `equals`)
    columns: dict[str, ColumnSpec] = {}
    unpivot: Unpivot | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, dict) and isinstance(data.get("columns"), dict):
            data = {**data, "columns": {k: _column(v) for k, v in data["columns"].items()}}
        return data

    @property
    def when_field(self) -> When | None:
        return When(field=self.when) if isinstance(self.when, str) else self.when


class Source(_Strict):
    kind: Literal["redcap", "odm"]
    records: str = "records.csv"  # redcap: the flat records export (raw codes)
    dictionary: str | None = "dictionary.csv"  # redcap: the data dictionary (optional file)
    record_id: str | None = None  # redcap: the record ID field; default the first column
    file: str = "export.xml"  # odm
    metadata_file: str | None = None  # odm: a separate file holding the MetaDataVersion


class Subjects(_Strict):
    """SUBJID: the record ID (default) or a field of the record; the site: the data access group
    (REDCap), SiteRef (ODM), or a field, read through [[sites]]."""

    subjid: ColumnSpec = ColumnSpec(record=True)
    site: Literal["dag", "siteref"] | ColumnSpec = "dag"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("subjid"), str):
                data["subjid"] = {"field": data["subjid"]}
            if isinstance(data.get("site"), dict):
                data["site"] = ColumnSpec(**data["site"])
        return data


class Site(_Strict):
    source: str
    SITEID: str
    SITENAME: str
    CITY: str | None = None
    COUNTRY: str | None = None
    ACTDAT: str | None = None
    TARGETN: int | str | None = None
    STATUS: str | None = None


class Mapping(_Strict):
    source: Source
    export: dict[str, ColumnSpec]
    subjects: Subjects = Subjects()
    sites: list[Site]
    events: dict[str, str] = {}
    forms: dict[str, FormMap]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, dict) and isinstance(data.get("export"), dict):
            data = {**data, "export": {k: {"value": v} if isinstance(v, str) else v for k, v in data["export"].items()}}
        return data


SITE_COLUMNS = ["SITEID", "SITENAME", "CITY", "COUNTRY", "ACTDAT", "TARGETN", "STATUS"]
AUTOMATIC = {"SUBJID", "SITEID"}  # filled from [subjects] wherever a form has them and does not map them


def load(path: str | Path, spec: CrfSpec | None = None) -> Mapping:
    """The mapping file, checked on its own and against the spec (not yet against a source)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(N_("{path}: mapping file not found"), path=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(N_("{path}: not valid TOML: {reason}"), path=str(path), reason=exc) from None
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "str", "literal["))]
            where = ".".join(loc) or "(top level)"
            # pydantic's own words are English; ours (the validators above) are in the reader's language
            why = err["msg"].replace("Value error, ", "")
            if err["type"] == "extra_forbidden":
                why = msg(N_("unknown key {key}"), key=repr(loc[-1]))
                where = ".".join(loc[:-1]) or "(top level)"
            lines.append(msg("[{where}]: {why}", where=where, why=why))
        raise MappingError(
            N_("{path}: invalid mapping\n{problems}"), path=str(path), problems=indented(dict.fromkeys(lines))
        ) from None
    problems = against_spec(mapping, spec or load_crf_spec())
    if problems:
        raise MappingError(
            N_("{path}: the mapping does not fit the CRF spec\n{problems}"), path=str(path), problems=indented(problems)
        )
    return mapping


def against_spec(mapping: Mapping, spec: CrfSpec) -> list[str]:
    """Every way the mapping misses the spec: unknown forms or columns, required columns not
    mapped, forms that must have rows left out, the arm taken from anywhere but a closed column.
    Each is its English (problems.English), shown in the reader's language."""
    out = []

    def add(template: str, **params) -> None:
        out.append(English(msg(template, **params)))

    for name in ("EXPORTDTC", "CUTOFFDAT", "SOURCE"):
        if name not in mapping.export:
            add(N_("[export] {name}: required by the spec and not mapped"), name=name)
    for name in mapping.export:
        if name not in ("EXPORTDTC", "CUTOFFDAT", "SOURCE"):
            add(
                N_("[export] {name}: not a column of EXPORT (EXPORTDTC, CUTOFFDAT, SOURCE; SPECVER is written)"),
                name=name,
            )
    for key, c in mapping.export.items():
        if c.field or c.year or c.checkbox or c.event or c.instance or c.record or c.audit:
            add(N_("[export] {name}: the export's own record takes a value or metadata only"), name=key)
    sites = [s.SITEID for s in mapping.sites]
    for sid in {s for s in sites if sites.count(s) > 1}:
        add(N_("[[sites]] SITEID {site}: listed twice"), site=sid)
    sources = [s.source for s in mapping.sites]
    for src in {s for s in sources if sources.count(s) > 1}:
        add(N_("[[sites]] source {source}: listed twice"), source=repr(src))
    for form, fm in mapping.forms.items():
        f = spec.forms.get(form)
        if f is None or form in ("EXPORT", "SITES"):
            if f is None:
                add(N_("[forms.{form}]: not a form of the CRF spec ({forms})"), form=form, forms=", ".join(spec.forms))
            elif form == "EXPORT":
                add(N_("[forms.{form}]: is written from [export]"), form=form)
            else:
                add(N_("[forms.{form}]: is written from [[sites]]"), form=form)
            continue
        names = f.column_names + list(spec.optional_everywhere)
        targets = dict(fm.columns)
        if fm.unpivot:
            for col in (fm.unpivot.key, fm.unpivot.value):
                if col is not None and col in targets:
                    add(
                        N_("[forms.{form}.unpivot] {column}: also mapped in [forms.{form}.columns]"),
                        form=form,
                        column=col,
                    )
        for col, c in targets.items():
            where = {"form": form, "column": col}
            if col not in names:
                add(
                    N_("[forms.{form}.columns] {column}: not a column of {form} ({names})"),
                    **where,
                    names=", ".join(names),
                )
                continue
            if col in AUTOMATIC and f.subject_level:
                add(
                    N_("[forms.{form}.columns] {column}: filled from [subjects] on every subject form; leave it out"),
                    **where,
                )
            if c.metadata:
                add(N_("[forms.{form}.columns] {column}: metadata belongs to [export]"), **where)
            if c.event == "arm" and spec.visibility(form, col) != "closed":
                add(
                    N_(
                        "[forms.{form}.columns] {column}: the REDCap arm may only feed a closed column (the randomized "
                        "arm); {form}.{column} is read by blinded roles"
                    ),
                    **where,
                )
        if fm.unpivot:
            for col in (fm.unpivot.key, fm.unpivot.value):
                if col is not None and col not in names:
                    add(N_("[forms.{form}.unpivot] {column}: not a column of {form}"), form=form, column=col)
        mapped = set(targets) | ({fm.unpivot.key, fm.unpivot.value} if fm.unpivot else set())
        mapped |= AUTOMATIC & set(f.column_names)  # from [subjects] unless mapped (SCREENING may)
        for c in f.columns:
            if c.required and c.name not in mapped:
                add(
                    N_("[forms.{form}.columns] {column}: required by the spec and not mapped"), form=form, column=c.name
                )
    for form, f in spec.forms.items():
        if form in ("EXPORT", "SITES") or form in mapping.forms:
            continue
        if f.must_have_rows or f.rows_for_every_subject:
            add(N_("[forms.{form}]: the spec wants rows for this form; map it"), form=form)
    return out
