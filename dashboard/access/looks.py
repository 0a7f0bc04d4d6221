"""The DSMB's looks, on the record: a look is an event with a date, a data cut and an information
fraction, written to the audit log ("this is look 2") by a DSMB member, so that the boundaries of
later looks come from the alpha the looks actually held spent (dashboard/stats/groupseq.py
monitoring_boundaries). The log is the record: keyed, chained and anchored (audit.py), so a look
cannot be dropped or its fraction changed afterwards without verification failing.
"""

from __future__ import annotations

from pathlib import Path

from dashboard.access import audit
from dashboard.i18n import _

ACTION = "dsmb look held"


class LookError(Exception):
    """A look that cannot be recorded as asked (out of order, a fraction not above the last)."""


def held(path: Path | None = None) -> list[dict]:
    """The looks held so far, in order: look number, information fraction, deaths, whether it was
    the final analysis, the data cut, who recorded it and when."""
    out = []
    for e in audit.read(path, lenient=True):
        if e.get("action") != ACTION or not isinstance(e.get("detail"), dict):
            continue
        d = e["detail"]
        out.append(
            {
                "look": int(d["look"]),
                "fraction": float(d["fraction"]),
                "events": int(d["events"]),
                "final": bool(d.get("final", False)),
                "data_cut": e.get("data_cut"),
                "recorded_by": e.get("user"),
                "time": e.get("time"),
                "seq": e.get("seq"),
            }
        )
    return sorted(out, key=lambda x: x["look"])


def record(
    *,
    fraction: float,
    events: int,
    data_cut: dict,
    user: str | None,
    role: str,
    final: bool = False,
    path: Path | None = None,
) -> dict:
    """Record the next look (number = looks held + 1). Refused when the role is not the DSMB's,
    the fraction is not above the last look's, the same data cut was already a look, or a final
    look was held already."""
    if role != "dsmb":
        raise LookError(_("only the DSMB records a look (role {role})").format(role=role))
    before = held(path)
    if before and before[-1]["final"]:
        raise LookError(_("the final analysis was held already: no look comes after it"))
    if any((b["data_cut"] or {}).get("build_id") == data_cut.get("build_id") for b in before):
        raise LookError(_("the data cut {build} was a look already").format(build=data_cut.get("build_id")))
    if before and float(fraction) <= before[-1]["fraction"]:
        raise LookError(
            _(
                "look {n} must have more information than look {look} (fraction {fraction:.3f} "
                "is not above {fraction2:.3f})"
            ).format(n=len(before) + 1, look=before[-1]["look"], fraction=fraction, fraction2=before[-1]["fraction"])
        )
    detail = {"look": len(before) + 1, "fraction": float(fraction), "events": int(events), "final": bool(final)}
    return audit.append(ACTION, user=user, role=role, detail=detail, data_cut=data_cut, path=path)
