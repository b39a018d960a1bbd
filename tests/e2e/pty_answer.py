#!/usr/bin/env python3
"""pty_answer.py ANSWERS CMD ARGS...: run CMD on a pseudo-terminal and
answer its prompts (each ends in ": ") in turn with the comma-separated
ANSWERS; prints everything the terminal showed and exits with CMD's exit
code. For the tests of passphrases typed on a terminal."""
import os, pty, sys, time

answers = sys.argv[1].split(",")
args = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(args[0], args)
out = b""
for a in answers:
    buf, t = b"", time.time()
    while not buf.endswith(b": ") and time.time() - t < 10:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    out += buf
    os.write(fd, a.encode() + b"\n")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(st))
