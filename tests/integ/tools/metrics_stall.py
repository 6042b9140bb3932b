#!/usr/bin/python3
"""metrics_stall.py HOST PORT READY_FILE: scrapers that never read.

Opens 8 connections to HOST:PORT with tiny receive buffers: half send
`GET /metrics` and never read the answer, half never send a request.
Writes READY_FILE once all are connected, then holds them until killed.
"""
import socket
import sys
import time

host, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(8):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256)
    s.connect((host, port))
    if i % 2:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
with open(ready, "w") as f:
    f.write("connected %d\n" % len(socks))
time.sleep(600)
