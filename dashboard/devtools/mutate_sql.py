"""Mutation testing of the derived SQL, which Python mutation tools cannot mutate.

Each mutant is one small change to one SQL file: a comparison operator (< to <=, > to >=,
<= to <, >= to >, = to <>, <> and != to =), `and` to `or` and back, + to -, an integer
literal n to n+1, `is null` to `is not null` and back, min to max and back, least to greatest
and back, true to false and back, and the two arguments of a two-argument coalesce swapped.
String literals, quoted identifiers and comments are never touched.

The project is copied once per worker into a scratch folder (never the real tree); each
mutant is written into the scratch copy, the pytest command is run there under `timeout`, and
the file is restored. A mutant is killed when the command fails, survived when it passes.

    python -m dashboard.devtools.mutate_sql                       # queries/derived/*.sql
    python -m dashboard.devtools.mutate_sql queries/derived/survival.sql --list
    python -m dashboard.devtools.mutate_sql --max-per-file 8 --seed 1 --jobs 2 --timeout 300 \\
        --cmd "python -m pytest tests/test_derivations.py -x -q"

`python` in --cmd is replaced by this interpreter. The exit code is 1 when a mutant survived.
"""

import argparse
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CMD = (
    "python -m pytest tests/test_derivations.py tests/test_build_order.py "
    "tests/test_bad_packages.py -x -q -p no:cacheprovider"
)
SWAP = {
    "<": "<=",
    ">": ">=",
    "<=": "<",
    ">=": ">",
    "=": "<>",
    "<>": "=",
    "!=": "=",
    "+": "-",
    "and": "or",
    "or": "and",
    "min": "max",
    "max": "min",
    "least": "greatest",
    "greatest": "least",
    "true": "false",
    "false": "true",
}
TOKEN = re.compile(
    r"\bis\s+not\s+null\b|\bis\s+null\b|<=|>=|<>|!=|::|<|>|=|\+"
    r"|\b(?:and|or|true|false)\b|\b(?:min|max|least|greatest)(?=\s*\()"
    r"|(?<![\w.$])\d+(?![\w.])|\bcoalesce\s*\(",
    re.I,
)
SKIP = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)


def _coalesce_swap(text, start):
    """The two-argument coalesce call opening at text[start:] with its arguments swapped."""
    open_at = text.index("(", start)
    depth, args, arg_start = 0, [], open_at + 1
    for i in range(open_at, len(text)):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(text[arg_start:i])
                if len(args) != 2:
                    return None
                return i + 1, f"coalesce({args[1].strip()}, {args[0].strip()})"
        elif c == "," and depth == 1:
            args.append(text[arg_start:i])
            arg_start = i + 1
    return None


def mutants(path):
    """(line, original, mutated snippet, new file text) for each mutant of one SQL file."""
    text = path.read_text(encoding="utf-8")
    skipped = [(m.start(), m.end()) for m in SKIP.finditer(text)]
    out = []
    for m in TOKEN.finditer(text):
        if any(a <= m.start() < b for a, b in skipped):
            continue
        tok, low = m.group(0), re.sub(r"\s+", " ", m.group(0).lower())
        end = m.end()
        if low == "::":
            continue
        if low.isdigit():
            new = str(int(tok) + 1)
        elif low == "is null":
            new = "is not null"
        elif low == "is not null":
            new = "is null"
        elif low.startswith("coalesce"):
            swapped = _coalesce_swap(text, m.start())
            if swapped is None:
                continue
            end, new = swapped
            tok = text[m.start() : end]
        else:
            new = SWAP[low]
        line_no = text.count("\n", 0, m.start()) + 1
        line = text.splitlines()[line_no - 1].strip()
        out.append((line_no, " ".join(tok.split()), new, text[: m.start()] + new + text[end:], line))
    return out


def scratch_copy():
    dest = Path(tempfile.mkdtemp(prefix="mutate_sql_")) / "project"
    shutil.copytree(
        ROOT,
        dest,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "mutants", "__pycache__", ".pytest_cache", "data", "node_modules"
        ),
    )
    return dest


def run_cmd(cmd, cwd, timeout):
    argv = [sys.executable if a == "python" else a for a in shlex.split(cmd)]
    env = dict(os.environ, PYTHONPATH=str(cwd), PYTHONDONTWRITEBYTECODE="1")
    rc = subprocess.run(
        ["timeout", str(timeout), *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ).returncode
    return "timeout" if rc == 124 else ("survived" if rc == 0 else "killed")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="SQL files (default queries/derived/*.sql)")
    ap.add_argument("--cmd", default=DEFAULT_CMD, help="test command, run in the scratch copy")
    ap.add_argument("--timeout", type=int, default=600, help="seconds for one test run")
    ap.add_argument("--max-per-file", type=int, default=0, help="sample at most N per file")
    ap.add_argument("--seed", type=int, default=0, help="seed of that sample")
    ap.add_argument("--jobs", type=int, default=1, help="scratch copies run side by side")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    args = ap.parse_args(argv)
    files = [Path(f).resolve() for f in args.files] or sorted((ROOT / "queries/derived").glob("*.sql"))
    todo = []
    for f in files:
        ms = mutants(f)
        if args.max_per_file and len(ms) > args.max_per_file:
            ms = sorted(random.Random(f"{args.seed}{f.name}").sample(ms, args.max_per_file))
        todo += [(f.relative_to(ROOT), *m) for m in ms]
    if args.list:
        for rel, line, old, new, _, src in todo:
            print(f"{rel}:{line}\t{old} -> {new}\t| {src}")
        print(f"{len(todo)} mutants")
        return 0
    copies = [scratch_copy() for _ in range(max(1, args.jobs))]
    for c in copies:
        if run_cmd(args.cmd, c, args.timeout) != "survived":
            sys.exit(f"the tests do not pass on the unmutated copy {c}; nothing to measure")
    free = list(copies)
    t0 = time.time()

    def one(item):
        rel, line, old, new, text, _ = item
        cwd = free.pop()
        target = cwd / rel
        original = target.read_text(encoding="utf-8")
        try:
            target.write_text(text, encoding="utf-8")
            result = run_cmd(args.cmd, cwd, args.timeout)
        finally:
            target.write_text(original, encoding="utf-8")
            free.append(cwd)
        print(f"  [{time.time() - t0:6.0f}s] {rel}:{line} {old} -> {new}: {result}", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(len(copies)) as pool:
        results = list(pool.map(one, todo))
    for c in copies:
        shutil.rmtree(c.parent, ignore_errors=True)
    print(f"{'file':34} {'line':>4}  {'original':22} {'mutant':22} result")
    for (rel, line, old, new, _, _), res in zip(todo, results, strict=True):
        print(f"{str(rel):34} {line:>4}  {old[:22]:22} {new[:22]:22} {res}")
    counts = {k: results.count(k) for k in ("killed", "survived", "timeout")}
    print(f"total {len(results)}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 1 if counts["survived"] else 0


if __name__ == "__main__":
    sys.exit(main())
