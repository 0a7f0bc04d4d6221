"""Who is looking: a role from the monitoring plan and, for a site investigator, their site.

Every figure function takes a Viewer, so the rule "a site sees only its own rows" and "only a
closed session opens the closed warehouse" is applied in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.config import Role, TrialConfig, load_trial
from dashboard.i18n import N_, _


class AccessDenied(Exception):
    """The role may not see this."""


@dataclass(frozen=True)
class Viewer:
    role: str
    site: str | None = None
    user: str | None = None

    def policy(self, cfg: TrialConfig | None = None) -> Role:
        cfg = cfg or load_trial()
        try:
            return cfg.roles[self.role]
        except KeyError as exc:
            raise AccessDenied(
                _("unknown role {role}; roles: {roles}").format(role=repr(self.role), roles=", ".join(cfg.roles))
            ) from exc

    def validated(self, cfg: TrialConfig | None = None) -> Viewer:
        """The viewer, checked: a site role needs its site, other roles get none."""
        policy = self.policy(cfg)
        if policy.site_restricted and not self.site:
            raise AccessDenied(_("role {role} needs a site (--site SITEID)").format(role=self.role))
        if not policy.site_restricted and self.site:
            return Viewer(self.role, None, self.user)  # only site users are restricted
        return self

    @property
    def closed(self) -> bool:
        return self.policy().closed

    @property
    def site_filter(self) -> str | None:
        return self.site if self.policy().site_restricted else None

    def require_closed(self) -> None:
        if not self.closed:
            raise AccessDenied(_("role {role} may not open the closed session").format(role=self.role))

    def require_trial_data(self) -> None:
        if not self.policy().trial_data:
            raise AccessDenied(_("role {role} sees no trial data").format(role=self.role))


@dataclass(frozen=True)
class PageSpec:
    key: str  # the URL path
    title: str
    file: str  # under pages/
    icon: str
    closed: bool = False  # closed-session pages: only roles with `closed`
    trial_data: bool = True  # pages of trial data: only roles with `trial_data`
    only_roles: tuple[str, ...] = ()  # pages for named roles only (administration)


# The pages, in navigation order. Which role sees which follows from its policy in trial.toml.
PAGES: list[PageSpec] = [
    # Titles are marked for the catalogue here and translated where the navigation shows them (app/main.py).
    PageSpec("accrual", N_("Accrual and sites"), "accrual.py", ":material/groups:"),
    PageSpec("balance", N_("Arm balance"), "balance.py", ":material/balance:"),
    PageSpec("deviations", N_("Protocol deviations"), "deviations.py", ":material/rule:"),
    PageSpec("survival", N_("Survival (pooled)"), "survival.py", ":material/monitoring:"),
    PageSpec("safety", N_("Safety signals (pooled)"), "safety.py", ":material/health_and_safety:"),
    PageSpec("data_quality", N_("Data quality"), "data_quality.py", ":material/fact_check:"),
    # across data cuts (issue 16): a blinded role's difference comes from blinded files only
    PageSpec("changes", N_("Since the last meeting"), "changes.py", ":material/difference:"),
    PageSpec("trends", N_("Trends across cuts"), "trends.py", ":material/timeline:"),
    PageSpec("closed_survival", N_("Survival by arm"), "closed_survival.py", ":material/lock:", closed=True),
    PageSpec("closed_interim", N_("Interim monitoring"), "closed_interim.py", ":material/lock:", closed=True),
    PageSpec("closed_safety", N_("Safety by arm"), "closed_safety.py", ":material/lock:", closed=True),
    PageSpec("closed_surgery", N_("Surgical quality by arm"), "closed_surgery.py", ":material/lock:", closed=True),
    PageSpec("reports", N_("Reports"), "reports.py", ":material/description:"),
    PageSpec(
        "users", N_("Users"), "admin_users.py", ":material/manage_accounts:", trial_data=False, only_roles=("admin",)
    ),
    PageSpec(
        "audit", N_("Audit log"), "admin_audit.py", ":material/receipt_long:", trial_data=False, only_roles=("admin",)
    ),
]


def pages_for(viewer: Viewer, cfg: TrialConfig | None = None) -> list[PageSpec]:
    """The pages a role may open; every other page is refused, typed URL or not."""
    policy = viewer.policy(cfg)
    return [
        p
        for p in PAGES
        if (not p.closed or policy.closed)
        and (not p.trial_data or policy.trial_data)
        and (not p.only_roles or viewer.role in p.only_roles)
    ]


def may_open(viewer: Viewer, page_key: str, cfg: TrialConfig | None = None) -> bool:
    return any(p.key == page_key for p in pages_for(viewer, cfg))
