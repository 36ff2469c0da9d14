"""labels.py: the one format of labelled capture cases.

pcaps/LABELS.tsv (the lab's recordings) and tests/TESTLIST (public corpus
captures and regressions) are both tab-separated with this header:

  file  options  verdict  parents  candidates  findings  evidence  note

file      the capture, relative to the list's own directory
options   acrdiag analyze options (shell words), `-` for none
verdict   the truth: the most specific honest verdict of docs/verdicts.md
parents   less specific verdicts that are still honest (comma list or `-`)
candidates, findings   what the top endpoint must list (comma lists or `-`)
evidence  evidence kinds the top endpoint's evidence must all hold (comma list
          or `-`): the stable `kind` names of docs/verdicts.md "Evidence
          kinds", never the English wording, which may change.  A capture's
          kinds: acrdiag analyze --json FILE | jq -r '.endpoints[0].evidence[].kind'
note      why the case is here

Lines starting with # are comments.  A row with another number of columns
is an error, never guessed at.  Adding a case is adding one row and the file.
"""
import os
import shlex

COLUMNS = ["file", "options", "verdict", "parents", "candidates", "findings", "evidence", "note"]


class LabelError(Exception):
    pass


def listed(value):
    """A comma list cell as a list; `-` and empty are none."""
    return [] if value in ("", "-") else [v.strip() for v in value.split(",") if v.strip()]


def load(path):
    """The cases of one list as dicts with the COLUMNS plus `path` (absolute),
    `name` (file as written) and `argv` (options split).  A missing list has
    no cases; a malformed one raises LabelError naming the line."""
    if not os.path.exists(path):
        return []
    base = os.path.dirname(os.path.abspath(path))
    cases = []
    header_seen = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if not header_seen:
                if cols != COLUMNS:
                    raise LabelError("%s:%d: header must be %s" % (path, n, "\\t".join(COLUMNS)))
                header_seen = True
                continue
            if len(cols) != len(COLUMNS):
                raise LabelError("%s:%d: %d columns, expected %d" % (path, n, len(cols), len(COLUMNS)))
            case = dict(zip(COLUMNS, cols))
            try:
                case["argv"] = [] if case["options"] in ("", "-") else shlex.split(case["options"])
            except ValueError as e:
                raise LabelError("%s:%d: options: %s" % (path, n, e))
            case["name"] = case["file"]
            case["path"] = os.path.join(base, case["file"])
            cases.append(case)
    return cases
