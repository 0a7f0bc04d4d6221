"""The trial's configuration (trial.toml) and the CRF export contract (crf_spec.toml), validated.

Every trial fact the code uses comes from here; pydantic checks the files when they are loaded
and a mistake is reported with the key that holds it.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dashboard.i18n import _

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRIAL_CONFIG = PROJECT_ROOT / "trial.toml"
CRF_SPEC = Path(__file__).resolve().parent / "crf_spec.toml"
ALLOW_LIST = Path(__file__).resolve().parent / "blinded_tables.toml"
QUERIES = PROJECT_ROOT / "queries"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- trial.toml
class Trial(_Strict):
    name: str
    registry_id: str
    title: str
    title_zh: str | None = None  # every fact a person reads has its Chinese beside it (dashboard/i18n.fact)
    sponsor: str
    sponsor_zh: str | None = None
    target_enrollment: int = Field(gt=0)
    start: dt.date
    primary_completion: dt.date
    spec_version: str
    days_per_month: float = Field(gt=0)
    p16_staged_sites: list[str]
    p16_positive: str


class Arm(_Strict):
    code: str
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    label_zh: str | None = None
    experimental: bool
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Stratum(_Strict):
    field: str
    label: str
    label_zh: str | None = None
    values: list[str] = Field(min_length=2)


class Randomization(_Strict):
    ratio: list[int]
    block_size: int = Field(gt=0)
    blocks_within: Literal["stratum", "site_stratum"] = "stratum"
    assumed: bool = False
    strata: list[Stratum]


class Blinding(_Strict):
    arm_field: str
    arm_revealing_fields: list[str]
    withheld_fields: list[str] = []
    protocol_surgery_values: list[str]
    min_cell_size: int = Field(ge=1)
    # words that, inside a free-text cell, may name the arm; such cells are withheld from the
    # blinded warehouse (case-insensitive, as substrings)
    free_text_terms: list[str] = []


class Criterion(_Strict):
    code: str = Field(pattern=r"^[IE][0-9]{2}$")
    text: str
    text_zh: str | None = None
    check: str | None = None
    params: dict = {}

    @property
    def kind(self) -> str:
        return "inclusion" if self.code.startswith("I") else "exclusion"


class Schedule(_Strict):
    assumed: bool = False
    response_imaging_max_days_after_last_cycle: int
    randomization_to_surgery_max_days: int
    surgery_to_adjuvant_rt_max_days: int
    adjuvant_rt_types: list[str]
    followup_months: list[int]
    followup_window_days: int
    followup_window_days_late: int
    followup_window_switch_month: int
    qol_visits: list[str]
    never_operated_after_days: int


class Design(_Strict):
    assumed: bool = False
    primary_endpoint: str
    landmark_months: int
    expected_survival: float = Field(gt=0, lt=1)
    noninferiority_margin: float = Field(gt=0, lt=1)
    hazard_ratio_margin: float = Field(gt=1)
    alpha_one_sided: float = Field(gt=0, lt=0.5)
    power: float = Field(gt=0, lt=1)
    per_arm: int
    loss_to_follow_up: float = Field(ge=0, lt=1)
    expected_deaths_final: int = Field(gt=0)
    interim_fractions: list[float]
    spending: Literal["lan-demets-obrien-fleming", "lan-demets-pocock"]
    accrual_months: float = Field(gt=0)
    landmarks_months: list[int]
    per_protocol_excludes: list[Literal["eligibility", "major_deviation", "not_operated"]]
    # which non-inferiority criterion decides (the other is supportive), and the conditional power
    # under the design below which the DSMB is told the trial looks futile (a non-binding guide)
    primary_criterion: Literal["difference", "hazard_ratio"] = "difference"
    futility_conditional_power: float = Field(default=0.10, gt=0, lt=1)


class SafetySignal(_Strict):
    name: str
    label: str
    label_zh: str | None = None
    source: str  # a column of queries/views/safety_subjects.sql
    by_site_within_arm: bool = False
    population: Literal["randomized", "operated", "with_pathology"]
    window_from: Literal["surgery", "randomization"] | None = None
    window_days: int | None = None
    threshold: float | None = None
    flag_any: bool = False
    assumed: bool = False


class Safety(_Strict):
    clavien_serious: list[str]
    clavien_order: list[str]
    early_death_days: list[int]
    complication_window_days: int
    funnel_confidence: list[float]


class Role(_Strict):
    label: str
    label_zh: str | None = None
    closed: bool
    subject_listings: bool
    outcome_listings: bool
    site_restricted: bool
    trial_data: bool


class Access(_Strict):
    max_failed_logins: int = Field(ge=1)
    lockout_minutes: float = Field(gt=0)
    idle_timeout_minutes: float = Field(gt=0)
    oidc_provider: str = ""
    oidc_roles_claim: str = "groups"
    oidc_site_claim: str = "site"
    oidc_locale_claim: str = "locale"  # OIDC's standard claim (BCP 47, "zh-CN"): the user's language
    oidc_role_map: dict[str, str] = {}


class Cuts(_Strict):
    """Data cuts over time (issue 16): which published builds the warehouse keeps, who pins a cut
    for which committee, and which committee's last pinned cut each role compares with."""

    keep_recent: int = Field(default=14, ge=1)  # the newest cuts kept, beside every pinned cut and every look
    committees: list[str] = ["dsmb", "steering"]  # a cut pinned for one of these is kept forever
    pin_roles: dict[str, list[str]] = {"dsmb": ["dsmb"], "data_manager": ["dsmb", "steering"]}
    committee_of_role: dict[str, str] = {}  # the committee whose last meeting a role's "since" starts at


class Refresh(_Strict):
    """The nightly refresh (`python -m dashboard refresh`, docs/deployment.md): where the export comes
    from. Deployment settings, kept beside the access settings."""

    source: Literal["none", "folder", "redcap"] = "none"
    folder: str = ""  # the drop folder a site's export lands in (source = "folder")
    done_folder: str = ""  # where a built package is moved (empty: left in place)
    pattern: str = "*"  # which entries of the drop folder are packages
    redcap_url: str = ""
    token_file: str = ""
    mapping: str = ""  # the EDC mapping file (docs/edc.md)
    raw_dir: str = ""  # where the REDCap pull writes the export it fetched
    warehouse: str = ""  # empty: NEO_MARGIN_WAREHOUSE or data/warehouse
    settle_seconds: float = Field(default=120, ge=0)  # a package changed this recently may still be copying
    keep: int = Field(default=3, ge=1)  # REDCap pulls and converted packages kept


class Labels(_Strict):
    """What a person reads instead of a code (dashboard/outputs/labels.py)."""

    columns: dict[str, str] = {}
    codes: dict[str, str] = {}
    columns_zh: dict[str, str] = {}  # the same in Chinese (dashboard/i18n.fact_map)
    codes_zh: dict[str, str] = {}


class TrialConfig(_Strict):
    trial: Trial
    arms: list[Arm] = Field(min_length=2)
    randomization: Randomization
    blinding: Blinding
    eligibility: list[Criterion]
    schedule: Schedule
    design: Design
    safety_signals: list[SafetySignal]
    safety: Safety
    roles: dict[str, Role]
    access: Access
    cuts: Cuts = Cuts()
    refresh: Refresh = Refresh()
    labels: Labels = Labels()

    @model_validator(mode="after")
    def _consistent(self) -> TrialConfig:
        if len(self.randomization.ratio) != len(self.arms):
            raise ValueError(_("randomization.ratio needs one number per arm"))
        codes = [c.code for c in self.eligibility]
        if len(set(codes)) != len(codes):
            raise ValueError(_("eligibility: a criterion code appears twice"))
        for c in self.eligibility:
            if c.check and not (QUERIES / "eligibility" / f"{c.check}.sql").exists():
                raise ValueError(
                    _("eligibility {code}: no query queries/eligibility/{check}.sql").format(code=c.code, check=c.check)
                )
        colors = [a.color.lower() for a in self.arms]
        if len(set(colors)) != len(colors):
            raise ValueError(_("arms: two arms share a colour"))
        if not any(r.closed for r in self.roles.values()):
            raise ValueError(_("roles: no role may open the closed session"))
        unknown = set(self.access.oidc_role_map.values()) - set(self.roles)
        if unknown:
            raise ValueError(_("access.oidc_role_map names unknown roles: {roles}").format(roles=sorted(unknown)))
        named = set(self.cuts.pin_roles) | set(self.cuts.committee_of_role)
        if named - set(self.roles):
            raise ValueError(_("cuts: unknown roles {roles}").format(roles=sorted(named - set(self.roles))))
        committees = {c for cs in self.cuts.pin_roles.values() for c in cs} | set(self.cuts.committee_of_role.values())
        if committees - set(self.cuts.committees):
            raise ValueError(
                _("cuts: unknown committees {names}").format(names=sorted(committees - set(self.cuts.committees)))
            )
        if any(not 0 < f < 1 for f in self.design.interim_fractions):
            raise ValueError(_("design.interim_fractions must lie between 0 and 1"))
        return self

    # Convenience views used across the code.
    @property
    def arm_codes(self) -> list[str]:
        return [a.code for a in self.arms]

    @property
    def blinded_roles(self) -> list[str]:
        return [name for name, r in self.roles.items() if not r.closed]

    def months_to_days(self, months: float) -> int:
        return round(months * self.trial.days_per_month)


# ---------------------------------------------------------------- crf_spec.toml
ColumnType = Literal["text", "date", "partial_date", "partial_date_y", "datetime", "integer", "number", "yn"]


# Who may read a column (docs/blinding.md): "blinded" at subject level in the blinded file;
# "pooled" closed at subject level, blinded pages get the build's pooled aggregates only;
# "closed" in the closed file only. Unclassified is closed.
Visibility = Literal["blinded", "pooled", "closed"]


class Column(_Strict):
    name: str
    type: ColumnType
    visibility: Visibility = "closed"
    why: str | None = None  # the reason, required for every column that is not "blinded"
    required: bool = False
    codes: list[str] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None


class Form(_Strict):
    columns: list[Column]
    label: str | None = None  # the form's name as people read it ("Adverse events"), and in Chinese
    label_zh: str | None = None
    why: str | None = None  # why the form's "blinded" columns may be read at subject level
    key: list[str] = []
    subject_level: bool = False
    must_have_rows: bool = False
    rows_for_every_subject: bool = False
    exactly_one_row: bool = False
    main_date: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class CrfSpec(_Strict):
    version: str
    optional_everywhere: list[str]
    forms: dict[str, Form]

    def unjustified(self) -> list[str]:
        """Columns kept from blinded roles without their reason (`why`): tests/test_config.py
        holds crf_spec.toml to having none."""
        return [
            f"{f}.{c.name}"
            for f, form in self.forms.items()
            for c in form.columns
            if c.visibility != "blinded" and not c.why
        ]

    def visibility(self, form: str, column: str) -> str:
        """A column's visibility; a form or column not in the spec is closed."""
        f = self.forms.get(form.upper())
        for c in f.columns if f else []:
            if c.name.upper() == column.upper():
                return c.visibility
        return "closed"


# ------------------------------------------------------- blinded_tables.toml (the allow-list)
class BlindedTable(_Strict):
    why: str
    # a crf_<form> table: its columns are the form's "blinded" columns (crf_spec.toml) with their
    # build companions (<date>_imputed) and ENTDTC
    form: str | None = None
    # a derived or metadata table: the columns blinded roles may read
    columns: list[str] = []
    # its other columns, closed, each with the reason
    closed: dict[str, str] = {}
    # the blinded file's rows come from this table of the build instead (a blinded variant)
    source: str | None = None


class AllowList(_Strict):
    tables: dict[str, BlindedTable]


def _load(path: Path, model: type[BaseModel]):
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(_("{path}: file not found").format(path=path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: not valid TOML: {reason}").format(path=path, reason=exc)) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            # the key, and pydantic's words (English) or ours (the validators above, translated)
            where = ".".join(str(p) for p in err["loc"]) or _("(top level)")
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError(
            _("{path}: invalid configuration\n{problems}").format(path=path, problems="\n".join(lines))
        ) from exc


@lru_cache(maxsize=4)
def load_trial(path: str | os.PathLike | None = None) -> TrialConfig:
    """The trial configuration; NEO_MARGIN_CONFIG overrides the default trial.toml."""
    chosen = Path(path or os.environ.get("NEO_MARGIN_CONFIG") or TRIAL_CONFIG)
    return _load(chosen, TrialConfig)


@lru_cache(maxsize=1)
def load_crf_spec() -> CrfSpec:
    return _load(CRF_SPEC, CrfSpec)


@lru_cache(maxsize=1)
def load_allow_list() -> AllowList:
    return _load(ALLOW_LIST, AllowList)
