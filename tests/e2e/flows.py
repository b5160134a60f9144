#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Many long-lived TCP connections that talk all the time, for tests that change the
load balancer under them (upgrade in place).

  flows.py serve PORT NAME [--max-time T]
      Listens on [::]:PORT (dual stack).  Each connection gets "NAME\\n", then every
      line it sends is echoed.  One process, non-blocking; stops after T seconds
      (default 600).

  flows.py udpserve PORT NAME [--max-time T]
      Answers every datagram to [::]:PORT (dual stack) with "NAME\n", from one
      process (socat forks one per datagram: a flood would bury it).

  flows.py client ADDR PORT --count N [--interval S] --stop FILE --out FILE
                  [--ready FILE] [--max-time T]
      Opens N connections to ADDR:PORT and reads each one's first line (the server's
      name).  Once all are open it writes --ready.  Then every connection sends a
      numbered line every S seconds (default 0.1) and expects it back, until FILE
      exists (or T seconds, default 600); then each must complete one more exchange
      (at most 10 s).  Writes one JSON object to --out:
        opened       connections that got their server's name
        failed       connections that could not be opened
        reset        connections reset, closed by the peer, or failing to send
        mismatched   echoes that were not the line sent
        exchanges    lines echoed correctly, in all
        unfinished   connections without their last exchange at the end
        moved        connections whose server name changed (cannot happen over one
                     TCP connection; kept as a check of the check)
        servers      {"NAME": connections}
      Exit 0 once the report is written.

Python 3 standard library only; always stops by itself.
"""
import argparse
import json
import os
import selectors
import socket
import sys
import time


def serve(a):
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", a.port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    hello = (a.name + "\n").encode()
    end = time.monotonic() + a.max_time
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                try:
                    c.send(hello)
                except OSError:
                    c.close()
                    continue
                sel.register(c, selectors.EVENT_READ, "conn")
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                c.close()
                continue
            try:
                c.sendall(data)		# small lines: the socket buffer takes them
            except OSError:
                sel.unregister(c)
                c.close()
    return 0


def udpserve(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("::", a.port))
    s.settimeout(1.0)
    hello = (a.name + "\n").encode()
    end = time.monotonic() + a.max_time
    while time.monotonic() < end:
        try:
            _, peer = s.recvfrom(2048)
            s.sendto(hello, peer)
        except socket.timeout:
            continue
        except OSError:
            continue		# e.g. no route back to a spoofed source
    return 0


class Conn:
    __slots__ = ("sock", "buf", "name", "seq", "waiting", "next_at", "done")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.name = None
        self.seq = 0
        self.waiting = None	# the line sent and not yet echoed
        self.next_at = 0.0
        self.done = False	# made its last exchange after the stop


def client(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    sel = selectors.DefaultSelector()
    r = {"opened": 0, "failed": 0, "reset": 0, "mismatched": 0, "exchanges": 0,
         "unfinished": 0, "moved": 0, "servers": {}}
    conns = []
    end = time.monotonic() + a.max_time
    for _ in range(a.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((a.addr, a.port))
        except BlockingIOError:
            pass
        except OSError:
            r["failed"] += 1
            s.close()
            continue
        c = Conn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    live = set(conns)

    def drop(c, why):
        if c in live:
            live.discard(c)
            r[why] += 1
            sel.unregister(c.sock)
            c.sock.close()

    def on_read(c):
        try:
            data = c.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            drop(c, "reset" if c.name is not None else "failed")
            return
        c.buf += data
        while b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            if c.name is None:
                c.name = text
                r["opened"] += 1
            elif c.waiting is not None and text == c.waiting:
                c.waiting = None
                r["exchanges"] += 1
                if stopping:
                    c.done = True
            else:
                r["mismatched"] += 1

    # Open: every connection has its server's name (or failed), at most 30 s.
    stopping = False
    open_by = time.monotonic() + 30
    while time.monotonic() < open_by and any(c.name is None for c in live):
        for key, _ in sel.select(timeout=0.5):
            on_read(key.data)
    for c in list(live):
        if c.name is None:
            drop(c, "failed")
    for c in live:
        r["servers"][c.name] = r["servers"].get(c.name, 0) + 1
    names = {c: c.name for c in live}
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")

    # Talk, staggered over one interval, until the stop file appears.
    now = time.monotonic()
    for i, c in enumerate(conns):
        c.next_at = now + a.interval * i / max(len(conns), 1)
    stop_deadline = None
    while live:
        now = time.monotonic()
        if not stopping and (os.path.exists(a.stop) or now > end):
            stopping = True
            stop_deadline = now + 10
        if stopping and (now > stop_deadline or all(c.done for c in live)):
            break
        for c in list(live):
            if c.waiting is None and now >= c.next_at and not c.done:
                c.seq += 1
                c.waiting = "%d" % c.seq
                c.next_at = now + a.interval
                try:
                    c.sock.send((c.waiting + "\n").encode())
                except OSError:
                    drop(c, "reset")
        for key, _ in sel.select(timeout=0.01):
            c = key.data
            if c in live:
                on_read(c)
    r["unfinished"] = sum(1 for c in live if not c.done)
    r["moved"] = sum(1 for c in live if c.name != names.get(c))
    for c in list(live):
        sel.unregister(c.sock)
        c.sock.close()
    with open(a.out, "w") as f:
        f.write(json.dumps(r, sort_keys=True) + "\n")
    return 0


def main():
    p = argparse.ArgumentParser(description="Long-lived talking TCP connections.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("port", type=int)
    s.add_argument("name")
    s.add_argument("--max-time", type=float, default=600.0)
    u = sub.add_parser("udpserve")
    u.add_argument("port", type=int)
    u.add_argument("name")
    u.add_argument("--max-time", type=float, default=600.0)
    c = sub.add_parser("client")
    c.add_argument("addr")
    c.add_argument("port", type=int)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--interval", type=float, default=0.1)
    c.add_argument("--stop", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--ready", default=None)
    c.add_argument("--max-time", type=float, default=600.0)
    a = p.parse_args()
    return {"serve": serve, "udpserve": udpserve, "client": client}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
