"""How well can a blinded analyst guess each subject's arm from the blinded file? (docs/blinding.md)

A measurement, not a defence: every subject-level column of every table of a warehouse file that
has a subjid is turned into per-subject features (numbers: mean and max; dates: days from the
subject's randomization; codes: counts of each value; rows per table), and a gradient-boosted
classifier (scikit-learn's HistGradientBoostingClassifier, 5-fold cross-validated) predicts the
arm, which is read from the closed file. The AUC is 0.5 when nothing predicts the arm, 1.0 when
the arm can be read off.

    python -m dashboard.devtools.inference WAREHOUSE_DIR   # prints the AUC of the blinded file and
                                                          # of the old deny-list file (closed minus
                                                          # the arm and the five named fields)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

# What the blinded file held before the allow-list: the closed file minus these (issue 11).
DENY_LIST = {"arm", "randno", "prtrt", "prprim", "mandpres", "flap", "glossext"}
MAX_CODES = 30  # a text column with more distinct values is free text or an identifier: left out


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    from dashboard.store.sql import query

    for t, c, dtype in con.execute(query("ingest/guard_columns")).fetchall():
        out.setdefault(t, []).append((c, dtype))
    return {t: cols for t, cols in out.items() if any(c.lower() == "subjid" for c, _ in cols)}


def subject_features(path: Path, drop: set[str] = frozenset(), randomized: pd.Series | None = None) -> pd.DataFrame:
    """One row per subject, one column per feature, from every subject-level table of the file,
    leaving out the columns named in `drop` (lower case)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rand = con.execute("select subjid, randomization_date from subjects where randomized").df().set_index("subjid")
        feats = [pd.DataFrame(index=rand.index)]
        for table, cols in _tables(con).items():
            df = con.execute(f'select * from "{table}"').df()
            df.columns = [c.lower() for c in df.columns]
            df = df[df.subjid.isin(rand.index)]
            g = df.groupby("subjid")
            part = {f"{table}:rows": g.size()}
            for c, dtype in cols:
                c = c.lower()
                if c in drop or c == "subjid" or c.startswith("_"):
                    continue
                s = df[c]
                if dtype in ("DATE", "TIMESTAMP") or dtype.startswith("TIMESTAMP"):
                    days = (pd.to_datetime(s) - pd.to_datetime(df.subjid.map(rand.randomization_date))).dt.days
                    part[f"{table}:{c}:days"] = days.groupby(df.subjid).mean()
                elif dtype in ("BOOLEAN", "BIGINT", "INTEGER", "DOUBLE", "HUGEINT", "SMALLINT", "TINYINT", "FLOAT"):
                    v = pd.to_numeric(s.astype("float64"), errors="coerce")
                    part[f"{table}:{c}:mean"] = v.groupby(df.subjid).mean()
                    part[f"{table}:{c}:max"] = v.groupby(df.subjid).max()
                elif dtype == "VARCHAR" and 0 < s.nunique() <= MAX_CODES:
                    codes = pd.crosstab(df.subjid, s.fillna("(empty)"))
                    codes.columns = [f"{table}:{c}={v}" for v in codes.columns]
                    feats.append(codes)
            feats.append(pd.DataFrame(part))
        return pd.concat(feats, axis=1).reindex(rand.index)
    finally:
        con.close()


def arms(closed: Path) -> pd.Series:
    con = duckdb.connect(str(closed), read_only=True)
    try:
        return con.execute("select subjid, arm from crf_rand").df().set_index("subjid").arm
    finally:
        con.close()


def auc(features: pd.DataFrame, arm: pd.Series, seed: int = 1) -> float:
    """Cross-validated AUC of predicting the arm from the features (5 folds)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = arm.reindex(features.index)
    keep = y.notna()
    X = features[keep].astype("float64")
    X = X.loc[:, X.notna().any() & (X.nunique() > 1)].to_numpy()
    target = (y[keep] == sorted(y[keep].unique())[0]).to_numpy(int)
    if len(np.unique(target)) < 2:
        return float("nan")
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    # one thread: OpenMP's one per core oversubscribed a busy machine forty-fold (9 s -> 8 min)
    with threadpool_limits(limits=1):
        p = cross_val_predict(model, X, target, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(target, p))


def measure(build_dir: Path) -> dict:
    """AUC of the blinded file, and of what the deny-list blinded file held (the closed file
    minus the arm and the named fields), on one build."""
    arm = arms(build_dir / "closed.duckdb")
    after = subject_features(build_dir / "blinded.duckdb")
    before = subject_features(build_dir / "closed.duckdb", drop=DENY_LIST)
    return {
        "subjects": int(arm.notna().sum()),
        "auc_blinded_file": round(auc(after, arm), 3),
        "auc_deny_list_file": round(auc(before, arm), 3),
        "features_blinded": after.shape[1],
        "features_deny_list": before.shape[1],
    }


def main(argv: list[str] | None = None) -> int:
    from dashboard.store.warehouse import current_build

    p = argparse.ArgumentParser(prog="python -m dashboard.devtools.inference", description=__doc__.split("\n")[0])
    p.add_argument("warehouse")
    args = p.parse_args(argv)
    print(json.dumps(measure(current_build(args.warehouse)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
