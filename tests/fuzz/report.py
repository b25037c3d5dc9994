"""Run the whole fuzz corpus outside pytest and print the counts (cases, by category, by exit code).

    .venv/bin/python -m tests.fuzz.report                 # every case, 2 worker processes
    .venv/bin/python -m tests.fuzz.report --only models:17 --only flags:214
    EDGEMEM_FUZZ_SEED=7 .venv/bin/python -m tests.fuzz.report   # another corpus
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import tempfile
import time
from pathlib import Path

from tests.fuzz.corpus import MODEL_CASES, SEED, model_case
from tests.fuzz.flags import FLAG_CASES, case_folder, dead_port, flag_case
from tests.fuzz.judge import run_flag_case, run_model_case, warm_up

FLAG_TOTAL = sum(FLAG_CASES.values())


def run_one(case_id: str):
    kind, index = case_id.split(":")
    folder = Path(tempfile.mkdtemp(prefix="edgemem-fuzz-"))
    start = time.perf_counter()
    if kind == "models":
        outcome = run_model_case(model_case(int(index)), folder)
    else:
        outcome = run_flag_case(flag_case(int(index), SEED), folder, case_folder(folder, dead_port()))
    return outcome, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", action="append", help="a case id such as models:17 or flags:214 (repeatable)")
    args = parser.parse_args(argv)
    ids = args.only or [f"models:{i}" for i in range(MODEL_CASES)] + [f"flags:{i}" for i in range(FLAG_TOTAL)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=warm_up) as pool:
        results = pool.map(run_one, ids, chunksize=10)
    by_category = collections.Counter()
    by_code = collections.Counter()
    problems = []
    for outcome, _ in results:
        by_category[outcome.category] += 1
        by_code[(outcome.category, outcome.exit_code)] += 1
        problems += outcome.problems
    rejected_but_warned = sum(1 for o, _ in results if o.exit_code == 0 and o.rejected_by)
    print(f"seed {SEED}: {len(results)} cases in {time.perf_counter() - started:.0f} s with {args.workers} workers; "
          f"slowest case {max(s for _, s in results):.2f} s")
    width = max(len(c) for c in by_category)
    for category in sorted(by_category):
        codes = ", ".join(f"exit {code}: {n}" for (c, code), n in sorted(by_code.items(), key=str) if c == category)
        print(f"  {category:<{width}}  {by_category[category]:>4}  ({codes})")
    totals = collections.Counter(code for (_, code), n in by_code.items() for _ in range(n))
    print("  by exit code: " + ", ".join(f"{code}: {n}" for code, n in sorted(totals.items(), key=str)))
    print(f"  exit 0 on a model the checker or ONNX Runtime rejects, with a warning naming why: {rejected_but_warned}")
    slowest = sorted(results, key=lambda r: -r[1])[:5]
    print("  slowest: " + ", ".join(f"{o.case} {s:.2f} s" for o, s in slowest))
    print(f"problems: {len(problems)}")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
