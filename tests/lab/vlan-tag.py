#!/usr/bin/env python3
"""vlan-tag.py VID IN.pcap OUT.pcap: insert an 802.1Q tag (VID, priority 0) after the MAC
addresses of every Ethernet frame of a classic pcap file.  The lab kernel has no 8021q
support, so the VLAN variant of a capture is made from a real capture this way."""
import struct, sys

def main():
    vid, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = open(src, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit("vlan-tag: not a classic pcap file")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != 1:
        sys.exit("vlan-tag: link type %d is not Ethernet" % linktype)
    out = [data[:24]]
    tag = struct.pack(">HH", 0x8100, vid & 0x0FFF)
    p = 24
    while p + 16 <= len(data):
        ts_s, ts_u, incl, orig = struct.unpack(e + "IIII", data[p:p+16])
        frame = data[p+16:p+16+incl]
        p += 16 + incl
        if len(frame) >= 14:
            frame = frame[:12] + tag + frame[12:]
            incl += 4; orig += 4
        out.append(struct.pack(e + "IIII", ts_s, ts_u, incl, orig) + frame)
    open(dst, "wb").write(b"".join(out))

if __name__ == "__main__":
    main()
