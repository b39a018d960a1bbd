#!/usr/bin/env python3
"""safety_study.py - the study t_export.sh and t_report.sh build, and what
they must find in every export and report, computed here from the inputs
alone (never with Casebook's code).

    safety_study.py steps                  the entry steps, one a line,
                                           fields separated by tabs
    safety_study.py report FMT FILE IDS [--part N] [--site S]
                                           check a safety report (open)
    safety_study.py export FMT DIR IDS [--part N] [--site S]
                                           check an export directory
                                           (--part 1: as of the mark)
    safety_study.py scan LIST DIR...       blinding: no arm, sealed arm
                                           or unblinded value in any byte
    safety_study.py closed JSON IDS ARMS [--part N] [--site S]
                                           check a closed report (json)
                                           by arm; ARMS is `casebook
                                           randlist reveal --csv` of the
                                           list (randno -> arm)

IDS is the file the shell writes: "key subject-id randno kit" a line.
Each check prints "PASS name" or "FAIL name: why" lines (tests/run.sh
counts them) and exits 1 when one failed.
"""
import csv
import html.parser
import io
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

CONSENT = "2026-01-05"
HOSTILE = "Rash, \"itchy\" <script>alert(1)</script> ]]> & 'x' \u00e9"
CELL = {"CELLCNT": "987.6", "VIABIL": "81.9", "STERIL": "PASS"}


def ae(term, onset, grade, sev, ser="N", rel="NOT", acn="NONE",
       out="RECOVERED", end=None, ongoing=None, crit=()):
    a = {"AETERM": term, "AESTDTC": onset, "AETOXGR": str(grade),
         "AESEV": sev, "AESER": ser, "AEREL": rel, "AERELPR": "NOT",
         "AEACN": acn, "AEOUT": out}
    if end:
        a["AEENDTC"] = end
    a["AEONGO"] = ongoing or ("N" if end else "Y")
    for c in crit:
        a[c] = "Y"
    return a


# Each subject: its laptop, site, age, K-L grade, the dates of
# randomization and dose (None: not done), end of study, adverse events.
# part: 1 is entered (and synced) before the cut-off mark, 2 after.
SUBJECTS = [
    dict(key="s1", dev="a", site="KR01", part=1, age=60, rand="2026-01-20",
         dose="2026-02-10", bl="2026-01-20",
         vas="55", womac=[1, 2, 0, 3, 1, 2, 1, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4,
                          0, 1, 2, 3, 4, 0, 1],
         aes=[ae("Headache", "2026-02-12", 1, "MILD", rel="POSSIBLE",
                 end="2026-02-13"),
              ae("Knee swelling", "2026-02-01", 2, "MOD", acn="TREATED",
                 out="RECOVERING"),
              ae("Cellulitis", "2026-02", 3, "SEV", ser="Y", rel="PROBABLE",
                 acn="TREATED", out="NOT_RECOVERED", crit=["AESHOSP"])],
         sign=("SCR", "DM"), cell=True),
    dict(key="s2", dev="a", site="KR01", part=1, age=55, rand="2026-01-25",
         dose="2026-02-15",
         aes=[ae("headache", "2026-03-01", 2, "MOD", rel="UNLIKELY",
                 acn="WITHDRAWN", end="2026-03-04")],
         eos=("WITHDREW", "2026-03-05", "adverse event")),
    dict(key="s3", dev="a", site="KR01", part=1, age=50, rand="2026-02-03",
         dose=None,
         aes=[ae("Nausea", "2026-02-20", 1, "MILD", end="2026-02-21")]),
    dict(key="s4", dev="a", site="KR01", part=1, age=30, rand=None,
         dose=None, aes=[]),
    dict(key="s5", dev="a", site="KR01", part=1, age=70, rand="2026-02-05",
         dose="2026-02-12",
         aes=[ae("Headache", "2026-02-13", 1, "MILD", rel="DEFINITE",
                 end="2026-02-14"),
              ae("Myocardial infarction", "2026-03-10", 5, "SEV", ser="Y",
                 out="FATAL", end="2026-03-10", crit=["AESDTH"])],
         eos=("DEATH", "2026-03-10", "myocardial infarction"),
         unblind="suspected allergic reaction; the treating physician asked"),
    dict(key="s6", dev="a", site="KR01", part=1, age=45, rand="2026-02-06",
         dose="2026-02-14",
         aes=[ae(HOSTILE, "2026-02-20", 1, "MILD", rel="DEFINITE")],
         conflict=("SCR", "DM", "WEIGHT", "71.5", "72.5")),
    dict(key="s7", dev="b", site="KR02", part=2, age=62, rand="2026-02-10",
         dose="2026-03-01",
         aes=[ae("HEADACHE", "2026-03-02", 2, "MOD", end="2026-03-03"),
              ae("Pneumonia", "2026-03-05", 3, "SEV", ser="Y",
                 rel="UNLIKELY", acn="TREATED", end="2026-03-15",
                 crit=["AESHOSP", "AESLIFE"])]),
    dict(key="s8", dev="b", site="KR02", part=2, age=58, rand="2026-03-02",
         dose="2026-03-20", aes=[]),
    dict(key="s9", dev="b", site="KR02", part=2, age=None, rand=None,
         dose=None, aes=[]),
]
SEV = ["MILD", "MOD", "SEV"]
REL = ["NOT", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE"]
CRITERIA = ["AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE"]
CRIT_LABELS = {
    "AESDTH": "Serious: results in death",
    "AESLIFE": "Serious: life-threatening",
    "AESHOSP": "Serious: requires or prolongs hospitalization",
    "AESDISAB": "Serious: persistent or significant disability",
    "AESCONG": "Serious: congenital anomaly or birth defect",
    "AESMIE": "Serious: other important medical event",
}


def steps():
    out = []

    def s(*f):
        out.append("\t".join(str(x) for x in f))

    for part in (1, 2):
        for sub in [x for x in SUBJECTS if x["part"] == part]:
            k, d = sub["key"], sub["dev"]
            s("add", k, d)
            dm = ["CONSDT=" + CONSENT, "SEX=" + ("F" if k in ("s1", "s5", "s7")
                                                else "M"),
                  "HEIGHT=165.0", "WEIGHT=70.0", "KNEE=L"]
            if sub["age"]:
                dm.append("BRTHYR=%d" % (2026 - sub["age"]))
            s("set", k, d, "SCR", "DM", *dm)
            if sub["age"]:
                s("set", k, d, "SCR", "ELIG", "AGE=%d" % sub["age"],
                  "KLGRADE=2", "PAIN3M=Y", "BMI=28.0", "IAINJ3M=N",
                  "INFLARTH=N", "PREG=N")
            if sub.get("bl"):
                s("set", k, d, "BL", "SV", "VISDT=" + sub["bl"])
            if sub.get("vas"):
                s("set", k, d, "BL", "VAS", "VAS=" + sub["vas"])
            if sub.get("womac"):
                names = (["P%d" % i for i in range(1, 6)] +
                         ["S1", "S2"] + ["F%d" % i for i in range(1, 18)])
                s("set", k, d, "BL", "WOMAC",
                  *["%s=%d" % (n, v) for n, v in zip(names, sub["womac"])])
        s("sync", "a" if part == 1 else "b")
        for sub in [x for x in SUBJECTS if x["part"] == part]:
            k, d = sub["key"], sub["dev"]
            if sub["rand"]:
                s("rand", k, d, sub["rand"])
            if sub["dose"]:
                s("dose", k, d, sub["dose"] + "T10:00")
            for a in sub["aes"]:
                s("ae", k, d, *["%s=%s" % kv for kv in a.items()])
            if sub.get("eos"):
                st, dt, why = sub["eos"]
                s("set", k, d, "LOG", "EOS", "EOSSTAT=" + st, "EOSDT=" + dt,
                  "EOSREAS=" + why)
        s("sync", "a" if part == 1 else "b")
        if part == 1:
            for sub in SUBJECTS:
                if sub.get("conflict"):
                    v, f, item, x1, x2 = sub["conflict"]
                    s("sync", "a2")
                    s("setr", sub["key"], "a", v, f, "scale recalibrated",
                      "%s=%s" % (item, x1))
                    s("setr", sub["key"], "a2", v, f, "weighed again",
                      "%s=%s" % (item, x2))
                    s("sync", "a")
                    s("sync", "a2")
            s("sync", "inv")
            s("sync", "lab")
            for sub in SUBJECTS:
                if sub.get("sign"):
                    s("sign", sub["key"], "inv", *sub["sign"])
                if sub.get("unblind"):
                    s("unblind", sub["key"], "inv", sub["unblind"])
                if sub.get("cell"):
                    s("set", sub["key"], "lab", "INJ", "CELL",
                      *["%s=%s" % kv for kv in CELL.items()])
            s("sync", "inv")
            s("sync", "lab")
            s("sync", "a")
            s("mark", "part1")
    return out


# ---- the rules, written here from TRIAL.md ------------------------------------

def month_last_day(y, m):
    import calendar
    return calendar.monthrange(y, m)[1]


def certainly_before(onset, dose_date):
    """A partial date is before the dose only if its last possible day is."""
    p = onset.split("-")
    y = int(p[0])
    m = int(p[1]) if len(p) > 1 else 12
    d = int(p[2]) if len(p) > 2 else month_last_day(y, m)
    return "%04d-%02d-%02d" % (y, m, d) < dose_date


def study_day(date, dose_date):
    import datetime
    if not dose_date or len(date) != 10:
        return ""
    a = datetime.date.fromisoformat(date)
    b = datetime.date.fromisoformat(dose_date[:10])
    n = (a - b).days
    return str(n + 1 if n >= 0 else n)


def subjects(part=None, site=None):
    return [s for s in SUBJECTS
            if (part is None or s["part"] <= part) and
            (site is None or s["site"] == site)]


def state(s):
    if s.get("eos"):
        return {"WITHDREW": "withdrawn", "DEATH": "died",
                "COMPLETED": "completed", "LOST": "lost to follow-up"}[
                    s["eos"][0]]
    if s["dose"]:
        return "dosed"
    if s["rand"]:
        return "randomized"
    if s["age"] and not (40 <= s["age"] <= 75):
        return "screen failure"
    return "screening"


def term_key(t):
    """Terms group ignoring ASCII case and surrounding spaces."""
    return "".join(c.upper() if c.isascii() else c for c in t.strip(" "))


def all_aes(subs):
    for s in subs:
        for i, a in enumerate(s["aes"], 1):
            yield s, i, a


def te(s, a):
    return bool(s["dose"]) and not certainly_before(a["AESTDTC"], s["dose"])


def flags(a):
    return dict(serious=a["AESER"] == "Y",
                related=a["AEREL"] in ("POSSIBLE", "PROBABLE", "DEFINITE"),
                death=a["AEOUT"] == "FATAL" or a.get("AESDTH") == "Y",
                withdrawn=a["AEACN"] == "WITHDRAWN")


def expected_report(part=None, site=None, arm_of=None, arms=None):
    """Every table of the open report, as {id: {label or key: cells}},
    with cells as (n, N), numbers or texts. With arm_of (subject key ->
    arm code) and arms (the protocol's codes in order), the columns of
    the summary tables are the arms, as the closed report has them."""
    subs = subjects(part=part, site=site)
    sites = sorted({s["site"] for s in subs})
    groups = (arms if arm_of else sites) + ["total"]

    def col(s):
        return arm_of[s["key"]] if arm_of else s["site"]

    def grp(s):
        return [col(s), "total"]

    N = {g: 0 for g in groups}
    for s in subs:
        if s["dose"]:
            for g in grp(s):
                N[g] += 1
    exp = {}
    # enrollment by site
    rows = {}
    for g in sites + ["Total"]:
        ss = [s for s in subs if g == "Total" or s["site"] == g]
        st = [state(s) for s in ss]
        rows[g] = [len(ss), st.count("screen failure"),
                   sum(1 for s in ss if s["rand"]),
                   sum(1 for s in ss if s["dose"]),
                   sum(1 for x in st if x in ("randomized", "dosed")),
                   st.count("completed"), st.count("withdrawn"),
                   st.count("lost to follow-up"), st.count("died")]
    exp["enrollment"] = rows
    # by month
    months = sorted({s["rand"][:7] for s in subs if s["rand"]})
    rows, cum = {}, 0
    for m in months:
        per = [sum(1 for s in subs if s["rand"] and s["rand"][:7] == m and
                   s["site"] == g) for g in sites]
        cum += sum(per)
        rows[m] = per + [sum(per), cum]
    exp["enrollment_time"] = rows
    # exposure
    def per_group(pred):
        return [sum(1 for s in subs if pred(s) and (g == "total" or
                                                    col(s) == g))
                for g in groups]
    exp["exposure"] = {
        "Randomized": per_group(lambda s: s["rand"]),
        "Dosed (safety population)": per_group(lambda s: s["dose"]),
        "Randomized, not dosed": per_group(lambda s: s["rand"] and
                                           not s["dose"]),
    }

    def count(row_of, labels):
        """subjects of the safety population per row: row_of(s, teaes)
        gives the set of row labels a subject is in."""
        t = {lab: {g: 0 for g in groups} for lab in labels}
        for s in subs:
            if not s["dose"]:
                continue
            teaes = [a for a in s["aes"] if te(s, a)]
            if not teaes:
                continue
            for lab in row_of(s, teaes):
                for g in grp(s):
                    t[lab][g] += 1
        return {lab: [(t[lab][g], N[g]) for g in groups] for lab in labels}

    ov = ["Any TEAE", "Any serious TEAE", "Any related TEAE",
          "Any TEAE leading to withdrawal", "Any fatal TEAE"]
    keys = [None, "serious", "related", "withdrawn", "death"]
    exp["teae_overview"] = count(
        lambda s, t: {ov[i] for i, k in enumerate(keys)
                      if k is None or any(flags(a)[k] for a in t)}, ov)
    gl = ["Grade %d" % g for g in range(1, 6)] + ["Not recorded"]
    exp["teae_grade"] = count(
        lambda s, t: {"Grade %d" % max(int(a["AETOXGR"]) for a in t)}, gl)
    sl = ["Mild", "Moderate", "Severe", "Not recorded"]
    exp["teae_severity"] = count(
        lambda s, t: {sl[max(SEV.index(a["AESEV"]) for a in t)]}, sl)
    cl = ["Any serious TEAE"] + [CRIT_LABELS[c] for c in CRITERIA]
    exp["teae_serious"] = count(
        lambda s, t: ({"Any serious TEAE"} if any(a["AESER"] == "Y"
                                                   for a in t) else set()) |
        {CRIT_LABELS[c] for c in CRITERIA for a in t if a.get(c) == "Y"},
        cl)
    rl_labels = ["Not related", "Unlikely", "Possible", "Probable",
                 "Definite"]
    rl = (["Any related TEAE"] + ["Strongest: " + x for x in rl_labels] +
          ["Strongest: not recorded"])
    exp["teae_related"] = count(
        lambda s, t: ({"Any related TEAE"} if any(flags(a)["related"]
                                                   for a in t) else set()) |
        {"Strongest: " + rl_labels[max(REL.index(a["AEREL"]) for a in t)]},
        rl)
    terms = sorted({term_key(a["AETERM"]) for s in subs if s["dose"]
                    for a in s["aes"] if te(s, a)})
    exp["teae_term"] = count(
        lambda s, t: {term_key(a["AETERM"]) for a in t}, terms)
    # listings: (subject key, AE number) -> the cells checked
    def listing(pred):
        rows = {}
        for s, i, a in all_aes(subs):
            if not pred(a):
                continue
            ser = "N"
            if a["AESER"] == "Y":
                cr = [c for c in CRITERIA if a.get(c) == "Y"]
                ser = "Y: " + ", ".join(cr) if cr else "Y"
            end = a.get("AEENDTC") or ("ongoing" if a["AEONGO"] == "Y"
                                       else "")
            rows[(s["key"], i)] = dict(
                site=s["site"], term=a["AETERM"], onset=a["AESTDTC"],
                day=study_day(a["AESTDTC"], s["dose"]), end=end,
                grade=a["AETOXGR"], severity=a["AESEV"], serious=ser,
                relationship=a["AEREL"], action=a["AEACN"],
                outcome=a["AEOUT"], teae="Y" if te(s, a) else "N")
        return rows
    exp["ae_listing"] = listing(lambda a: True)
    exp["sae_listing"] = listing(lambda a: a["AESER"] == "Y")
    exp["ae_withdrawal"] = listing(lambda a: a["AEACN"] == "WITHDRAWN")
    exp["deaths"] = {s["key"]: dict(date=s["eos"][1],
                                    day=study_day(s["eos"][1], s["dose"]))
                     for s in subs if state(s) == "died"}
    exp["codebreaks"] = {s["key"]: dict(by="invlee", reason=s["unblind"])
                         for s in subs if s.get("unblind")}
    return groups, N, exp


# ---- checking -----------------------------------------------------------------

FAILED = 0


def check(name, want, got):
    global FAILED
    if want == got:
        print("PASS " + name)
    else:
        FAILED += 1
        print("FAIL %s: wanted %r, got %r" % (name, want, got))


def ok(name, cond, why=""):
    check(name, True, bool(cond)) if cond else check(name, why or True,
                                                     False)


def load_ids(path):
    ids = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 2:
            ids[f[0]] = dict(id=f[1], randno=f[2] if len(f) > 2 else "",
                             kit=f[3] if len(f) > 3 else "")
    return ids


def pct(n, N):
    return "0" if n == 0 else "%d (%.1f)" % (n, 100.0 * n / N)


def norm_report(fmt, path):
    """Any format back to {table: (column ids, [rows of cell texts])},
    cell texts as the text report shows them."""
    data = open(path, encoding="utf-8").read()
    tables = {}
    if fmt == "json":
        j = json.loads(data)
        for t in j["tables"]:
            cols = [c["id"] for c in t["columns"]]
            rows = []
            for r in t["rows"]:
                cells = []
                for c in r:
                    if isinstance(c, dict):
                        cells.append(pct(c["n"], c["N"]) if c["N"] else
                                     ("0" if c["n"] == 0 else
                                      "%d (-)" % c["n"]))
                    elif c is None:
                        cells.append("")
                    else:
                        cells.append(str(c))
                rows.append(cells)
            tables[t["id"]] = (cols, rows)
        return tables, j
    if fmt == "csv":
        rd = csv.reader(io.StringIO(data, newline=""))
        head = None
        for row in rd:
            if row[0].startswith("#"):
                head, hid = row[1:], row[0][1:]
                tables.setdefault(hid, ([], []))
                continue
            if row[0] == "report":
                tables["report"][1].append(row[1:])
                continue
            tid = row[0]
            if tid != hid:
                raise SystemExit("csv: a row of %s under %s" % (tid, hid))
            cols, cells, i = [], [], 0
            while i < len(head):
                h = head[i]
                if h.endswith("_n") and i + 1 < len(head) and \
                        head[i + 1] == h[:-2] + "_pct":
                    n = int(row[1 + i])
                    p = row[2 + i]
                    cells.append("0" if n == 0 else
                                 ("%d (%s)" % (n, p) if p else "%d (-)" % n))
                    cols.append(h[:-2])
                    i += 2
                else:
                    cells.append(row[1 + i])
                    cols.append(h)
                    i += 1
            if not tables[tid][0]:
                tables[tid][0].extend(cols)
            tables[tid][1].append(cells)
        return tables, None
    if fmt == "html":
        class P(html.parser.HTMLParser):
            def __init__(self):
                super().__init__()
                self.sec = None
                self.rows = None
                self.cell = None
                self.t = {}

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if tag == "section" and a.get("id", "").startswith("t-"):
                    self.sec = a["id"][2:]
                    self.t[self.sec] = ([], [])
                elif tag == "tr" and self.sec:
                    self.rows = []
                elif tag in ("td", "th") and self.rows is not None:
                    self.cell = ""

            def handle_endtag(self, tag):
                if tag in ("td", "th") and self.cell is not None:
                    self.rows.append(self.cell)
                    self.cell = None
                elif tag == "tr" and self.rows is not None:
                    if self.t[self.sec][0] == []:
                        self.t[self.sec][0].extend(self.rows)
                    else:
                        self.t[self.sec][1].append(self.rows)
                    self.rows = None

            def handle_data(self, d):
                if self.cell is not None:
                    self.cell += d
        p = P()
        p.feed(data)
        return p.t, None
    raise SystemExit("unknown format " + fmt)


def check_text_width(path):
    bad = [line for line in open(path, encoding="utf-8").read().split("\n")
           if len(line) > 80]
    check("text: every line fits 80 columns", [], bad[:3])


def text_rows(path, title):
    """Lines of one table of the text report: after its title, before
    the next numbered title."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, on = [], False
    for line in lines:
        if re.match(r"^\d+\. ", line):
            on = line.split(". ", 1)[1] == title
            continue
        if on:
            out.append(line)
    return out


def check_report(fmt, path, ids_path, part=None, site=None):
    ids = load_ids(ids_path)
    groups, N, exp = expected_report(part, site)
    if fmt == "text":
        return check_text(path, ids, groups, N, exp)
    tables, j = norm_report(fmt, path)
    if j is not None:
        check(fmt + ": type open", "open", j["type"])
        check(fmt + ": safety population",
              sum(1 for s in subjects(part, site) if s["dose"]),
              j["safety_population"])
        check(fmt + ": columns", groups, [c["id"] for c in j["columns"]])
        check(fmt + ": N per column", [N[g] for g in groups],
              [c["N"] for c in j["columns"]])
    for tid in ("enrollment", "enrollment_time", "exposure"):
        got = {r[0]: [int(x) for x in r[1:]] for r in tables[tid][1]}
        check("%s: %s" % (fmt, tid), exp[tid], got)
    for tid in ("teae_overview", "teae_grade", "teae_severity",
                "teae_serious", "teae_related", "teae_term"):
        want = {lab: [pct(n, d) for n, d in cells]
                for lab, cells in exp[tid].items()}
        got = {r[0]: r[1:] for r in tables[tid][1]}
        check("%s: %s" % (fmt, tid), want, got)
        if tid == "teae_term":
            order = [r[0] for r in tables[tid][1]]
            tot = {lab: c[-1][0] for lab, c in exp[tid].items()}
            check(fmt + ": terms most frequent first",
                  sorted(order, key=lambda k: (-tot[k], k)), order)
    byid = {v["id"]: k for k, v in ids.items()}
    for tid in ("ae_listing", "sae_listing", "ae_withdrawal"):
        cols, rows = tables[tid]
        got = {}
        for r in rows:
            d = dict(zip(cols, r))
            if fmt == "html":
                d = dict(zip(["site", "subject", "ae", "term", "onset",
                              "day", "end", "grade", "severity", "serious",
                              "relationship", "action", "outcome", "teae"],
                             r))
            got[(byid.get(d["subject"], d["subject"]), int(d["ae"]))] = {
                k: d[k] for k in ("site", "term", "onset", "day", "end",
                                  "grade", "severity", "serious",
                                  "relationship", "action", "outcome",
                                  "teae")}
        check("%s: %s" % (fmt, tid), exp[tid], got)
    cols, rows = tables["deaths"]
    got = {byid.get(r[1], r[1]): dict(date=r[2], day=r[3]) for r in rows}
    check(fmt + ": deaths", exp["deaths"], got)
    cols, rows = tables["codebreaks"]
    got = {byid.get(r[1], r[1]): dict(by=r[2], reason=r[4]) for r in rows}
    check(fmt + ": code-breaks", exp["codebreaks"], got)
    return FAILED


def check_closed(path, ids_path, arms_csv, part=None, site=None):
    """The closed report (json): every summary table by arm, the arms
    read from the list itself (randno -> arm), never from the report."""
    ids = load_ids(ids_path)
    by_randno = {}
    with open(arms_csv, newline="") as f:
        for row in csv.DictReader(f):
            by_randno[row["randno"]] = row["arm"]
    arm_of = {}
    for s in SUBJECTS:
        rn = ids.get(s["key"], {}).get("randno", "")
        arm_of[s["key"]] = by_randno.get(rn, "") if rn else ""
    arms = ["MSC", "PBO"]
    ok("closed: every randomized subject's arm is known from the list",
       all(arm_of[s["key"]] in arms for s in SUBJECTS if s["rand"]),
       repr(arm_of))
    groups, N, exp = expected_report(part, site, arm_of, arms)
    subs = subjects(part, site)
    tables, j = norm_report("json", path)
    check("closed: type", "closed", j["type"])
    check("closed: columns", groups, [c["id"] for c in j["columns"]])
    check("closed: N per arm", [N[g] for g in groups],
          [c["N"] for c in j["columns"]])
    check("closed: safety population",
          sum(1 for s in subs if s["dose"]), j["safety_population"])
    got = {r[0]: [int(x) for x in r[1:]] for r in tables["exposure"][1]}
    check("closed: exposure by arm", exp["exposure"], got)
    for tid in ("teae_overview", "teae_grade", "teae_severity",
                "teae_serious", "teae_related", "teae_term"):
        want = {lab: [pct(n, d) for n, d in cells]
                for lab, cells in exp[tid].items()}
        got = {r[0]: r[1:] for r in tables[tid][1]}
        check("closed: %s by arm" % tid, want, got)
    return FAILED


def check_text(path, ids, groups, N, exp):
    check_text_width(path)
    data = open(path, encoding="utf-8").read()
    ok("text: states the cut-off", "Data cut-off:" in data)
    ok("text: the open report", "INTERIM SAFETY REPORT, open" in data)
    titles = {
        "teae_overview": "Subjects with treatment-emergent adverse events "
                         "(TEAE)",
        "teae_grade": "Subjects with a TEAE, by worst grade",
        "teae_severity": "Subjects with a TEAE, by worst severity",
        "teae_serious": "Subjects with a serious TEAE, by seriousness "
                        "criterion",
        "teae_related": "Subjects with a TEAE, by relationship to study "
                        "treatment",
    }
    for tid, title in titles.items():
        # Rows: a label and its cells; a wrapped label goes on in the
        # lines below, which hold nothing else.
        rows = []
        for ln in text_rows(path, title):
            if not ln.strip() or ln.startswith("---") or ln.startswith(" "):
                continue
            m = re.match(r"^(.*?\S)\s{2,}(\S.*)$", ln)
            if m:
                rows.append([m.group(1), m.group(2)])
            elif rows:
                rows[-1][0] += " " + ln.strip()
        got = {}
        for lab, cells in exp[tid].items():
            line = next((r[1] for r in rows if r[0] == lab), None)
            if line is None:
                got[lab] = None
                continue
            rest = line.split()
            toks, i = [], 0
            while i < len(rest):
                if i + 1 < len(rest) and rest[i + 1].startswith("("):
                    toks.append(rest[i] + " " + rest[i + 1])
                    i += 2
                else:
                    toks.append(rest[i])
                    i += 1
            got[lab] = toks
        check("text: " + tid, {k: [pct(n, d) for n, d in c]
                               for k, c in exp[tid].items()}, got)
    # Every AE of the listing: its subject, number, onset and TE flag on
    # one line of the listing (the first panel holds them).
    lines = text_rows(path, "Adverse events")
    missing = []
    for (k, i), row in exp["ae_listing"].items():
        sid = ids[k]["id"]
        pat = re.compile(r"^%s\s+%s\s+%d\s" % (re.escape(row["site"]),
                                               re.escape(sid), i))
        if not any(pat.match(ln) and row["onset"] in ln for ln in lines):
            missing.append((k, i))
    check("text: every AE listed with its onset", [], missing)
    return FAILED


# ---- exports ------------------------------------------------------------------

def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def womac_scores(v):
    p, s, f = v[0:5], v[5:7], v[7:24]
    return dict(womac_pain="%.2f" % sum(p), womac_stiffness="%.2f" % sum(s),
                womac_function="%.2f" % sum(f),
                womac_total="%.2f" % (sum(p) + sum(s) + sum(f)))


def check_export(fmt, d, ids_path, part=None, site=None):
    ids = load_ids(ids_path)
    subs = subjects(part=part, site=site)
    byid = {v["id"]: k for k, v in ids.items()}
    man = json.load(open(os.path.join(d, "export.json")))
    check(fmt + ": export.json format", fmt, man["format"])
    check(fmt + ": export.json blinded", True, man["blinded"])
    check(fmt + ": export.json withholds the unblinded items",
          ["CELL.CELLCNT", "CELL.STERIL", "CELL.VIABIL"],
          sorted(man["withheld"]))
    ok(fmt + ": export.json states the cut-off",
       re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                man["data_cutoff"]))
    check(fmt + ": export.json subjects", len(subs), man["subjects"])
    listed = sorted(f["name"] for f in man["files"])
    check(fmt + ": export.json lists the files", sorted(
        x for x in os.listdir(d) if x != "export.json"), listed)
    if fmt == "csv":
        check_csv(d, ids, subs, byid)
    elif fmt == "sdtm":
        check_sdtm(d, ids, subs, byid)
    elif fmt == "odm":
        check_odm(d, ids, subs, byid)
    elif fmt == "jsonl":
        check_jsonl(d, ids, subs, byid)
    return FAILED


def check_csv(d, ids, subs, byid):
    keys = {s["key"] for s in subs}
    rows = read_csv(os.path.join(d, "subjects.csv"))
    check("csv: subjects.csv rows", sorted(ids[k]["id"] for k in keys),
          sorted(r["SUBJECT"] for r in rows))
    check("csv: subjects.csv never has an arm", False,
          any("ARM" in c for c in rows[0].keys()) if rows else False)
    got = {byid[r["SUBJECT"]]: (r["SITE"], r["STATUS"], r["RANDNO"],
                                r["KITNO"], r["DOSEDT"], r["CODEBREAK"])
           for r in rows}
    want = {s["key"]: (s["site"], state(s), ids[s["key"]]["randno"],
                       ids[s["key"]]["kit"], s["dose"] or "",
                       "Y" if s.get("unblind") else "N") for s in subs}
    check("csv: subjects.csv status, numbers, dose, code-break", want, got)
    ok("csv: no file for the unblinded form",
       not os.path.exists(os.path.join(d, "CELL.csv")))
    ae_rows = read_csv(os.path.join(d, "AE.csv"))
    got = {(byid[r["SUBJECT"]], int(r["INSTANCE"])):
           (r["AETERM"], r["AESTDTC"], r["AESTDTC_DY"], r["TRTEMFL"],
            r["AEENDTC"]) for r in ae_rows}
    want = {(s["key"], i): (a["AETERM"], a["AESTDTC"],
                            study_day(a["AESTDTC"], s["dose"]),
                            "Y" if te(s, a) else "N", a.get("AEENDTC", ""))
            for s, i, a in all_aes(subs)}
    check("csv: AE.csv terms, onsets, study days, TEAE flags", want, got)
    head = list(ae_rows[0].keys()) if ae_rows else []
    check("csv: AE.csv item columns in protocol order",
          ["AETERM", "AESTDTC", "AESTDTC_DY", "AEENDTC", "AEENDTC_DY",
           "AEONGO", "AETOXGR", "AESEV", "AESER"], head[5:14])
    dm = read_csv(os.path.join(d, "DM.csv"))
    conf = [r for r in dm if r["CONFLICTS"]]
    for s in subs:
        if s.get("conflict"):
            v, f, item, x1, x2 = s["conflict"]
            r = next(r for r in dm if byid[r["SUBJECT"]] == s["key"])
            check("csv: a conflicted value is empty", "", r[item])
            ok("csv: the row names the conflict and both values",
               item in r["CONFLICTS"] and x1 in r["CONFLICTS"] and
               x2 in r["CONFLICTS"], r["CONFLICTS"])
            kc = read_csv(os.path.join(d, "conflicts.csv"))
            check("csv: conflicts.csv has each head",
                  sorted([x1, x2]), sorted(r["VALUE"] for r in kc
                                           if r["ITEM"] == item))
    check("csv: one conflicted row",
          sum(1 for s in subs if s.get("conflict")), len(conf))
    for s in subs:
        if s.get("womac"):
            w = read_csv(os.path.join(d, "WOMAC.csv"))
            r = next(r for r in w if byid[r["SUBJECT"]] == s["key"])
            check("csv: WOMAC scores", womac_scores(s["womac"]),
                  {k: r[k] for k in womac_scores(s["womac"])})
            check("csv: VISITDY of the baseline visit",
                  study_day(s["bl"], s["dose"]), r["VISITDY"])
            v = read_csv(os.path.join(d, "VAS.csv"))
            r = next(r for r in v if byid[r["SUBJECT"]] == s["key"])
            check("csv: VAS and its score", (s["vas"], s["vas"] + ".00"),
                  (r["VAS"], r["vas"]))
    dic = read_csv(os.path.join(d, "dictionary.csv"))
    sev = next(r for r in dic if r["FORM"] == "AE" and r["COLUMN"] == "AESEV")
    check("csv: dictionary codes", "MILD=Mild; MOD=Moderate; SEV=Severe",
          sev["CODES"])
    ht = next(r for r in dic if r["COLUMN"] == "HEIGHT")
    check("csv: dictionary unit and range", ("cm", "100..230", "decimal"),
          (ht["UNIT"], ht["RANGE"], ht["TYPE"]))
    ok("csv: dictionary lists the study day columns",
       any(r["COLUMN"] == "AESTDTC_DY" for r in dic))
    ok("csv: dictionary lists the scores",
       any(r["COLUMN"] == "womac_total" for r in dic))
    ok("csv: dictionary has no unblinded item",
       not any(r["FORM"] == "CELL" for r in dic))
    raw = open(os.path.join(d, "AE.csv"), "rb").read()
    ok("csv: CRLF line ends", raw.count(b"\r\n") == raw.count(b"\n"))


def check_sdtm(d, ids, subs, byid):
    dm = read_csv(os.path.join(d, "DM.csv"))
    want = {s["key"]: dict(DOMAIN="DM", SITEID=s["site"],
                           RFSTDTC=(s["dose"] + "T10:00") if s["dose"]
                           else "",
                           RFXSTDTC=(s["dose"] + "T10:00") if s["dose"]
                           else "",
                           RFICDTC=CONSENT,
                           AGE=str(s["age"]) if s["age"] else "",
                           AGEU="YEARS" if s["age"] else "",
                           DTHFL="Y" if state(s) == "died" else "",
                           ARM="", ARMCD="",
                           USUBJID="knee-oa-msc-" + ids[s["key"]]["id"])
            for s in subs}
    cols = list(next(iter(want.values())))
    got = {byid[r["SUBJID"]]: {k: r[k] for k in cols} for r in dm}
    check("sdtm: DM", want, got)
    ae_rows = read_csv(os.path.join(d, "AE.csv"))
    want = {}
    for s in subs:
        for i, a in enumerate(s["aes"], 1):
            want[(s["key"], i)] = dict(
                AESEQ=str(i), AETERM=a["AETERM"], AESTDTC=a["AESTDTC"],
                AEENDTC=a.get("AEENDTC", ""),
                AESTDY=study_day(a["AESTDTC"], s["dose"]),
                AEENDY=study_day(a.get("AEENDTC", ""), s["dose"]),
                AESER=a["AESER"], AESEV=a["AESEV"], AETOXGR=a["AETOXGR"],
                AEREL=a["AEREL"], AEACN=a["AEACN"], AEOUT=a["AEOUT"],
                AESHOSP=a.get("AESHOSP", ""),
                AEENRTPT="ONGOING" if a["AEONGO"] == "Y" else "")
    got = {}
    for r in ae_rows:
        key = byid[r["USUBJID"][len("knee-oa-msc-"):]]
        got[(key, int(r["AESEQ"]))] = {k: r[k] for k in want[(key, 1)]} \
            if (key, 1) in want else r
    check("sdtm: AE", want, got)
    supp = read_csv(os.path.join(d, "SUPPAE.csv"))
    got = {(byid[r["USUBJID"][len("knee-oa-msc-"):]], int(r["IDVARVAL"])):
           r["QVAL"] for r in supp if r["QNAM"] == "TRTEMFL"}
    want = {(s["key"], i): "Y" if te(s, a) else "N"
            for s, i, a in all_aes(subs)}
    check("sdtm: SUPPAE TRTEMFL", want, got)


NS = {"o": "http://www.cdisc.org/ns/odm/v1.3"}


def check_odm(d, ids, subs, byid):
    snap = ET.parse(os.path.join(d, "odm-snapshot.xml")).getroot()
    trans = ET.parse(os.path.join(d, "odm-transactional.xml")).getroot()
    check("odm: file types", ("Snapshot", "Transactional"),
          (snap.get("FileType"), trans.get("FileType")))
    ok("odm: AsOfDateTime is the cut-off",
       snap.get("AsOfDateTime") == json.load(
           open(os.path.join(d, "export.json")))["data_cutoff"])
    got = sorted(byid[x.get("SubjectKey")]
                 for x in snap.findall(".//o:SubjectData", NS))
    check("odm: snapshot subjects", sorted(s["key"] for s in subs), got)
    for s in subs:
        sd = next(x for x in snap.findall(".//o:SubjectData", NS)
                  if x.get("SubjectKey") == ids[s["key"]]["id"])
        vals = {}
        for ev in sd.findall("o:StudyEventData", NS):
            for fd in ev.findall("o:FormData", NS):
                for it in fd.findall(".//o:ItemData", NS):
                    vals[(ev.get("StudyEventOID"), fd.get("FormOID"),
                          fd.get("FormRepeatKey"), it.get("ItemOID"))] = it
        for i, a in enumerate(s["aes"], 1):
            it = vals.get(("SE.LOG", "F.AE", str(i), "I.AE.AETERM"))
            check("odm: %s AE %d term" % (s["key"], i), a["AETERM"],
                  it.get("Value") if it is not None else None)
        if s.get("conflict"):
            v, f, item, x1, x2 = s["conflict"]
            it = vals[("SE." + v, "F." + f, None, "I.%s.%s" % (f, item))]
            check("odm: a conflict has no value", ("Yes", None),
                  (it.get("IsNull"), it.get("Value")))
            com = it.find(".//o:Comment", NS).text
            ok("odm: the conflict's annotation gives both values",
               x1 in com and x2 in com, com)
        if s.get("sign"):
            v, f = s["sign"]
            fds = [fd for ev in trans.findall(".//o:SubjectData", NS)
                   if ev.get("SubjectKey") == ids[s["key"]]["id"]
                   for fd in ev.findall(".//o:FormData", NS)
                   if fd.get("FormOID") == "F." + f and
                   fd.find("o:Signature", NS) is not None]
            ok("odm: the e-signature is in the transactional file", fds)
            if fds:
                sg = fds[0].find("o:Signature", NS)
                check("odm: signer", "U.invlee",
                      sg.find("o:UserRef", NS).get("UserOID"))
    n_audit = len(trans.findall(".//o:ItemData/o:AuditRecord", NS))
    ok("odm: an AuditRecord for every item change (%d)" % n_audit,
       n_audit >= sum(len(a) for s in subs for a in s["aes"]))
    for ar in trans.findall(".//o:AuditRecord", NS):
        for el in ("UserRef", "LocationRef", "DateTimeStamp",
                   "ReasonForChange"):
            if ar.find("o:" + el, NS) is None:
                check("odm: every AuditRecord has " + el, True, False)
                return
    print("PASS odm: every AuditRecord has who, where, when and why")
    users = {u.get("OID") for u in trans.findall(".//o:AdminData/o:User",
                                                  NS)}
    ok("odm: AdminData lists the users", {"U.coorda", "U.invlee"} <= users,
       users)
    locs = {u.get("OID") for u in trans.findall(".//o:Location", NS)}
    ok("odm: AdminData lists the sites",
       {"L." + s["site"] for s in subs} <= locs, locs)
    ok("odm: a SignatureDef",
       trans.findall(".//o:SignatureDef", NS) or
       not any(s.get("sign") for s in subs))
    ok("odm: metadata has the CodeLists and ItemDefs",
       snap.findall(".//o:CodeList", NS) and
       snap.find(".//o:ItemDef[@OID='I.AE.AETERM']", NS) is not None and
       snap.find(".//o:ItemDef[@OID='I.CELL.CELLCNT']", NS) is None)


def check_jsonl(d, ids, subs, byid):
    kinds, subjects_seen, n, bad = set(), set(), 0, 0
    for line in open(os.path.join(d, "events.jsonl"), encoding="utf-8"):
        n += 1
        try:
            e = json.loads(line)
        except ValueError:
            bad += 1
            continue
        kinds.add(e["kind"])
        subjects_seen.add(byid.get(e["subject"], e["subject"]))
        if e.get("target", {}).get("form") == "CELL":
            bad += 1
        if not (e.get("sig") and e.get("received_at") and e.get("id")):
            bad += 1
    check("jsonl: every line an event as stored", 0, bad)
    check("jsonl: the exported subjects", sorted(s["key"] for s in subs),
          sorted(subjects_seen))
    want = {"subject.status", "form.save"}
    if any(s["rand"] for s in subs):
        want.add("randomize")
    if any(s.get("unblind") for s in subs):
        want.add("unblind")
    if any(s.get("sign") for s in subs):
        want.add("sign")
    ok("jsonl: every kind of event", want <= kinds, kinds)


# ---- blinding -----------------------------------------------------------------

def scan(listfile, dirs):
    lst = json.load(open(listfile))
    needles = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if "arm" in k and isinstance(v, str) and len(v) >= 16:
                    needles.append(v.encode())
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(lst)
    n_sealed = len(needles)
    needles += [b"ADMSC", b"Saline placebo"] + \
        [v.encode() for k, v in CELL.items() if k != "STERIL"]
    words = re.compile(rb"\b(MSC|PBO)\b")
    hits, nfiles = [], 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                b = open(p, "rb").read()
                nfiles += 1
                for nd in needles:
                    if nd in b:
                        hits.append((p, nd[:20]))
                if words.search(b):
                    hits.append((p, words.search(b).group(0)))
    ok("scan: the list's sealed arms are known (%d)" % n_sealed,
       n_sealed >= 10)
    ok("scan: files scanned (%d)" % nfiles, nfiles > 0)
    check("scan: no arm, sealed arm or unblinded value in any byte", [],
          hits[:5])
    return FAILED


def main(argv):
    if argv[1] == "steps":
        for line in steps():
            print(line)
        return 0
    if argv[1] == "report":
        part = site = None
        rest = argv[5:]
        while rest:
            if rest[0] == "--part":
                part = int(rest[1])
            elif rest[0] == "--site":
                site = rest[1]
            rest = rest[2:]
        return 1 if check_report(argv[2], argv[3], argv[4], part,
                                 site) else 0
    if argv[1] == "export":
        part = site = None
        rest = argv[5:]
        while rest:
            if rest[0] == "--part":
                part = int(rest[1])
            elif rest[0] == "--site":
                site = rest[1]
            rest = rest[2:]
        return 1 if check_export(argv[2], argv[3], argv[4], part,
                                 site) else 0
    if argv[1] == "scan":
        return 1 if scan(argv[2], argv[3:]) else 0
    if argv[1] == "closed":
        part = site = None
        rest = argv[5:]
        while rest:
            if rest[0] == "--part":
                part = int(rest[1])
            elif rest[0] == "--site":
                site = rest[1]
            rest = rest[2:]
        return 1 if check_closed(argv[2], argv[3], argv[4], part,
                                 site) else 0
    raise SystemExit("usage: see the top of this file")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
