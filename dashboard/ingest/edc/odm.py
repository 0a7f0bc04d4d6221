"""A CDISC ODM 1.3 export as DuckDB tables of source rows, read streaming.

The file is fed in 1 MB chunks to expat through defusedxml's parser (no DTD, no entities, no
external references: a billion-laughs file is refused), so memory holds one form's items at a
time, not the document. What it reads (ODM 1.3.2, section 3):

    ODM (CreationDateTime, SourceSystem, SourceSystemVersion)
      Study > MetaDataVersion > FormDef > ItemGroupRef; ItemGroupDef > ItemRef; ItemDef
        (CodeListRef); CodeList > CodeListItem (CodedValue) > Decode > TranslatedText
      AdminData > Location (OID, Name)
      ClinicalData > SubjectData (SubjectKey) > SiteRef (LocationOID)
        > StudyEventData (StudyEventOID, StudyEventRepeatKey)
          > FormData (FormOID, FormRepeatKey) > ItemGroupData (ItemGroupOID, ItemGroupRepeatKey)
            > ItemData (ItemOID, Value | IsNull="Yes"), ItemDataString etc. (ODM 1.3 typed), Value
      AuditRecord > DateTimeStamp under any of them; TransactionType="Remove": left out.
REDCap's quirk is accepted: FormData directly under SubjectData (classic projects), its data
access group as the SubjectData attribute redcap:DataAccessGroup.

A source row is one FormData with its item groups merged; when a FormData holds item groups with
more than one repeat key (a log form), each repeat key is a row. Its instance is then the item
group's repeat key, otherwise the FormRepeatKey, else the StudyEventRepeatKey.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from dashboard.i18n import N_
from dashboard.ingest.edc.redcap import SourceTable, fingerprint
from dashboard.ingest.problems import English, PackageRefused, Problem, msg

CHUNK = 1 << 20
FLUSH_ITEMS = 500_000
_TYPED = {
    "ItemDataString",
    "ItemDataInteger",
    "ItemDataFloat",
    "ItemDataDate",
    "ItemDataDatetime",
    "ItemDataTime",
    "ItemDataBoolean",
    "ItemDataDouble",
    "ItemDataPartialDate",
    "ItemDataPartialDatetime",
    "ItemDataAny",
}


class _Reader:
    def __init__(self, con: duckdb.DuckDBPyConnection, name: str):
        self.con, self.name = con, name
        self.odm: dict[str, str] = {}
        self.field_form: dict[str, str] = {}
        self.forms: set[str] = set()
        self.fields: dict[str, None] = {}
        self.item_codelist: dict[str, str] = {}
        self.codelists: dict[str, dict[str, str]] = {}
        self.group_items: dict[str, list[str]] = {}
        self.form_groups: dict[str, list[str]] = {}
        self.locations: dict[str, str] = {}
        self.removed = 0
        # clinical data state
        self.subject = self.site = self.dag = self.event = self.event_rk = ""
        self.form: str | None = None
        self.form_rk = ""
        self.form_line = 0
        self.groups: dict[str, list] = {}  # item group repeat key -> [line, {item: value}, audit]
        self.group_key: str | None = None
        self.item: str | None = None
        self.text: list[str] | None = None
        self.skip = 0  # depth inside a removed element
        self.names: dict[str, str] = {}  # tag with its namespace -> local name
        self.implicit_form = False
        # metadata state
        self.cur_def = self.cur_codelist = self.cur_code = None
        self.in_decode = False
        self.decode_text: list[str] | None = None
        self.decode_lang = None
        # output buffers
        self.row_id = 0
        self.rows = {
            k: []
            for k in ("row_id", "__line", "__record", "__site", "__event", "__instrument", "__instance", "__audit")
        }
        self.items = {"row_id": [], "item": [], "value": []}
        self.item_rows = self.items["row_id"].append
        self.item_oids = self.items["item"].append
        self.item_values = self.items["value"].append
        self.item_tag = None
        self.audit_target: list | None = None
        self.audit_text: list[str] | None = None
        con.execute(
            "CREATE TABLE rows (row_id BIGINT, __line BIGINT, __record VARCHAR, __site VARCHAR, __event VARCHAR, "
            "__instrument VARCHAR, __instance VARCHAR, __audit VARCHAR)"
        )
        con.execute("CREATE TABLE items (row_id BIGINT, item VARCHAR, value VARCHAR)")

    # ------------------------------------------------------------------ expat handlers
    def _local(self, tag: str) -> str:
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = tag.rpartition("}")[2]
        return name

    def start(self, tag, attrs):
        if self.skip:
            self.skip += 1
            return
        name = self.names.get(tag) or self._local(tag)
        if name == "ItemData":  # the hot path: most elements of an export
            self.item_tag = tag
            if "TransactionType" in attrs and attrs["TransactionType"] == "Remove":
                self.skip, self.removed = 1, self.removed + 1
                return
            if self.form is None:
                return
            oid = attrs.get("ItemOID", "")
            value = attrs.get("Value")
            if value is not None:
                group = self.groups.get(self.group_key)  # _put, inlined: the hot path
                if group is None:
                    self._put(oid, value)
                    return
                self.item_rows(group[0])
                self.item_oids(oid)
                self.item_values(value)
                if oid not in self.field_form:
                    self.field_form[oid] = self.form
                    self.fields.setdefault(oid)
            elif attrs.get("IsNull") == "Yes":
                self._put(oid, "")
            else:
                self.item, self.text = oid, []
            return
        if attrs.get("TransactionType") == "Remove":
            self.skip, self.removed = 1, self.removed + 1
            return
        if name in _TYPED:
            if self.form is not None:
                self.item, self.text = attrs.get("ItemOID", ""), []
        elif name == "Value" and self.item is not None:
            self.text = []
        elif name == "ItemGroupData":
            if self.form is None:
                self._begin_form(attrs.get("ItemGroupOID", ""), "")
                self.implicit_form = True
            self.group_key = attrs.get("ItemGroupRepeatKey", "")
            self._group()
        elif name == "FormData":
            self._begin_form(attrs.get("FormOID", ""), attrs.get("FormRepeatKey", ""))
        elif name == "StudyEventData":
            self.event, self.event_rk = attrs.get("StudyEventOID", ""), attrs.get("StudyEventRepeatKey", "")
        elif name == "SubjectData":
            self.subject, self.site, self.event, self.event_rk = attrs.get("SubjectKey", ""), "", "", ""
            self.dag = next((v for k, v in attrs.items() if k.endswith("DataAccessGroup")), "")
        elif name == "SiteRef":
            self.site = attrs.get("LocationOID", "")
        elif name == "DateTimeStamp":
            self.audit_text = []
        elif name == "ODM":
            self.odm = dict(attrs)
        elif name == "FormDef":
            self.cur_def = attrs.get("OID", "")
            self.forms.add(self.cur_def)
            self.form_groups[self.cur_def] = []
        elif name == "ItemGroupDef":
            self.cur_def = attrs.get("OID", "")
            self.group_items[self.cur_def] = []
        elif name == "ItemGroupRef" and self.cur_def in self.form_groups:
            self.form_groups[self.cur_def].append(attrs.get("ItemGroupOID", ""))
        elif name == "ItemRef" and self.cur_def in self.group_items:
            self.group_items[self.cur_def].append(attrs.get("ItemOID", ""))
        elif name == "ItemDef":
            self.cur_def = attrs.get("OID", "")
            self.fields.setdefault(self.cur_def)
        elif name == "CodeListRef" and self.cur_def:
            self.item_codelist[self.cur_def] = attrs.get("CodeListOID", "")
        elif name == "CodeList":
            self.cur_codelist = attrs.get("OID", "")
            self.codelists[self.cur_codelist] = {}
        elif name in ("CodeListItem", "EnumeratedItem") and self.cur_codelist is not None:
            self.cur_code = attrs.get("CodedValue", "")
            if name == "EnumeratedItem":
                self.codelists[self.cur_codelist][self.cur_code] = self.cur_code
        elif name == "TranslatedText" and self.cur_code is not None:
            lang = next((v for k, v in attrs.items() if k.endswith("lang")), "")
            self.decode_text, self.decode_lang = [], lang
        elif name == "Location":
            self.locations[attrs.get("OID", "")] = attrs.get("Name", "")

    def data(self, text):
        if self.text is not None:
            self.text.append(text)
        elif self.audit_text is not None:
            self.audit_text.append(text)
        elif self.decode_text is not None:
            self.decode_text.append(text)

    def end(self, tag):
        if self.skip:
            self.skip -= 1
            return
        if self.text is None and tag == self.item_tag:  # an ItemData that held its Value attribute
            return
        name = self.names.get(tag) or self._local(tag)
        if name == "ItemData" or name in _TYPED:
            if self.text is not None and self.item is not None:
                self._put(self.item, "".join(self.text))
            self.item = self.text = None
        elif name == "Value":
            if self.item is not None and self.text is not None:
                self._put(self.item, "".join(self.text))
                self.item = None
            self.text = None
        elif name == "DateTimeStamp" and self.audit_text is not None:
            stamp = "".join(self.audit_text).strip()
            self.audit_text = None
            if self.form is not None:
                group = self.groups.get(self.group_key) if self.group_key is not None else None
                targets = [group] if group is not None else list(self.groups.values())
                if not targets:  # an audit record of the form before its item groups
                    self.group_key = ""
                    targets = [self._group()]
                    self.group_key = None
                for g in targets:
                    g[2] = max(g[2], stamp)
        elif name == "ItemGroupData":
            self.group_key = None
            if self.implicit_form:
                self._end_form()  # an item group with no FormData around it
        elif name == "FormData":
            self._end_form()
        elif name == "StudyEventData":
            self.event = self.event_rk = ""
        elif name in ("FormDef", "ItemGroupDef", "ItemDef"):
            self.cur_def = None
        elif name == "CodeList":
            self.cur_codelist = None
        elif name in ("CodeListItem", "EnumeratedItem"):
            self.cur_code = None
        elif name == "TranslatedText" and self.decode_text is not None:
            text = "".join(self.decode_text).strip()
            cl = self.codelists.get(self.cur_codelist, {})
            if self.cur_code not in cl or self.decode_lang in ("en", ""):
                cl[self.cur_code] = text
            self.decode_text = None

    # ------------------------------------------------------------------ rows
    def _begin_form(self, oid: str, rk: str) -> None:
        self.form, self.form_rk, self.form_line = oid, rk, self.parser.CurrentLineNumber
        self.groups = {}
        self.implicit_form = False
        if oid not in self.forms:
            self.forms.add(oid)

    def _group(self) -> list:
        """The row of the current item-group repeat key: [row id, line, audit]."""
        group = self.groups.get(self.group_key)
        if group is None:
            self.row_id += 1
            group = self.groups[self.group_key] = [self.row_id, self.parser.CurrentLineNumber, ""]
        return group

    def _put(self, item: str, value: str) -> None:
        if self.group_key is None:
            self.group_key = ""
        group = self.groups.get(self.group_key) or self._group()
        it = self.items
        it["row_id"].append(group[0])
        it["item"].append(item)
        it["value"].append(value)
        if item not in self.field_form:
            self.field_form[item] = self.form
            self.fields.setdefault(item)

    def _end_form(self) -> None:
        if self.form is None:
            return
        groups = list(self.groups.items())
        if not groups:  # a form with no items: a row all the same (a form marked done, say)
            self.row_id += 1
            groups = [("", [self.row_id, self.form_line, ""])]
        several = len(groups) > 1
        r = self.rows
        for key, (row_id, line, audit) in groups:
            r["row_id"].append(row_id)
            r["__line"].append(line)
            r["__record"].append(self.subject)
            r["__site"].append(self.site or self.dag)
            r["__event"].append(self.event)
            r["__instrument"].append(self.form)
            r["__instance"].append(key if several else (self.form_rk or self.event_rk or key))
            r["__audit"].append(audit)
        self.form, self.groups, self.group_key = None, {}, None
        if len(self.items["row_id"]) >= FLUSH_ITEMS:
            self.flush()

    def flush(self) -> None:
        for table, buf in (("rows", self.rows), ("items", self.items)):
            if buf["row_id"]:
                batch = pa.table(buf)
                self.con.register("__batch", batch)
                self.con.execute(f"INSERT INTO {table} SELECT * FROM __batch")
                self.con.unregister("__batch")
                for v in buf.values():
                    v.clear()


def load(con: duckdb.DuckDBPyConnection, folder: Path, file: str, metadata_file: str | None = None) -> SourceTable:
    """Tables `rows` (one per source row) and `items` (row_id, item, value), and the source's
    description (its items, forms, code lists and what the ODM element says of the export)."""
    path = folder / file
    if not path.is_file():
        raise PackageRefused([Problem("error", str(path), None, None, N_("the ODM export is not there"))])
    reader = _Reader(con, file)
    src = SourceTable("odm", file, [])
    for name in [metadata_file, file] if metadata_file else [file]:
        p = folder / name
        src.files[name] = fingerprint(p)
        _parse(reader, p, name)
    reader.flush()
    src.fields = list(reader.fields)
    src.forms = reader.forms
    for form, groups in reader.form_groups.items():
        for g in groups:
            for item in reader.group_items.get(g, []):
                src.field_form.setdefault(item, form)
    for k, v in reader.field_form.items():
        src.field_form.setdefault(k, v)
    for item, cl in reader.item_codelist.items():
        if cl in reader.codelists:
            src.choices[item] = reader.codelists[cl]
    odm = reader.odm
    system = " ".join(x for x in (odm.get("SourceSystem"), odm.get("SourceSystemVersion")) if x)
    src.metadata = {
        "export_time": odm.get("CreationDateTime", ""),
        "source": system or f"ODM export {file}",
    }
    if reader.removed:
        src.notes.append(English(msg(N_('{n} element(s) with TransactionType="Remove" left out'), n=reader.removed)))
    return src


def _parse(reader: _Reader, path: Path, name: str) -> None:
    parser = DefusedXMLParser(forbid_dtd=True)
    x = parser.parser
    reader.parser = x
    x.StartElementHandler = reader.start
    x.EndElementHandler = reader.end
    x.CharacterDataHandler = reader.data
    # ElementTree's own catch-alls are not needed (and cost more than the parse itself); the
    # defences defusedxml installed (DTD, entity declarations, external references) stay
    x.DefaultHandlerExpand = x.CommentHandler = x.ProcessingInstructionHandler = None
    x.buffer_text = True
    x.ordered_attributes = False  # ElementTree's parser asks for lists; the handlers take dicts
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                x.Parse(chunk, False)
            x.Parse(b"", True)
    except DefusedXmlException as exc:
        raise PackageRefused(
            [
                Problem(
                    "error",
                    name,
                    x.CurrentLineNumber,
                    None,
                    N_("refused by the hardened XML parser: {error}"),
                    params={"error": type(exc).__name__},
                )
            ]
        ) from None
    except Exception as exc:  # expat's ExpatError: not well-formed XML
        if type(exc).__name__ != "ExpatError":
            raise
        raise PackageRefused(
            [
                Problem(
                    "error",
                    name,
                    getattr(exc, "lineno", None),
                    None,
                    N_("not well-formed XML: {reason}"),
                    params={"reason": exc},
                )
            ]
        ) from None
