#!/usr/bin/env python3
"""samebytes.py - are two exports (or two reports) the same bytes, but
for what may differ between the machines that made them?

    samebytes.py dirs SERVER_DIR LAPTOP_DIR   two export directories
    samebytes.py files SERVER_FILE LAPTOP_FILE two reports

What is normalised, and nothing else: the program named as the source
("casebookd VERSION" against "casebook VERSION"), ODM's CreationDateTime
(when the file was made), and, for an export made without --cutoff, its
data cut-off (the time each export began: export.json's data_cutoff,
replaced wherever it occurs in that export's files). A report's data
cut-off made without --cutoff is the time it began: pass --any-time to
replace every UTC time of millisecond precision (the report's cut-off
line; the data hold none at that precision but code-break times, which
the same events give the same). Prints PASS/FAIL lines and exits 1 when
something differs.
"""
import json
import os
import re
import sys

SRC = re.compile(rb"casebookd? \d+\.\d+\.\d+")
CREATED = re.compile(rb'CreationDateTime="[^"]*"')
TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def norm(data, cutoff, any_time):
    data = SRC.sub(b"<SOURCE>", data)
    data = CREATED.sub(b'CreationDateTime="<CREATED>"', data)
    if cutoff:
        data = data.replace(cutoff.encode(), b"<CUTOFF>")
    if any_time:
        data = TIME.sub(b"<TIME>", data)
    return data


def cutoff_of(d):
    j = json.load(open(os.path.join(d, "export.json")))
    return None if j["cutoff_given"] else j["data_cutoff"]


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "at byte %d: %r against %r" % (
                i, a[max(0, i - 40):i + 40], b[max(0, i - 40):i + 40])
    return "lengths %d and %d" % (len(a), len(b))


def main(argv):
    any_time = "--any-time" in argv
    argv = [a for a in argv if a != "--any-time"]
    mode, a, b = argv[1:4]
    bad = 0
    if mode == "dirs":
        ca, cb = cutoff_of(a), cutoff_of(b)
        na, nb = sorted(os.listdir(a)), sorted(os.listdir(b))
        if na != nb:
            print("FAIL same files in %s: %s against %s" % (b, na, nb))
            return 1
        pairs = [(os.path.join(a, n), os.path.join(b, n), n) for n in na]
    else:
        ca = cb = None
        pairs = [(a, b, os.path.basename(b))]
    for pa, pb, name in pairs:
        da = norm(open(pa, "rb").read(), ca, any_time)
        db = norm(open(pb, "rb").read(), cb, any_time)
        if da == db:
            print("PASS same bytes: %s" % pb)
        else:
            bad += 1
            print("FAIL same bytes: %s: %s" % (pb, first_diff(da, db)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
