#!/usr/bin/env python3
"""net_abuse.py - abusive HTTP clients for t_security_net.sh, on loopback.

    net_abuse.py MODE PORT ADDRS PER SECONDS

MODE is one of:
  slowloris   PER connections from each address, each sending a request's
              headers one byte at a time (a byte every half second to
              every connection), reconnecting whenever the server closes
              one, so the pressure never lets up
  slowbody    the same with complete headers of a push announcing a 4 MB
              body, then the body one byte at a time
  idle        PER connections from each address that send nothing
  flood       PER threads per address connecting and closing as fast as
              they can, half of them sending a few bytes of garbage first
  bigheaders  PER connections at a time per address, each sending 256 kB
              of headers, reading the answer's status line
  chunked     PER connections per address each streaming a chunked push
              body as fast as the server takes it, never ending it
ADDRS is how many source addresses to use: 127.0.0.2, 127.0.0.3, ...
(loopback is all of 127.0.0.0/8 on Linux), so the per-address limit of
the server applies to each, as it would to clients on many hosts.

Runs for SECONDS or until SIGTERM, then prints one JSON object of counts
(connections opened, closed by the server, refused, answers by status,
bytes sent) and exits 0. When NET_ABUSE_READY names a file, it is
created once the abuse is under way (the slow modes: every first
connection made). Only ever connects to 127.0.0.1.
"""
import json
import os
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def main():
    mode, port, naddr, per, secs = (sys.argv[1], int(sys.argv[2]),
                                    int(sys.argv[3]), int(sys.argv[4]),
                                    float(sys.argv[5]))
    addrs = ["127.0.0.%d" % (2 + i) for i in range(naddr)]
    stop = [time.time() + secs]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, 0.0))

    def going():
        return time.time() < stop[0]

    def ready():
        path = os.environ.get("NET_ABUSE_READY")
        if path:
            open(path, "w").close()
    stats = {"mode": mode, "opened": 0, "closed_by_server": 0,
             "refused": 0, "status": {}, "bytes": 0, "max_open": 0}
    lock = threading.Lock()

    def count(key, n=1):
        with lock:
            stats[key] += n

    def connect(src, timeout=5.0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(timeout)
        try:
            s.connect((HOST, port))
        except OSError:
            s.close()
            count("refused")
            return None
        count("opened")
        return s

    def status_of(s):
        try:
            line = s.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
            code = line.split(" ")[1] if line.startswith("HTTP/") else "none"
        except OSError:
            code = "none"
        with lock:
            stats["status"][code] = stats["status"].get(code, 0) + 1

    if mode in ("slowloris", "slowbody", "idle"):
        if mode == "slowbody":
            head = (b"POST /v1/sync/push HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: 4000000\r\n\r\n")
        else:
            head = b"POST /v1/sync/push HTTP/1.1\r\nHost: x\r\nX-Slow: "
        conns = []  # [socket, source, bytes sent]
        for src in addrs:
            for _ in range(per):
                s = connect(src, 1.0)
                if s:
                    s.setblocking(False)
                    conns.append([s, src, 0])
        ready()
        while going():
            for c in list(conns):
                s, src, n = c
                if mode == "slowbody" and n == 0:
                    data = head
                elif mode == "idle":
                    data = b""
                else:
                    data = (head[n:n + 1] if n < len(head) else b"a")
                closed = False
                try:
                    if data:
                        s.send(data)
                        c[2] += len(data)
                        count("bytes", len(data))
                    try:
                        if s.recv(4096) == b"":
                            closed = True
                    except BlockingIOError:
                        pass
                except OSError:
                    closed = True
                if closed:
                    s.close()
                    conns.remove(c)
                    count("closed_by_server")
                    s = connect(src, 0.2)
                    if s:
                        s.setblocking(False)
                        conns.append([s, src, 0])
            with lock:
                stats["max_open"] = max(stats["max_open"], len(conns))
            time.sleep(0.5)
        # A last look: connections the server closed since the last
        # round are counted too.
        for c in conns:
            try:
                if c[0].recv(4096) == b"":
                    count("closed_by_server")
            except BlockingIOError:
                pass
            except OSError:
                count("closed_by_server")
            c[0].close()
    elif mode == "flood":
        def flooder(src, garbage):
            while going():
                s = connect(src, 1.0)
                if not s:
                    time.sleep(0.01)
                    continue
                try:
                    if garbage:
                        s.send(b"\x16\x03\x01garbage\r\n\r\n")
                except OSError:
                    pass
                s.close()
        threads = [threading.Thread(target=flooder, args=(src, i % 2))
                   for src in addrs for i in range(per)]
        for t in threads:
            t.start()
        ready()
        for t in threads:
            t.join()
    elif mode == "bigheaders":
        big = (b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" +
               b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000)
                        for i in range(256)) + b"\r\n")

        def sender(src):
            while going():
                s = connect(src)
                if not s:
                    continue
                try:
                    s.sendall(big)
                    count("bytes", len(big))
                except OSError:
                    pass
                status_of(s)
                s.close()
        threads = [threading.Thread(target=sender, args=(src,))
                   for src in addrs for _ in range(per)]
        for t in threads:
            t.start()
        ready()
        for t in threads:
            t.join()
    elif mode == "chunked":
        chunk = b"10000\r\n" + b"c" * 0x10000 + b"\r\n"

        def streamer(src):
            while going():
                s = connect(src)
                if not s:
                    continue
                s.settimeout(2.0)
                try:
                    s.sendall(b"POST /v1/sync/push HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n")
                    while going():
                        s.sendall(chunk)
                        count("bytes", len(chunk))
                    s.close()
                    return
                except OSError:
                    count("closed_by_server")
                    status_of(s)
                    s.close()
        threads = [threading.Thread(target=streamer, args=(src,))
                   for src in addrs for _ in range(per)]
        for t in threads:
            t.start()
        ready()
        for t in threads:
            t.join()
    else:
        print("unknown mode " + mode, file=sys.stderr)
        return 2
    print(json.dumps(stats, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
