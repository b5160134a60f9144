#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Numbered UDP packets for chain tests: send them, receive them, report what came.

Payload (tests/progs/stamp.bpf.c): __be32 seq | __u8 n | __u8 ids[15]; the sender
sends n = 0, and each stamp program on the way appends its id.

  udpseq.py send DST_IP PORT [--count N] [--rate PPS] [--src-port P] [--src IP]
      Sends seq 0..N-1 at most PPS packets per second.  IPv4 with SO_NO_CHECK (UDP
      checksum 0, so programs may rewrite the payload and offload never fills one
      in).  Prints {"sent": s, "errors": e}; exit 0 when all N went out.

  udpseq.py recv BIND_IP PORT [--count N] [--timeout S] [--out FILE] [--ready FILE]
                [--max-time T]
      Receives until it has every seq 0..N-1, or S seconds passed without a packet
      (counted from the start before the first), or T seconds in all.  Writes (to
      FILE, default stdout) one JSON object:
        received       distinct seqs 0..N-1 received
        missing        the seqs 0..N-1 not received, ascending, at most 100
        missing_count  how many were not received (received + missing_count == N)
        duplicates     packets whose seq had come before
        reordered      packets that came after one with a higher seq
        orders         {"1,2,3": packets, ...}: the ids of each packet, joined by
                       commas ("" for none), over all well-formed packets
        packets        datagrams received, out_of_range (seq >= N), malformed (too
                       short, n > 15), timed_out (stopped before having all N)
      --ready FILE is written once the socket is bound, so that a test can start the
      sender after it.  Exit 0 when the report is written, 1 on a socket error.

Python 3 standard library only; always stops by itself.
"""
import argparse
import json
import socket
import struct
import sys
import time

IDS_MAX = 15
PAYLOAD = struct.Struct("!IB15s")	# seq, n, ids
MISSING_MAX = 100
SO_NO_CHECK = getattr(socket, "SO_NO_CHECK", 11)	# Linux, <asm-generic/socket.h>


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def positive(kind):
    def conv(s):
        v = kind(s)
        if v <= 0:
            raise argparse.ArgumentTypeError("must be > 0")
        return v
    return conv


def send(a):
    fam = family_of(a.dst)
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    if a.src_port or a.src:
        sock.bind((a.src or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), a.src_port))
    sent = errors = 0
    start = time.monotonic()
    for seq in range(a.count):
        # Pace against the start, so that a late packet does not slow the rest.
        delay = start + seq / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            sock.sendto(PAYLOAD.pack(seq, 0, bytes(IDS_MAX)), (a.dst, a.port))
            sent += 1
        except OSError:
            errors += 1		# e.g. ENOBUFS, or an ICMP error reported on this socket
    sock.close()
    print(json.dumps({"sent": sent, "errors": errors}))
    return 0 if sent == a.count else 1


def recv(a):
    fam = family_of(a.bind_ip)
    try:
        sock = socket.socket(fam, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((a.bind_ip, a.port))
    except OSError as e:
        print(f"udpseq.py: {a.bind_ip} port {a.port}: {e.strerror}", file=sys.stderr)
        return 1
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")

    seen = set()
    orders = {}
    packets = duplicates = out_of_range = malformed = reordered = 0
    highest = -1
    start = last = time.monotonic()
    while len(seen) < a.count:
        now = time.monotonic()
        wait = min(last + a.timeout, start + a.max_time) - now
        if wait <= 0:
            break
        sock.settimeout(wait)
        try:
            data = sock.recv(65535)
        except socket.timeout:
            break
        last = time.monotonic()
        packets += 1
        if len(data) < 5:
            malformed += 1
            continue
        seq, n = struct.unpack_from("!IB", data)
        if n > IDS_MAX or len(data) < 5 + n:
            malformed += 1
            continue
        key = ",".join(str(i) for i in data[5:5 + n])
        orders[key] = orders.get(key, 0) + 1
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
        if seq >= a.count:
            out_of_range += 1
        elif seq in seen:
            duplicates += 1
        else:
            seen.add(seq)
    sock.close()

    missing = [s for s in range(a.count) if s not in seen]
    report = {
        "received": len(seen),
        "missing": missing[:MISSING_MAX],
        "missing_count": len(missing),
        "duplicates": duplicates,
        "reordered": reordered,
        "orders": orders,
        "packets": packets,
        "out_of_range": out_of_range,
        "malformed": malformed,
        "timed_out": len(seen) < a.count,
    }
    text = json.dumps(report, sort_keys=True) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


def main():
    p = argparse.ArgumentParser(description="Numbered UDP packets for chain tests.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send", help="send seq 0..N-1")
    s.add_argument("dst")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=positive(int), default=100)
    s.add_argument("--rate", type=positive(float), default=1000.0, help="packets per second")
    s.add_argument("--src-port", type=int, default=0)
    s.add_argument("--src", default=None, help="source address to bind")
    r = sub.add_parser("recv", help="receive and report")
    r.add_argument("bind_ip")
    r.add_argument("port", type=int)
    r.add_argument("--count", type=positive(int), default=100)
    r.add_argument("--timeout", type=positive(float), default=5.0,
                   help="seconds without a packet before giving up")
    r.add_argument("--max-time", type=positive(float), default=300.0,
                   help="seconds in all before giving up")
    r.add_argument("--out", default="-")
    r.add_argument("--ready", default=None, help="file written once bound")
    a = p.parse_args()
    return send(a) if a.cmd == "send" else recv(a)


if __name__ == "__main__":
    sys.exit(main())
