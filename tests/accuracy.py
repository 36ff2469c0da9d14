#!/usr/bin/env python3
"""accuracy.py: how often acrdiag names the right cause, and never the wrong one.

Every labelled capture is analysed and its top verdict sorted into one of:
  exact       the label's verdict
  parent      one of the label's acceptable honest parents (connection_reset
              for firewall_reset, silent_drop for nsg_drop, ...)
  incomplete  `incomplete`: not enough evidence, which is honest
  wrong       anything else: a sibling or unrelated cause, the worst defect
The captures: the lab's (pcaps/LABELS.tsv), the public corpus and regression
cases (tests/TESTLIST), and each of those cut to snap lengths 96, 128 and 200
with editcap (truncation must never turn into a fault).
Prints the table (the README shows it) and "N passed, N failed", where a
case fails only when it is wrong; exits 1 when any is.
  accuracy.py [--markdown] [--no-snap]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from check_captures import ACRDIAG  # noqa: E402
from labels import LabelError, listed, load  # noqa: E402
import schema  # noqa: E402

SNAPLENS = (96, 128, 200)
INVALID = []    # outputs that do not fit docs/verdicts.schema.json: failures
CATEGORIES = ("exact", "parent", "incomplete", "wrong")


def labelled():
    """(source, name, path, options, verdict, parents) of every labelled capture."""
    for r in load(os.path.join(REPO, "pcaps", "LABELS.tsv")):
        yield ("lab", r["name"], r["path"], r["argv"], r["verdict"], listed(r["parents"]))
    for r in load(os.path.join(REPO, "tests", "TESTLIST")):
        src = "corpus" if r["file"].startswith("corpus/") else "regression"
        yield (src, r["name"], r["path"], r["argv"], r["verdict"], listed(r["parents"]))


def verdict_of(path, options):
    p = subprocess.run([ACRDIAG, "analyze", "--json"] + options + [path], capture_output=True, timeout=120)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return None, "exit %d, no JSON: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()[:200])
    why = schema.check(doc)
    if why:
        INVALID.append("FAIL %s: %s" % (os.path.basename(path), why))
    top = doc.get("endpoints", [{}])[0] if doc.get("endpoints") else {}
    return doc.get("verdict"), "%s (%s, rule %s)" % (doc.get("summary", ""), top.get("confidence"), top.get("rule"))


def category(got, want, parents):
    if got == want:
        return "exact"
    if got in parents:
        return "parent"
    if got == "incomplete":
        return "incomplete"
    return "wrong"


def snapped_copies(cases, tmp):
    """The lab and corpus cases again, cut by editcap to each snap length."""
    if not shutil.which("editcap"):
        print("FAIL snap-length variants: editcap (Debian wireshark-common) is not installed")
        return None
    out = []
    for source, name, path, options, want, parents in cases:
        if source == "regression" or not os.path.exists(path):
            continue
        for snap in SNAPLENS:
            dst = os.path.join(tmp, "%d.%s" % (snap, os.path.basename(path)))
            if subprocess.run(["editcap", "-s", str(snap), path, dst], capture_output=True).returncode != 0:
                continue        # a capture editcap cannot read is not ours to cut
            out.append(("snap %d" % snap, "%s -s %d" % (name, snap), dst, options, want, parents))
    return out


def main():
    markdown = "--markdown" in sys.argv
    try:
        cases = list(labelled())
    except LabelError as e:
        print("FAIL labels: %s" % e)
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="acrdiag-accuracy.")
    failed_setup = 0
    try:
        if "--no-snap" not in sys.argv:
            snaps = snapped_copies(cases, tmp)
            if snaps is None:
                failed_setup = 1
            else:
                cases += snaps
        table = {}
        wrong = []
        for source, name, path, options, want, parents in cases:
            if not os.path.exists(path):
                got, why = None, "capture missing"
            else:
                got, why = verdict_of(path, options)
            cat = category(got, want, parents)
            table.setdefault(source, dict.fromkeys(CATEGORIES, 0))[cat] += 1
            if cat == "wrong":
                wrong.append("WRONG %s: %s, label %s%s: %s" % (name, got, want,
                             " (parents %s)" % ",".join(parents) if parents else "", why))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    total = dict.fromkeys(CATEGORIES, 0)
    lines = ["| captures | count | exact | honest parent | incomplete | wrong |", "|---|---|---|---|---|---|"]
    for source in sorted(table, key=lambda s: (s.startswith("snap"), s)):
        t = table[source]
        for c in CATEGORIES:
            total[c] += t[c]
        lines.append("| %s | %d | %s |" % (source, sum(t.values()), " | ".join(str(t[c]) for c in CATEGORIES)))
    lines.append("| **all** | %d | %s |" % (sum(total.values()), " | ".join(str(total[c]) for c in CATEGORIES)))
    if not markdown:
        lines = [l.replace("**", "") for l in lines]
    print("\n".join(lines))
    for w in wrong:
        print(w)
    print("\n".join(INVALID + [schema.report()]))
    n_wrong = len(wrong) + failed_setup + len(INVALID)
    print("%d passed, %d failed" % (sum(total.values()) - len(wrong) - len(INVALID), n_wrong))
    return 1 if n_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
