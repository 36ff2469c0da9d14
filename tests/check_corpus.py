#!/usr/bin/env python3
"""check_corpus.py: every public capture in tests/corpus through acrdiag.

1. Robustness: each capture and fuzz seed is analysed; the run must end with
   a verdict (exit 0, 1, 3 and valid JSON) or one line on stderr (exit 2),
   never a crash, a hang or a sanitizer report.
2. Cross-check: for TCP/443 streams of the ground-truth files (tshark's view,
   see tests/corpus/README.md), the Zeek conn_state acrdiag reports for the same
   client address and port must match the one the truth's counts imply (and
   the Zeek baseline's own conn_state where the source ships one).
Prints one line per failure and a closing "N passed, N failed".
"""
import csv
import glob
import json
import os
import subprocess
import sys

import schema

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "tests", "corpus")
ACRDIAG = os.environ.get("ACRDIAG", os.path.join(REPO, "acrdiag"))
SANITIZER = ("runtime error", "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer")


def run(path):
    try:
        p = subprocess.run([ACRDIAG, "analyze", "--json", path], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, "hang: no result within 60 s"
    err = p.stderr.decode(errors="replace")
    if any(s in err for s in SANITIZER):
        return None, "sanitizer: " + err[:600]
    if p.returncode == 2:
        lines = [l for l in err.split("\n") if l]
        if len(lines) != 1 or p.stdout:
            return None, "exit 2 must print exactly one line on stderr and nothing on stdout: %r" % err[:300]
        return {}, None
    if p.returncode not in (0, 1, 3):
        return None, "exit status %d: %s" % (p.returncode, err[:300])
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        return None, "invalid JSON: %s" % e
    return doc, schema.check(doc)


def expected_state(r):
    """Zeek conn_state from tshark's per-stream counts (same rules as Zeek's conn.log)."""
    syn, synack = int(r["syn"] or 0) > 0, int(r["synack"] or 0) > 0
    ro, rr = int(r["rst_c2s"] or 0) > 0, int(r["rst_s2c"] or 0) > 0
    fo, fr = int(r["fin_c2s"] or 0) > 0, int(r["fin_s2c"] or 0) > 0
    if not syn and not synack:
        return "OTH"
    if syn and not synack:
        if rr:
            return "REJ"
        if ro:
            return "RSTOS0"
        if fo:
            return "SH"
        return "OTH" if int(r["pkts_s2c"] or 0) else "S0"
    if not syn:
        return "RSTRH" if rr else "SHR" if fr else "OTH"
    if ro:
        return "RSTO"
    if rr:
        return "RSTR"
    if fo and fr:
        return "SF"
    return "S2" if fo else "S3" if fr else "S1"


# What each flow outcome needs in the truth (tshark's view of the same
# stream): a verdict naming a reset needs a RST or FIN, a silent drop no
# SYN-ACK, an ICMP verdict an ICMP error, a TLS verdict a ClientHello, ok a
# ServerHello or payload both ways.  A flow outcome without it is a
# confidently wrong cause.
def needs(outcome, r):
    n = lambda k: int(r.get(k) or 0)
    closes = n("rst_c2s") + n("rst_s2c") + n("fin_c2s") + n("fin_s2c")
    if outcome in ("firewall_reset", "server_reset", "connection_reset"):
        return closes > 0 or "a RST or FIN"
    if outcome in ("silent_drop", "nsg_drop", "route_blackhole"):
        return (n("syn") > 0 and n("synack") == 0) or "SYNs without a SYN-ACK"
    if outcome == "icmp_unreachable":
        return bool(r.get("icmp_errors")) or "an ICMP error quoting the stream"
    if outcome in ("tls_failure", "proxy_interception"):
        return n("tls_client_hello") > 0 or "a ClientHello"
    if outcome == "ok":
        return (n("tls_server_hello") > 0 or (n("bytes_c2s") > 0 and n("bytes_s2c") > 0)) or \
            "a ServerHello or payload both ways"
    return True


def main():
    passed = failed = 0
    files = sorted(glob.glob(os.path.join(CORPUS, "pcaps", "*", "*")))
    files = [f for f in files if not (".truth." in f or ".peer-" in f)]
    seeds = sorted(glob.glob(os.path.join(CORPUS, "fuzz-seeds", "*", "*")))
    seeds = [f for f in seeds if not f.endswith(".tsv")]
    if not files:
        print("FAIL corpus: no captures under %s" % CORPUS)
        print("0 passed, 1 failed")
        return 1
    compared = 0
    for path in files + seeds:
        name = os.path.relpath(path, CORPUS)
        doc, problem = run(path)
        if problem:
            failed += 1
            print("FAIL %s: %s" % (name, problem))
            continue
        passed += 1
        truth = path + ".truth.tsv"
        if not doc or not os.path.exists(truth):
            continue
        ours, outcomes = {}, {}
        for ep in doc.get("endpoints", []):
            for fl in ep.get("flows", []):
                ours[(fl["client"], fl["client_port"], ep.get("ip"))] = fl["conn_state"]
                outcomes[(fl["client"], fl["client_port"], ep.get("ip"))] = fl.get("outcome")
        with open(truth, encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r["kind"] != "tcp" or r["sport"] != "443":
                    continue
                key = (r["client"], int(r["cport"]), r["server"])
                if key not in ours:
                    continue    # not listed (more than the report lists per endpoint)
                compared += 1
                want = r.get("zeek_conn_state") or expected_state(r)
                if ours[key] != want:
                    failed += 1
                    print("FAIL %s stream %s %s:%s: conn_state %s, truth %s" %
                          (name, r["stream"], r["client"], r["cport"], ours[key], want))
                else:
                    passed += 1
                need = needs(outcomes[key], r)
                if need is not True:
                    failed += 1
                    print("FAIL %s stream %s %s:%s: outcome %s without %s in the truth (%s)" %
                          (name, r["stream"], r["client"], r["cport"], outcomes[key], need, r["derived_outcome"]))
                else:
                    passed += 1
    print("cross-checked %d streams" % compared)
    print(schema.report())
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
