"""Run every benchmark script and print its table under an area heading.

Each script runs in its own subprocess (so one area's allocations, caches and
thread pools do not affect the next) with the same Python interpreter; its
table, which already gives the ratio against the alternative a user would
otherwise use, is printed under the area's heading with the script's wall
time. ``--quick`` passes ``--quick`` to every script (small sizes; the whole
run takes about a minute on 2 cores). The validation study
(``validation_study.py``) is a statistical study, not a benchmark, and is not
run.

Usage: python benchmarks/run_all.py [--quick]
       [--only fit sensitivity bootstrap wild sets dask]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

AREAS = {
    "fit": (
        "bench_fit.py",
        "Fit: IVMediationRegressor against linearmodels IV2SLS "
        "(ratio = linearmodels time / skmediate time)",
    ),
    "sensitivity": (
        "bench_sensitivity.py",
        "Sensitivity: SensitivityGrid closed form against refitting at every "
        "grid point (ratio = refit time / closed-form time)",
    ),
    "bootstrap": (
        "bench_bootstrap.py",
        "Bootstrap: vectorized engine against the refit engine, a linearmodels "
        "IV2SLS loop and pingouin (ratio = time / vectorized time)",
    ),
    "wild": (
        "bench_wild.py",
        "Wild cluster bootstrap test: wild_bootstrap_test against generating the "
        "samples and refitting with linearmodels IV2SLS (ratio = loop time / "
        "skmediate time)",
    ),
    "sets": (
        "bench_sets.py",
        "Robust sets with several mediators: confidence_set against profiling "
        "the joint statistic on a grid (ratio = grid time / skmediate time)",
    ),
    "dask": (
        "bench_dask.py",
        "Dask: a fit of 10^7 rows from a chunked dask array against the same fit "
        "in memory (time and peak memory)",
    ),
}


def run_area(script: str, quick: bool) -> tuple[int, float, str]:
    """Run one script; return its exit code, wall time and combined output."""
    command = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    output = done.stdout + (done.stderr if done.returncode else "")
    return done.returncode, seconds, output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="pass --quick to every script"
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(AREAS), default=list(AREAS), metavar="AREA"
    )
    args = parser.parse_args(argv)

    failed = []
    total = time.perf_counter()
    for area in args.only:
        script, title = AREAS[area]
        print(f"== {title}")
        returncode, seconds, output = run_area(script, args.quick)
        print(output.rstrip())
        status = "" if returncode == 0 else f", FAILED with exit code {returncode}"
        print(f"({script}: {seconds:.1f} s{status})\n")
        if returncode:
            failed.append(script)
    print(f"total {time.perf_counter() - total:.1f} s")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
