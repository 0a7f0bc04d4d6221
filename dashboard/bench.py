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


def bench_pages(warehouse_dir: Path, role: str = "pi", repeats: int = 5) -> dict:
    """Server-side render time of every page (Streamlit AppTest), cold (caches cleared) and warm
    (median of repeats), beside the floor: a page that only writes a line."""
    import statistics

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboard.access import Viewer, pages_for

    root = Path(__file__).resolve().parent.parent
    os.environ["NEO_MARGIN_WAREHOUSE"] = str(warehouse_dir)
    viewer = Viewer(role, "01" if role == "site" else None)

    def run(page_file: str | None, cold: bool = False) -> float:
        if page_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
                fh.write("import streamlit as st\nst.write('floor')\n")
            at = AppTest.from_file(fh.name, default_timeout=120)
            at.run()                      # timed like a page: the second run of an AppTest
            t0 = time.perf_counter()
            at.run()
            return time.perf_counter() - t0
        at = AppTest.from_file(str(root / "app" / "main.py"), default_timeout=120)
        at.session_state["viewer"] = viewer
        at.run()
        at.switch_page(f"../pages/{page_file}")
        if cold:            # the first run rendered the default page: forget what it cached
            st.cache_data.clear()
            st.cache_resource.clear()
        t0 = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{page_file}: {at.exception[0].value}")
        return elapsed

    out = {"floor": {"cold_seconds": round(run(None), 3),
                     "warm_seconds": round(statistics.median(run(None) for _ in range(repeats)), 3)}}
    for page in pages_for(viewer):
        cold = run(page.file, cold=True)
        warm = statistics.median(run(page.file) for _ in range(repeats))
        out[page.key] = {"cold_seconds": round(cold, 3), "warm_seconds": round(warm, 3)}
    return out
