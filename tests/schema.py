#!/usr/bin/env python3
"""schema.py: checks acrdiag's JSON against docs/verdicts.schema.json.

As a module (the test suites):
    import schema
    problems = schema.validate(doc)            # a --json document
    problems = schema.validate(obj, line=True)  # one --json-lines object
Each returns a list of one-line problems, empty when the JSON fits;
schema.check(doc[, line]) returns None or one line (the first problem), and
schema.report() the line a suite ends with (how many it validated).  The
schema is loaded once; formats (ipv4, ipv6) are checked too.

As a command (the lab's shell suites):
    python3 tests/schema.py FILE...    # each FILE a --json document, or
                                       # --json-lines output (one per line)
prints one line per problem and exits 1 when there is any (2 when a FILE
cannot be read or the schema module is missing).
"""
import json
import os
import sys

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "docs", "verdicts.schema.json")

try:
    import jsonschema
except ImportError:     # a test failure with its reason, not a traceback
    jsonschema = None

_validators = None
validated = 0       # documents and lines validated so far (the suites print it)


def _load():
    global _validators
    if _validators is None:
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        fc = jsonschema.FormatChecker()
        line = {"$schema": schema["$schema"], "definitions": schema["definitions"],
                "allOf": [{"$ref": "#/definitions/json_line"}]}
        _validators = (cls(schema, format_checker=fc), cls(line, format_checker=fc))
    return _validators


def _where(path):
    return "".join("[%d]" % p if isinstance(p, int) else ".%s" % p for p in path) or "(root)"


def validate(doc, line=False):
    """Problems of a --json document (or, line=True, a --json-lines object)
    against docs/verdicts.schema.json; [] when it fits."""
    global validated
    if jsonschema is None:
        return ["schema: python3-jsonschema is not installed (tests/deps.sh test)"]
    validated += 1
    try:
        v = _load()[1 if line else 0]
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        return ["schema: %s: %s" % (SCHEMA_PATH, str(e).split("\n")[0])]
    problems = []
    for err in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        # oneOf/anyOf failures: name the deepest cause, it reads better.
        best = jsonschema.exceptions.best_match([err])
        msg = best.message.replace("\n", " ")
        if len(msg) > 200:
            msg = msg[:200] + "..."
        problems.append("schema: %s: %s" % (_where(best.absolute_path), msg))
    return problems


def check(doc, line=False):
    """None when doc fits the schema, else a one-line reason (the first
    problem, and how many more)."""
    problems = validate(doc, line)
    if not problems:
        return None
    more = len(problems) - 1
    return problems[0] + (" (and %d more)" % more if more else "")


def report():
    """The line a suite prints at its end: how much it validated."""
    return "schema: %d JSON documents or lines validated against docs/verdicts.schema.json" % validated


def validate_text(text):
    """Problems of acrdiag's JSON output as text: one document, or lines."""
    # A document is indented over many lines; a --json-lines object is one line.
    if "\n" in text.strip():
        try:
            return validate(json.loads(text))
        except ValueError:
            pass
    problems = []
    lines = [l for l in text.split("\n") if l.strip()]
    if not lines:
        return ["schema: no JSON"]
    for i, l in enumerate(lines, 1):
        try:
            obj = json.loads(l)
        except ValueError as e:
            problems.append("schema: line %d is not JSON: %s" % (i, e))
            continue
        problems += ["line %d: %s" % (i, p) for p in validate(obj, line=True)]
    return problems


def main(argv):
    if len(argv) < 2:
        print("usage: schema.py FILE...", file=sys.stderr)
        return 2
    if jsonschema is None:
        print("schema.py: python3-jsonschema is not installed (tests/deps.sh test)", file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print("schema.py: %s: %s" % (path, e.strerror), file=sys.stderr)
            return 2
        for p in validate_text(text):
            bad += 1
            print("%s: %s" % (path, p))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
