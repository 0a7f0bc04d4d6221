"""Who is looking: a role from the monitoring plan and, for a site investigator, their site.

Every figure function takes a Viewer, so the rule "a site sees only its own rows" and "only a
closed session opens the closed warehouse" is applied in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

from dashboard.config import Role, TrialConfig, load_trial


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
            raise AccessDenied(f"unknown role {self.role!r}; roles: {', '.join(cfg.roles)}") from exc

    def validated(self, cfg: TrialConfig | None = None) -> "Viewer":
        """The viewer, checked: a site role needs its site, other roles get none."""
        policy = self.policy(cfg)
        if policy.site_restricted and not self.site:
            raise AccessDenied(f"role {self.role} needs a site (--site SITEID)")
        if not policy.site_restricted and self.site:
            return Viewer(self.role, None, self.user)   # only site users are restricted
        return self

    @property
    def closed(self) -> bool:
        return self.policy().closed

    @property
    def site_filter(self) -> str | None:
        return self.site if self.policy().site_restricted else None

    def require_closed(self) -> None:
        if not self.closed:
            raise AccessDenied(f"role {self.role} may not open the closed session")

    def require_trial_data(self) -> None:
        if not self.policy().trial_data:
            raise AccessDenied(f"role {self.role} sees no trial data")
