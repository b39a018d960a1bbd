#!/usr/bin/env python3
"""paper_crfs.py SUBJECT... - print a backlog of paper CRFs for `casebook
import --format csv` (one file with a FORM column): for each subject,
screening (SV, DM), baseline (SV, VAS, WOMAC, PE), week 1 (SV) and months
1, 3 and 6 (SV, VAS, WOMAC, PE) and month 12 (SV): 20 form rows, dates in
their windows from a baseline of 2025-06-02. Values vary with the
subject's position so rows differ."""
import csv
import datetime
import sys

ITEMS = ["VISDT", "BRTHYR", "SEX", "HEIGHT", "WEIGHT", "KNEE", "CONSDT",
         "VAS", "P1", "P2", "P3", "P4", "P5", "S1", "S2",
         "F1", "F2", "F3", "F4", "F5", "ROM", "EFFUS"]
BASE = datetime.date(2025, 6, 2)
DAYS = {"SCR": -14, "BL": 0, "W1": 28, "M1": 51, "M3": 111, "M6": 201,
        "M12": 386}


def rows(n, subject):
    def d(visit):
        return (BASE + datetime.timedelta(days=DAYS[visit])).isoformat()
    out = [("SCR", "SV", {"VISDT": d("SCR")}),
           ("SCR", "DM", {"BRTHYR": str(1950 + n % 20), "SEX": "FM"[n % 2],
                          "HEIGHT": str(150 + n % 40),
                          "WEIGHT": str(55 + n % 40), "KNEE": "LR"[n % 2],
                          "CONSDT": d("SCR")})]
    for visit in ("BL", "W1", "M1", "M3", "M6", "M12"):
        out.append((visit, "SV", {"VISDT": d(visit)}))
        if visit in ("W1", "M12"):
            continue
        out.append((visit, "VAS", {"VAS": str((n * 7 + DAYS[visit]) % 101)}))
        womac = {k: str((n + i) % 5) for i, k in enumerate(
            ["P1", "P2", "P3", "P4", "P5", "S1", "S2",
             "F1", "F2", "F3", "F4", "F5"])}
        out.append((visit, "WOMAC", womac))
        out.append((visit, "PE", {"ROM": str(90 + n % 50),
                                   "EFFUS": ["NONE", "SMALL"][n % 2]}))
    for visit, form, values in out:
        row = {"SUBJECT": subject, "VISIT": visit, "FORM": form}
        row.update(values)
        yield row


def main():
    w = csv.DictWriter(sys.stdout, ["SUBJECT", "VISIT", "FORM"] + ITEMS,
                       lineterminator="\r\n")
    w.writeheader()
    for n, subject in enumerate(sys.argv[1:]):
        for row in rows(n, subject):
            w.writerow(row)


main()
