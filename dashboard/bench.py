"""Benchmarks that print numbers (never timed tests): the build against DuckDB's floor.

`floor_seconds`: DuckDB reading the same CSV files into tables of a new database file and
nothing else, so `build / floor` says what validation, derivation and the two warehouses cost.
"""
from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from dashboard.build import build
from dashboard.demo_data import write_demo_package


def floor_seconds(package: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        for csv_file in sorted(package.glob("*.csv")):
            con.execute(f"create table {csv_file.stem.lower()} as select * from read_csv($p)",
                        {"p": str(csv_file)})
        con.close()
        return time.perf_counter() - t0


def bench_build(subjects: int, sites: int, workdir: Path, repeats: int = 3) -> dict:
    """Median of `repeats` builds and floors of one generated package."""
    package = workdir / f"pkg-{subjects}-{sites}"
    if not (package / "EXPORT.csv").exists():
        write_demo_package(package, subjects=subjects, sites=sites)
    builds, floors = [], []
    for i in range(repeats):
        wh = workdir / f"wh-{subjects}-{i}"
        shutil.rmtree(wh, ignore_errors=True)
        floors.append(floor_seconds(package))
        result = build(package, wh)
        builds.append(result.seconds)
        steps = result.steps
        shutil.rmtree(wh, ignore_errors=True)
    b, f = sorted(builds)[len(builds) // 2], sorted(floors)[len(floors) // 2]
    return {"subjects": subjects, "sites": sites,
            "build": {"seconds": round(b, 3), "floor_seconds": round(f, 3), "ratio": round(b / f, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "steps": steps},
            "package_mb": round(sum(p.stat().st_size for p in package.glob("*.csv")) / 2**20, 1),
            "cpus": os.cpu_count()}
