#!/usr/bin/env python3
"""Write the seed corpus of fuzz_packet into tests/fuzz/corpus/packet/.

Each seed is 4 control bytes (see fuzz_packet.c) followed by a packet
from the IP header on.  The packets cover what the parser knows: IPv4
with options and fragments, IPv6 extension headers, TCP/UDP/UDP-Lite/
ICMP/ICMPv6/SCTP/DCCP/IP-in-IP, plus packets the Linux kernel built
(taken from test_csum.c).  Run again after changing it; output is
deterministic.
"""
import os
import socket
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "packet")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(proto, l4, ihl=5, frag=0, tot=None, src="10.0.0.1", dst="10.0.0.2"):
    opts = b"\x01" * ((ihl - 5) * 4)
    tot = ihl * 4 + len(l4) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 0x1234, frag, 64,
                    proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    h += opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def ip6(nxt, rest, plen=None, src="2001:db8::1", dst="2001:db8::2"):
    plen = len(rest) if plen is None else plen
    return (struct.pack("!IHBB", 0x60000000, plen, nxt, 64) +
            socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + rest)


def ext(nxt, len8=0):
    n = (len8 + 1) * 8
    return struct.pack("!BBBB", nxt, len8, 1, n - 4) + b"\0" * (n - 4)


def frag6(nxt, off8, more):
    return struct.pack("!BBHI", nxt, 0, off8 << 3 | more, 0x4242)


def tcp(sport=40000, dport=80, doff=5, payload=b"", flags=0x18):
    opts = b"\x01" * (max(doff, 5) * 4 - 20)
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 2, doff << 4, flags,
                       65535, 0, 0) + opts + payload


def udp(sport=5353, dport=53, payload=b"", ulen=None):
    ulen = 8 + len(payload) if ulen is None else ulen
    return struct.pack("!HHHH", sport, dport, ulen, 0) + payload


def icmp(t=8, code=0, ident=0x4242, seq=1, payload=b"abcdefgh"):
    return struct.pack("!BBHHH", t, code, 0, ident, seq) + payload


CAPTURED = [  # from tests/unit/test_csum.c
    "4500003ca2de4000400683c90a0900010a090002c3e81f909e4f613f00000000a002"
    "faf06b590000020405b40402080ad09d19f9000000000103030a",
    "4500002b9f5b4000401187520a0900010a090002826414e9001793f768656c6c6f20"
    "69746d2c206f646421",
    "45000031b4ba4000400171fd0a0900010a090002080086c64eab00013ba1086b0000"
    "0000a05c0800000000001011121314",
    "600499e500280640fd000009000000000000000000000001fd00000900000000000"
    "0000000000002978a01bb61a7f4fb00000000a002fd201ef80000020405a00402080"
    "a21e42015000000000103030a",
    "60073a3600191140fd000009000000000000000000000001fd00000900000000000"
    "0000000000002bb2e270f0019cb8569746d20756470206f7665722069707636",
    "6005417a00153a40fd000009000000000000000000000001fd00000900000000000"
    "000000000000280000cc74ead0001000102030405060708090a0b0c",
]


def seeds():
    body = bytes(range(64))
    s = {}
    for i, h in enumerate(CAPTURED):
        p = bytes.fromhex(h)
        s["captured%d" % i] = (b"\0\0\0\0", p)
        s["captured%d_trunc" % i] = (b"\x01\0\0\x02", p[:44])
        s["captured%d_gso_push" % i] = (b"\x02\x14\x14\x01", p)
    s["tcp4_opts"] = (b"\x13\0\0\0", ip4(6, tcp(doff=8, payload=body), ihl=7))
    s["tcp4_doff_short"] = (b"\0\0\0\0", ip4(6, tcp(doff=3, payload=body)))
    s["tcp4_doff_long"] = (b"\0\0\0\0", ip4(6, tcp(doff=15)))
    s["tcp4_frag_first"] = (b"\0\0\0\0", ip4(6, tcp(payload=body),
                                            frag=0x2000))
    s["tcp4_frag_later"] = (b"\0\0\0\0", ip4(6, body, frag=0x2000 | 185))
    s["ip4_bad_ihl"] = (b"\0\0\0\0", b"\x44" + ip4(6, tcp())[1:])
    s["ip4_tot_long"] = (b"\0\0\0\0", ip4(17, udp(payload=body), tot=400))
    s["ip4_tot_zero"] = (b"\x02\0\0\0", ip4(6, tcp(payload=body * 40),
                                           tot=0))
    s["udp4"] = (b"\x45\0\0\0", ip4(17, udp(payload=body)))
    s["udp4_ulen_short"] = (b"\0\0\0\0", ip4(17, udp(payload=body, ulen=20)))
    s["udplite4"] = (b"\0\0\0\0", ip4(136, udp(payload=body, ulen=12)))
    s["icmp4_echo"] = (b"\x25\0\0\0", ip4(1, icmp()))
    s["icmp4_unreach"] = (b"\0\0\0\0", ip4(1, icmp(3, 1, 0, 0,
                                                   ip4(17, udp())[:28])))
    s["sctp4"] = (b"\x11\0\0\0", ip4(132, struct.pack("!HHII", 1, 2, 3, 0)
                                     + body))
    s["dccp4"] = (b"\0\0\0\0", ip4(33, struct.pack("!HHBBHI", 1, 2, 4, 0, 0,
                                                   0) + b"\0" * 4 + body))
    s["ipip4"] = (b"\0\x40\x14\0", ip4(4, ip4(6, tcp(payload=body))))
    s["tcp6"] = (b"\0\0\0\0", ip6(6, tcp(payload=body)))
    s["udp6_ext_chain"] = (b"\0\0\0\0", ip6(0, ext(60) + ext(43, 1) +
                                           ext(17) + udp(payload=body)))
    s["tcp6_frag_first"] = (b"\0\0\0\0", ip6(44, frag6(6, 0, 1) +
                                            tcp(payload=body)))
    s["tcp6_frag_later"] = (b"\0\0\0\0", ip6(44, frag6(6, 100, 0) + body))
    s["ip6_ah_icmp6"] = (b"\0\0\0\0", ip6(51, struct.pack("!BBHII", 58, 4, 0,
                                                        1, 1) + b"\0" * 12 +
                                         icmp(128)))
    s["ip6_hbh_late"] = (b"\0\0\0\0", ip6(60, ext(0) + ext(6) + tcp()))
    s["ip6_ext_loop"] = (b"\0\0\0\0", ip6(60, ext(60) * 12 + ext(6) + tcp()))
    s["ip6_nonext"] = (b"\0\0\0\0", ip6(59, body[:8]))
    s["ip6_trunc_ext"] = (b"\x01\0\0\x10", ip6(0, ext(60, 3) + ext(6) +
                                              tcp())[:50])
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, (ctl, pkt) in sorted(seeds().items()):
        data = ctl + pkt
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("wrote %d seeds, %d bytes, to %s" % (len(seeds()), total, OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
