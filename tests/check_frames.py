#!/usr/bin/env python3
"""check_frames.py: every evidence frame acrdiag cites is the frame where
Wireshark shows that thing (issue 13, item 3).

For each bundled capture (pcaps/*.pcap and tests/corpus/pcaps/**), acrdiag's
JSON evidence and contradictions are read, and tshark dissects the same file
once; each cited frame must show, in tshark, what the evidence's kind says: a
ClientHello is in the frame where Wireshark shows handshake type 1 (for a
message spread over several segments: the frame that completes its record),
a Certificate where it shows type 11, a SYN-ACK where SYN and ACK are set,
and so on.  Evidence whose kind names nothing tshark can show (a probe fact,
a count) is skipped and counted apart.

Prints one line per mismatch, a summary of what was compared, and a closing
"N passed, N failed".  Without tshark it prints "0 passed, 0 failed" and says so.
Usage: check_frames.py [CAPTURE...]
"""
import glob
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACRDIAG = os.environ.get("ACRDIAG", os.path.join(REPO, "acrdiag"))

FIELDS = ["frame.number", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset", "tcp.flags.fin", "tcp.len",
          "tls.handshake.type", "tls.alert_message.level", "icmp.type", "icmpv6.type", "dns.flags.response",
          "tcp.analysis.retransmission", "dns.qry.name"]


def dissect(path):
    """frame number -> {field: [values]} as tshark shows the file."""
    p = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                        "-E", "aggregator=,"] + sum((["-e", f] for f in FIELDS), []),
                       capture_output=True, text=True, timeout=300)
    frames = {}
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        d = {f: [v for v in c.split(",") if v] for f, c in zip(FIELDS, cols)}
        frames[int(cols[0])] = d
    return frames


def has(d, field, value=None):
    vals = d.get(field, [])
    if value is None:
        return bool(vals)
    return value in vals


def flag(d, field):
    return any(v in ("1", "True") for v in d.get(field, []))


def syn_ack(d):
    return flag(d, "tcp.flags.syn") and flag(d, "tcp.flags.ack")


def fin_or_rst(d):
    return flag(d, "tcp.flags.fin") or flag(d, "tcp.flags.reset")


def answer(d):
    return syn_ack(d) or flag(d, "tcp.flags.reset") or has(d, "icmp.type", "0") or has(d, "icmpv6.type", "129")


def data(d):
    return any(int(x) > 0 for x in d.get("tcp.len", []) if x.isdigit())


# What tshark must show in the frame an evidence kind cites (docs/verdicts.md
# "Evidence kinds"): (evidence kinds, predicate on tshark's view of the frame,
# name).  Kinds not listed (probe steps, counts, proxy and HTTP facts) name
# nothing this compares.
CHECKS = [
    (("client_hello", "client_hello_no_sni", "client_hello_unacked"),
     lambda d: has(d, "tls.handshake.type", "1"), "ClientHello"),
    (("server_hello",), lambda d: has(d, "tls.handshake.type", "2"), "ServerHello"),
    (("certificate", "certificate_issuer"), lambda d: has(d, "tls.handshake.type", "11"), "Certificate"),
    (("tls_alert",), lambda d: has(d, "tls.alert_message.level"), "TLS alert"),
    (("syn_ack", "server_syn_ack_other_port"), syn_ack, "SYN-ACK"),
    (("syn", "syn_retransmitted", "other_port_unanswered"),
     lambda d: flag(d, "tcp.flags.syn") and not flag(d, "tcp.flags.ack"), "SYN"),
    (("rst_answers_syn", "rst_after_handshake", "rst_forged_ttl", "rst_forged_no_timestamps"),
     lambda d: flag(d, "tcp.flags.reset"), "RST"),
    (("close_after_client_hello", "client_gave_up", "client_closed_after_server_hello", "server_closed_after_client",
      "server_closed_late", "server_answered_forged_rst", "server_answered_ack"), fin_or_rst, "FIN or RST"),
    (("icmp_unreachable", "icmp_frag_needed", "icmp_echo_reply", "icmp_echo_unanswered"),
     lambda d: has(d, "icmp.type") or has(d, "icmpv6.type"), "ICMP or ICMPv6"),
    (("dns_query", "dns_unanswered"),
     lambda d: has(d, "dns.flags.response", "0") or has(d, "dns.flags.response", "False"), "DNS query"),
    (("dns_rcode", "dns_no_address", "dns_answer_cut", "dns_privatelink_public"),
     lambda d: has(d, "dns.flags.response", "1") or has(d, "dns.flags.response", "True"), "DNS answer"),
    (("full_size_retransmitted",), lambda d: any(int(x) >= 1000 for x in d.get("tcp.len", []) if x.isdigit()),
     "full-size segment"),
    (("data_gap", "data_after_rst"), data, "data segment"),
    (("midstream_start",), lambda d: has(d, "tcp.len") and not flag(d, "tcp.flags.syn"), "TCP without SYN"),
    (("one_direction",), lambda d: has(d, "tcp.len"), "TCP segment"),
    (("other_port_answered", "other_port_farther", "control_answered", "close_same_hops_as_server"), answer,
     "answer (SYN-ACK, RST, echo reply)"),
]


# Where Wireshark itself shows nothing to compare with, each with the reason.
KNOWN = {
    ("tcp-fastopen-11-reject-syn-data.pcap", 3, "ClientHello"):
        "TCP Fast Open: Wireshark dissects the ClientHello in the SYN's data (frame 1), which the "
        "server rejected; acrdiag reads the stream from the SYN-ACK on and cites the retransmission",
    ("tls-subjectaltname.pcap", 126, "ServerHello"):
        "a reused port: Wireshark marks the server's whole flight as retransmissions and never "
        "dissects its ServerHello or Certificate",
    ("tls-subjectaltname.pcap", 126, "Certificate"): "the same flight",
}


def kind_of(kind):
    for kinds, pred, name in CHECKS:
        if kind in kinds:
            return pred, name
    return None, None


def captures(args):
    if args:
        return args
    files = sorted(glob.glob(os.path.join(REPO, "pcaps", "*.pcap*")))
    files += sorted(glob.glob(os.path.join(REPO, "tests", "corpus", "pcaps", "**", "*.pcap*"), recursive=True))
    return [f for f in files if not f.endswith((".truth", ".tsv", ".txt"))]


def main(argv):
    if not shutil.which("tshark"):
        print("tshark missing: nothing compared")
        print("0 passed, 0 failed")
        return 0
    passed = failed = skipped = 0
    skipped_known = []
    by_kind = {}
    for path in captures(argv[1:]):
        p = subprocess.run([ACRDIAG, "analyze", "--json", path], capture_output=True, text=True, timeout=300)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            continue        # unreadable inputs are check_corpus's business
        cited = []
        for ep in doc.get("endpoints", []):
            for e in ep.get("evidence", []) + ep.get("contradictions", []):
                if "frame" in e:
                    cited.append(e)
        if not cited:
            continue
        frames = dissect(path)
        name = os.path.relpath(path, REPO)
        for e in cited:
            pred, kind = kind_of(e["kind"])
            if not pred:
                skipped += 1
                continue
            if (os.path.basename(path), e["frame"], kind) in KNOWN:
                skipped_known.append("%s frame %d %s" % (os.path.basename(path), e["frame"], kind))
                continue
            got = by_kind.setdefault(kind, [0, 0])
            d = frames.get(e["frame"])
            if d is not None and pred(d):
                passed += 1
                got[0] += 1
            else:
                failed += 1
                got[1] += 1
                shown = [n for n, fd in frames.items() if pred(fd)]
                near = min(shown, key=lambda n: abs(n - e["frame"])) if shown else None
                print("FAIL %s: frame %d \"%s\": tshark shows no %s there (nearest: frame %s)"
                      % (name, e["frame"], e["what"][:70], kind, near))
    for kind, (ok, bad) in sorted(by_kind.items()):
        print("  %-18s %4d compared, %d differ" % (kind, ok + bad, bad))
    print("  %d evidence lines of kinds tshark cannot show (not compared)" % skipped)
    for k in skipped_known:
        print("  not compared, Wireshark shows no such frame (KNOWN): %s" % k)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
