#!/usr/bin/python3
"""Write the seed corpus of fuzz_etunnel (tests/fuzz/corpus/etunnel):
streams of tunnel frames (frame.h) as the exit reads them, after one
control byte (read size, MTU)."""
import os
import random
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "etunnel")


def tcp(payload, seq=1000, flags=0x18):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + payload, 7, 0x4000, 64,
                     6, 0, bytes([10, 1, 1, 2]), bytes([10, 1, 4, 2]))
    th = struct.pack("!HHIIBBHHH", 5000, 80, seq, 1, 0x50, flags, 65535, 0,
                     0)
    return ip + th + bytes(i & 0xff for i in range(payload))


def frame(pkt, seq, flags=0):
    return struct.pack("!HBBI", len(pkt), 1, flags, seq) + pkt


def hello(session):
    return struct.pack("!HBBI", 0, 1, 2, session)


def stream(sid, typ, off, data=b"", sflags=0, addrs=None):
    body = struct.pack("!BBHQ", typ, sflags, 0, off)
    if addrs is not None:
        body += addrs
    body += data
    return struct.pack("!HBBI", len(body), 1, 8, sid) + body


OPEN = bytes([10, 1, 1, 2, 0x9c, 0x40, 10, 1, 4, 2, 0, 80])


def main():
    random.seed(1)
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "in_order": bytes([0x0f]) + hello(5) +
        b"".join(frame(tcp(100), s) for s in range(8)),
        "reordered": bytes([0x23]) + hello(6) +
        b"".join(frame(tcp(60), s) for s in (0, 2, 1, 5, 4, 3, 9, 7)),
        "gso": bytes([0xf2]) + hello(7) + frame(tcp(9000, flags=0x19), 0) +
        frame(tcp(3000), 1),
        "bad_version": bytes([0x00]) + hello(1) +
        frame(tcp(10), 0)[:2] + b"\x09" + frame(tcp(10), 0)[3:],
        "truncated": bytes([0x11]) + hello(2) + frame(tcp(500), 0)[:300],
        "wrap": bytes([0x05]) + hello(3) +
        b"".join(frame(tcp(20), s & 0xffffffff)
                 for s in (0xfffffffe, 0, 0xffffffff, 1)),
    }
    seeds["stream"] = bytes([0x07]) + hello(8) + \
        stream(5, 1, 0, b"GET / HTTP/1.0\r\n\r\n", 1, OPEN) + \
        stream(5, 1, 18, bytes(300)) + stream(5, 4, 100) + \
        stream(5, 4, 318, sflags=2) + stream(5, 2, 318, sflags=1,
                                              addrs=OPEN) + stream(6, 3, 0)
    seeds["stream_bad"] = bytes([0x1f]) + stream(7, 9, 0) + \
        stream(7, 3, 0, b"x") + stream(7, 4, 0, sflags=1, addrs=OPEN)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
