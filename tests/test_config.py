"""trial.toml and crf_spec.toml load, are validated, and report a mistake by its key."""

from __future__ import annotations

import re
import tomllib

import pytest

from dashboard.config import TRIAL_CONFIG, ConfigError, load_crf_spec, load_trial


def test_the_trial_configuration_loads():
    cfg = load_trial()
    assert cfg.trial.registry_id == "NCT07320690"
    assert cfg.trial.target_enrollment == 356
    assert [a.code for a in cfg.arms] == ["DE-ESCALATION", "STANDARD"]
    assert [c.code for c in cfg.eligibility] == [f"I{i:02d}" for i in range(1, 13)] + [f"E{i:02d}" for i in range(1, 8)]
    assert {r for r, p in cfg.roles.items() if p.closed} == {"dsmb"}


def test_assumed_values_carry_the_mark():
    """The monitoring plan marks the design, schedule and safety thresholds as assumed."""
    cfg = load_trial()
    assert cfg.design.assumed and cfg.schedule.assumed and cfg.randomization.assumed
    assert all(s.assumed for s in cfg.safety_signals)
    text = TRIAL_CONFIG.read_text(encoding="utf-8")
    for key in ("noninferiority_margin", "expected_deaths_final", "randomization_to_surgery_max_days"):
        line = next(ln for ln in text.splitlines() if ln.startswith(key))
        assert "assumed" in line, line


def _write(tmp_path, mutate) -> str:
    raw = tomllib.loads(TRIAL_CONFIG.read_text(encoding="utf-8"))
    mutate(raw)
    lines = []

    def dump(prefix, table):  # a tiny TOML writer is enough for this file's shapes
        import json

        scalars = {
            k: v
            for k, v in table.items()
            if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))
        }
        if prefix:
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            key = k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)  # "SCREEN FAILURE" = ...
            lines.append(f"{key} = {json.dumps(v, default=str)}")
        for k, v in table.items():
            if isinstance(v, dict) and k != "params":
                dump(f"{prefix}.{k}" if prefix else k, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{prefix + '.' if prefix else ''}{k}]]")
                    for kk, vv in item.items():
                        if isinstance(vv, dict):
                            value = "{" + ", ".join(f"{a} = {json.dumps(b)}" for a, b in vv.items()) + "}"
                        else:
                            value = json.dumps(vv, default=str)
                        lines.append(f"{kk} = {value}")

    dump("", raw)
    path = tmp_path / "trial.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def test_a_valid_rewrite_loads(tmp_path):
    cfg = load_trial(_write(tmp_path, lambda raw: None))
    assert cfg.design.noninferiority_margin == 0.12


@pytest.mark.parametrize(
    "mutate,key",
    [
        (lambda r: r["trial"].update(target_enrollment="many"), "trial.target_enrollment"),
        (lambda r: r["design"].update(alpha_one_sided=0.7), "design.alpha_one_sided"),
        (lambda r: r["design"].pop("hazard_ratio_margin"), "design.hazard_ratio_margin"),
        (lambda r: r["eligibility"][0].update(check="no_such_check"), "no_such_check"),
        (lambda r: r["randomization"].update(ratio=[1, 1, 1]), "ratio"),
        (lambda r: r["trial"].update(surprise=1), "trial.surprise"),
    ],
)
def test_a_mistake_is_reported_by_its_key(tmp_path, mutate, key):
    with pytest.raises(ConfigError) as err:
        load_trial(_write(tmp_path, mutate))
    assert key in str(err.value)


def test_not_toml_is_a_clear_error(tmp_path):
    bad = tmp_path / "trial.toml"
    bad.write_text("[trial\nname = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_trial(str(bad))


def test_the_crf_spec_has_every_form_of_the_export_spec():
    spec = load_crf_spec()
    assert set(spec.forms) == {
        "EXPORT",
        "SITES",
        "SCREENING",
        "DM",
        "IE",
        "DX",
        "BL",
        "EX",
        "RS",
        "RAND",
        "PR",
        "PATH",
        "ADJ",
        "AE",
        "FU",
        "RECUR",
        "DD",
        "DS",
        "DV",
        "QS",
    }
    subject_level = [name for name, form in spec.forms.items() if form.subject_level]
    assert set(subject_level) == set(spec.forms) - {"EXPORT", "SITES", "SCREENING"}, subject_level
    for name in subject_level:
        assert spec.forms[name].column_names[:2] == ["SUBJID", "SITEID"], name


def test_every_column_kept_from_blinded_roles_says_why():
    """crf_spec.toml: each column whose visibility is not "blinded" carries its reason, the one
    docs/blinding.md gives."""
    from dashboard.config import load_crf_spec

    assert load_crf_spec().unjustified() == []
