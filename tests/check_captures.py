#!/usr/bin/env python3
"""check_captures.py: capture regression tests, tcpdump TESTLIST style.

Every row of pcaps/LABELS.tsv (the lab's recorded captures with the verdict a
passive analysis must reach) and of tests/TESTLIST (variants, corpus cases and
captures that once crashed or misled the tool) is one case: run
`acrdiag analyze --json` and check the top verdict, the candidates, the
findings, the kinds of evidence (evidence[].kind, never its wording) and the
exit status, field by field.
Prints one line per case and a closing "N passed, N failed".
"""
import json
import os
import re
import subprocess
import sys

import schema
from labels import LabelError, listed, load

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACRDIAG = os.environ.get("ACRDIAG", os.path.join(REPO, "acrdiag"))
EXIT = {"ok": 0, "incomplete": 3}


def check(case, path, options):
    """Returns a list of problems (empty when the case passes)."""
    cmd = [ACRDIAG, "analyze", "--json"] + options + [path]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    problems = []
    if p.returncode >= 4 or p.returncode < 0:
        return ["exit status %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-400:])]
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        return ["output is not JSON: %s" % e]
    why = schema.check(doc)
    if why:
        problems.append(why)
    want = case["verdict"]
    # A listed honest parent passes (tests/accuracy.py counts it apart from
    # exact); then the fields of the exact verdict are not asked for.
    if doc.get("verdict") in listed(case.get("parents", "")):
        want = doc["verdict"]
        case = dict(case, candidates="*", evidence="-", findings="-")
    if doc.get("verdict") != want:
        problems.append("verdict %s, expected %s (%s)" % (doc.get("verdict"), want, doc.get("summary")))
    expected_exit = EXIT.get(want, 1)
    if p.returncode != expected_exit:
        problems.append("exit status %d, expected %d" % (p.returncode, expected_exit))
    eps = doc.get("endpoints", [])
    top = next((e for e in eps if e.get("verdict") == want), eps[0] if eps else {})
    cands = sorted(listed(case.get("candidates", "")))
    if case.get("candidates") != "*" and sorted(top.get("candidates", [])) != cands:
        problems.append("candidates %s, expected %s" % (top.get("candidates"), cands))
    have = set(doc.get("findings", []))
    for e in eps:
        have.update(e.get("findings", []))
    for f in listed(case.get("findings", "")):
        if f not in have:
            problems.append("finding %s missing (have %s)" % (f, sorted(have)))
    kinds = [x.get("kind") for x in top.get("evidence", [])]
    for k in listed(case.get("evidence", "-")):
        if k not in kinds:
            problems.append("no evidence of kind %s (have %s)" % (k, kinds))
    # A placeholder in a remedy is whole ("<registry>.azurecr.io"), never cut to "<".
    for rem in [doc.get("remedy") or ""] + [e.get("remedy") or "" for e in eps]:
        if re.search(r"<(?![a-z])", rem):
            problems.append("remedy with a cut placeholder: %r" % rem[:120])
    for k in ("version", "mode", "summary", "endpoints"):
        if k not in doc:
            problems.append("JSON lacks %s" % k)
    # The text report must lead with the verdict.
    t = subprocess.run([ACRDIAG, "analyze"] + options + [path], capture_output=True, timeout=120)
    first = t.stdout.decode(errors="replace").split("\n", 1)[0]
    if not first.startswith("VERDICT %s" % want):
        problems.append("text report starts %r" % first[:80])
    return problems


def documented_kinds():
    """Problems when docs/verdicts.md "Evidence kinds" and the schema's enum
    of evidence kinds differ (the schema refuses a kind it does not list)."""
    with open(os.path.join(REPO, "docs", "verdicts.md"), encoding="utf-8") as f:
        md = f.read()
    sec = md.split("## Evidence kinds", 1)[1].split("\n## ", 1)[0] if "## Evidence kinds" in md else ""
    listed_md = re.findall(r"(?m)^- `([a-z][a-z0-9_]*)`: ", sec)
    with open(os.path.join(REPO, "docs", "verdicts.schema.json"), encoding="utf-8") as f:
        enum = json.load(f)["definitions"]["evidence"]["properties"]["kind"]["enum"]
    problems = []
    if len(set(listed_md)) != len(listed_md):
        problems.append("verdicts.md lists a kind twice")
    if set(listed_md) != set(enum):
        problems.append("verdicts.md and the schema differ: %s" % sorted(set(listed_md) ^ set(enum)))
    return problems


def main():
    # check_captures.py [DIR]: DIR holds a fresh lab recording with its
    # LABELS.tsv; then only those captures are checked.
    pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "pcaps")
    try:
        cases = load(os.path.join(pcaps, "LABELS.tsv"))
        if len(sys.argv) > 1:   # a partial recording checks what it recorded
            cases = [c for c in cases if os.path.exists(c["path"])]
        else:
            cases += load(os.path.join(REPO, "tests", "TESTLIST"))
    except LabelError as e:
        print("FAIL labels: %s" % e)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    problems = documented_kinds()
    if problems:
        failed += 1
        print("FAIL evidence kinds documented")
        for pr in problems:
            print("  %s" % pr)
    else:
        passed += 1
        print("ok   evidence kinds documented: verdicts.md lists the schema's enum")
    for case in cases:
        name, path = case["name"], case["path"]
        if not os.path.exists(path):
            problems = ["capture missing: %s" % path]
        else:
            problems = check(case, path, case["argv"])
        if problems:
            failed += 1
            print("FAIL %s" % name)
            for pr in problems:
                print("  %s" % pr)
        else:
            passed += 1
            print("ok   %s -> %s" % (name, case["verdict"]))
    print(schema.report())
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
