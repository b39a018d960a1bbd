#!/usr/bin/env python3
"""trial.py - the randomized crash trial (issue 14, docs/RELIABILITY.md).

One trial, from its seed: a real casebookd on loopback with a sealed
randomization list for two sites, and behind tests/tools/faultproxy (which
delays, drops, truncates, resets and duplicates traffic) four laptops:
a coordinator and an investigator at KR01, an investigator at DE02 and a
data manager. Each laptop, in a thread of its own, enters random valid
data offline through the real `casebook` (subjects, forms, corrections
with reasons, adverse events, randomization with leased slots, dosing
with the assigned kit, signatures, query answers; the data manager opens
and closes queries) and syncs through the proxy. Any command may be
killed with SIGKILL at a random moment; a chaos thread kills the server
with SIGKILL at random moments and restarts it.

Then the faults stop, every laptop syncs until it has nothing left to
send, and the trial checks:

  - every command that said it saved something is in the record: each
    value entered is a change by its user in the server's canonical
    dump (or, where a save stored fewer items than it was given because
    the laptop already held some of those values, a change by some
    user); each randomization is the subject's slot on the server;
  - every laptop's canonical dump equals the server's for what it
    receives (its site; blinded, for the data manager), so every event
    a laptop holds is on the server, where event ids are unique: exactly
    once; nothing is left unsynced or in quarantine;
  - PRAGMA integrity_check is ok in every database, `casebook store
    check` passes on every laptop, and the server's derived tables equal
    a rebuild from its events;
  - no randomization slot (number or kit) is used twice, every used slot
    belongs to its subject's site and stratum, and no laptop printed one
    slot for two subjects;
  - no command died of a signal it was not sent, no sanitizer spoke, no
    command hung.

Usage:
  trial.py --seed S                 one trial (replays a failed one)
  trial.py --trials N [--first-seed S] [--jobs J]
                                    N trials with seeds S, S+1, ...; each
                                    failure prints its seed
  --keep DIR     keep each failed trial's directory under DIR
  --verbose      print each trial's log

Environment: CASEBOOK_BIN (casebook, casebookd), CASEBOOK_TOOLS
(faultproxy), CASEBOOK_TOP (the source tree). Same seed, same plan: the
laptops' actions, the values entered, the proxy's faults per connection
and the moments of the kills; which request a kill lands in still depends
on the machine's timing, so a failure may need a few replays.
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOP = os.environ.get("CASEBOOK_TOP") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CASEBOOK_BIN") or os.path.join(TOP, "bin")
TOOLS = os.environ.get("CASEBOOK_TOOLS") or os.path.join(TOP, "build", "tools")
CB = os.path.join(BIN, "casebook")
CBD = os.path.join(BIN, "casebookd")
PROXY = os.path.join(TOOLS, "faultproxy")
PROTO = os.path.join(TOP, "schemas", "knee-oa-msc.json")
PASSPHRASE = "trial-pass-1"
SITES = ("KR01", "DE02")
# name, site, role
LAPTOPS = (("a", "KR01", "coordinator"), ("b", "KR01", "investigator"),
           ("c", "DE02", "investigator"), ("dm", None, "datamanager"))


class TrialError(Exception):
    pass


def base_env():
    env = dict(os.environ)
    for k in ("CASEBOOK_HOME", "CASEBOOK_USER", "CASEBOOK_CLOCK_OFFSET_MS",
              "CASEBOOK_NEW_PASSPHRASE", "LD_PRELOAD"):
        env.pop(k, None)
    env["CASEBOOK_PASSPHRASE"] = PASSPHRASE
    env["CASEBOOK_KDF_FAST"] = "1"
    return env


ENV = base_env()


def sh(args, cwd=None, check=True, env=None, timeout=120):
    p = subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise TrialError("%s failed (%d): %s" % (" ".join(args[:3]),
                                                 p.returncode, p.stderr[-400:]))
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_list(d):
    """The unblinding key and a sealed list for both sites, in d."""
    env = dict(ENV, CASEBOOK_NEW_PASSPHRASE="trial-stat-pass")
    sh([CB, "keygen", "--out", "unblind.key"], cwd=d, env=env)
    sh([CB, "randlist", "generate", "--protocol", PROTO, "--sites",
        ",".join(SITES), "--per-stratum", "60", "--block-sizes", "2,4",
        "--seed", "casebook-trial-list-seed-0123456789",
        "--unblinding-pub", "unblind.key.pub", "--out", "list.json"], cwd=d)
    return os.path.join(d, "list.json")


class Result:
    def __init__(self, rc, out, err, killed):
        self.rc, self.out, self.err, self.killed = rc, out, err, killed


class Trial:
    def __init__(self, seed, listfile, workdir, log):
        self.seed = seed
        self.rng = random.Random("trial-%d" % seed)
        self.listfile = listfile
        self.dir = workdir
        self.data = os.path.join(workdir, "data")
        self.logf = log
        self.lock = threading.Lock()
        self.problems = []
        self.stats = {}
        self.server = None
        self.proxy = None
        self.server_lock = threading.Lock()
        self.done = threading.Event()
        self.stopping = False  # the run was stopped (SIGTERM, SIGINT)
        # what the laptops said they saved
        self.changes = []   # (subject, visit, form, item, value, user, group)
        self.partial = []   # per group: how many items its save stored
        self.randomized = {}  # subject -> (randno, kit, laptop)
        self.subjects = {s: [] for s in SITES}  # site -> [subject dicts]
        today = datetime.date.today()
        self.consent = today - datetime.timedelta(days=300)

    # ---- bookkeeping ----------------------------------------------------

    def log(self, msg):
        with self.lock:
            if not self.logf.closed:
                self.logf.write("%.3f %s\n" % (time.time(), msg))

    def problem(self, msg):
        with self.lock:
            self.problems.append(msg)
        self.log("PROBLEM " + msg)

    def count(self, key):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def date(self, days):
        return (self.consent + datetime.timedelta(days=days)).isoformat()

    # ---- processes --------------------------------------------------------

    def start_server(self):
        with self.server_lock:
            errf = open(os.path.join(self.dir, "server.log"), "a")
            self.server = subprocess.Popen(
                [CBD, "serve", "--data", self.data, "--listen",
                 "127.0.0.1:%d" % self.port, "--lease", "3"],
                env=ENV, stdout=subprocess.DEVNULL, stderr=errf)
            errf.close()
            url = "http://127.0.0.1:%d/v1/health" % self.port
            for _ in range(400):
                if self.server.poll() is not None:
                    raise TrialError("the server exited at start-up (%d)"
                                     % self.server.returncode)
                try:
                    urllib.request.urlopen(url, timeout=2).read()
                    return
                except OSError:
                    time.sleep(0.02)
            raise TrialError("the server did not answer")

    def kill_server(self):
        with self.server_lock:
            if self.server and self.server.poll() is None:
                self.server.send_signal(signal.SIGKILL)
                self.server.wait()
            elif self.server and self.server.returncode not in (
                    -signal.SIGKILL, -signal.SIGTERM, 0):
                self.problem("the server died by itself (status %d)"
                             % self.server.returncode)
            self.server = None

    def stop_server(self):
        with self.server_lock:
            if self.server and self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
                try:
                    self.server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.problem("the server did not stop on SIGTERM")
                    self.server.kill()
                    self.server.wait()
            if self.server and self.server.returncode not in (
                    0, -signal.SIGTERM, -signal.SIGKILL):
                self.problem("the server died by itself (status %d)"
                             % self.server.returncode)
            self.server = None

    def start_proxy(self, rate):
        portfile = os.path.join(self.dir, "proxy.port")
        args = [PROXY, "--listen", "127.0.0.1:%d" % self.proxy_port,
                "--to", "127.0.0.1:%d" % self.port, "--seed", str(self.seed),
                "--rate", str(rate), "--max-delay", "250",
                "--log", os.path.join(self.dir, "proxy.log")]
        if self.proxy_port == 0:
            args += ["--port-file", portfile]
        self.proxy = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        for _ in range(400):
            if self.proxy_port == 0 and os.path.exists(portfile):
                self.proxy_port = int(open(portfile).read())
            if self.proxy_port:
                try:
                    socket.create_connection(
                        ("127.0.0.1", self.proxy_port), timeout=1).close()
                    return
                except OSError:
                    pass
            if self.proxy.poll() is not None:
                raise TrialError("the proxy did not start")
            time.sleep(0.02)
        raise TrialError("the proxy did not listen")

    def stop_proxy(self):
        if self.proxy:
            self.proxy.terminate()
            self.proxy.wait()
            self.proxy = None

    def cb(self, lap, args, kill_after=None, timeout=90):
        """casebook on a laptop; killed with SIGKILL after kill_after s."""
        p = subprocess.Popen([CB, "--home", lap["home"]] + args, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        killed = False
        try:
            out, err = p.communicate(
                timeout=kill_after if kill_after is not None else timeout)
        except subprocess.TimeoutExpired:
            if kill_after is None:
                p.kill()
                p.communicate()
                self.problem("%s: casebook %s hung for %d s"
                             % (lap["name"], " ".join(args[:2]), timeout))
                return Result(-9, "", "", True)
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate()
            killed = True
        rc = p.returncode
        if killed:
            self.count("killed " + args[0])
        elif rc < 0:
            self.problem("%s: casebook %s died of signal %d: %s"
                         % (lap["name"], " ".join(args[:3]), -rc, err[-300:]))
        if "Sanitizer" in err or "runtime error:" in err:
            self.problem("%s: casebook %s: sanitizer report: %s"
                         % (lap["name"], " ".join(args[:3]), err[-600:]))
        self.log("%s: %s -> %s%s %s" % (
            lap["name"], " ".join(args), "killed " if killed else "", rc,
            (err.strip().splitlines() or [""])[-1][:200]))
        return Result(rc, out, err, killed)

    def expect(self, lap, what, r, allowed, why=""):
        """A command that was not killed ended with an allowed status."""
        if r.killed:
            return False
        self.count("%s rc %d" % (what, r.rc))
        if r.rc not in allowed:
            self.problem("%s: %s exited %d (allowed %s) %s: %s"
                         % (lap["name"], what, r.rc, allowed, why,
                            r.err.strip()[-300:]))
        return r.rc == 0

    # ---- set-up --------------------------------------------------------------

    def setup(self):
        os.makedirs(self.data)
        sh([CBD, "init", "--data", self.data, "--protocol", PROTO])
        for s in SITES:
            sh([CBD, "site", "add", "--data", self.data, s, "--name", s])
        sh([CBD, "randlist", "import", "--data", self.data, self.listfile])
        self.port = free_port()
        self.proxy_port = 0
        self.start_server()
        self.start_proxy(0)
        url = "http://127.0.0.1:%d" % self.proxy_port
        self.laptops = []
        for name, site, role in LAPTOPS:
            # The server takes events only from people it knows.
            args = [CBD, "user", "add", "--data", self.data, "user-" + name,
                    "--full-name", "Trial user " + name, "--role", role]
            if site:
                args += ["--site", site]
            sh(args)
            token = sh([CBD, "token", "create", "--data", self.data,
                        "--user", "user-" + name]).stdout.strip()
            lap = {"name": name, "site": site, "role": role,
                   "user": "user-" + name,
                   "home": os.path.join(self.dir, "h", name),
                   "rng": random.Random("laptop-%d-%s" % (self.seed, name)),
                   "mine": [], "synced": False}
            sh([CB, "--home", lap["home"], "init", "--server", url,
                "--token", token, "--user", lap["user"]])
            self.laptops.append(lap)
        # From now on the proxy damages traffic.
        self.stop_proxy()
        self.start_proxy(self.rng.choice((10, 25, 40)))

    # ---- the laptops' work ---------------------------------------------------

    def kill_time(self, lap, p=0.15, upto=0.25):
        """None, or a moment to kill the next command at."""
        rng = lap["rng"]
        return rng.uniform(0.0, upto) if rng.random() < p else None

    def record(self, subject, visit, form, items, user, stored=None):
        """Note what a save stored. stored is how many of the items it
        stored when that is fewer than it was given: an item whose value
        the laptop already held (its own or one it received) is left out
        of the event. Then at least `stored` of them are changes by this
        user and every one is a change by some user; the save is one
        group of self.partial."""
        with self.lock:
            group = None
            if stored is not None:
                group = len(self.partial)
                self.partial.append(stored)
            for k, v in items.items():
                self.changes.append((subject, visit, form, k, v, user, group))

    def save(self, lap, subject, visit, form, items, reason=None):
        args = ["form", "set", subject, visit, form] + [
            "%s=%s" % kv for kv in items.items()]
        if reason:
            args += ["--reason", reason]
        r = self.cb(lap, args, self.kill_time(lap))
        # Another laptop's subject may not have reached this one yet
        # (exit 3, "unknown subject"); any other refusal is a problem.
        allowed = (0,)
        if subject not in lap["mine"] and "unknown subject" in r.err:
            allowed = (0, 3)
        if self.expect(lap, "form set", r, allowed, " ".join(args[1:5])):
            if "nothing changed" not in r.out:
                m = re.search(r": saved (\d+) items?$", r.out, re.M)
                stored = int(m.group(1)) if m else None
                if stored is not None and stored >= len(items):
                    stored = None
                self.record(subject, visit, form, items, lap["user"], stored)
            return True
        return False

    def act_enroll(self, lap):
        rng = lap["rng"]
        r = self.cb(lap, ["subject", "add"], self.kill_time(lap))
        if not self.expect(lap, "subject add", r, (0,)):
            return
        s = {"id": r.out.strip(), "dm": False, "elig": False,
             "eligible": False, "rand": None, "dosed": False,
             "laptop": lap["name"], "ae": 0}
        lap["mine"].append(s["id"])
        with self.lock:
            self.subjects[lap["site"]].append(s)
        age = rng.randint(40, 75)
        s["age"] = age
        dm = {"CONSDT": self.consent.isoformat(),
              "BRTHYR": str(self.consent.year - age),
              "SEX": rng.choice("MF"), "HEIGHT": str(rng.randint(150, 190)),
              "WEIGHT": str(rng.randint(50, 100)), "KNEE": rng.choice("LR")}
        if not self.save(lap, s["id"], "SCR", "DM", dm):
            return
        s["dm"] = True
        eligible = rng.random() < 0.85
        elig = {"AGE": str(age), "KLGRADE": str(rng.choice((2, 3))),
                "PAIN3M": "Y", "BMI": str(rng.randint(20, 34)),
                "IAINJ3M": "N", "INFLARTH": "N",
                "PREG": "N" if dm["SEX"] == "F" else "NA"}
        if not eligible:
            elig["INFLARTH"] = "Y"
        if self.save(lap, s["id"], "SCR", "ELIG", elig):
            s["elig"] = True
            s["eligible"] = eligible

    def pick(self, lap, own=True, cond=None):
        rng = lap["rng"]
        with self.lock:
            pool = [s for s in self.subjects.get(lap["site"], [])
                    if (not own or s["laptop"] == lap["name"])
                    and (cond is None or cond(s))]
        return rng.choice(pool) if pool else None

    def act_visit(self, lap):
        rng = lap["rng"]
        s = self.pick(lap, own=rng.random() < 0.8, cond=lambda s: s["dm"])
        if not s:
            return self.act_enroll(lap)
        visit = rng.choice(("BL", "M1", "M3"))
        day = {"BL": 20, "M1": 71, "M3": 131}[visit]
        form = rng.choice(("SV", "VAS", "PE"))
        if form == "SV":
            items = {"VISDT": self.date(day + rng.randint(0, 2))}
        elif form == "VAS":
            items = {"VAS": str(rng.randint(0, 100))}
        else:
            items = {"ROM": str(rng.randint(60, 160)),
                     "EFFUS": rng.choice(("NONE", "SMALL", "MOD", "LARGE"))}
        # The item may hold a value already (this laptop's or one it
        # received): a change then needs a reason.
        self.save(lap, s["id"], visit, form, items,
                  reason="entered again from the source document")

    def act_correct(self, lap):
        rng = lap["rng"]
        with self.lock:
            mine = [c for c in self.changes if c[5] == lap["user"]
                    and c[3] in ("VAS", "ROM", "HEIGHT", "WEIGHT")]
        if not mine:
            return self.act_visit(lap)
        subject, visit, form, item = rng.choice(mine)[:4]
        lo, hi = {"VAS": (0, 100), "ROM": (60, 160), "HEIGHT": (150, 190),
                  "WEIGHT": (50, 100)}[item]
        self.save(lap, subject, visit, form, {item: str(rng.randint(lo, hi))},
                  reason="corrected from the source document %d"
                  % rng.randint(1, 999))

    def act_ae(self, lap):
        rng = lap["rng"]
        s = self.pick(lap, cond=lambda s: s["dm"])
        if not s:
            return self.act_enroll(lap)
        grade = rng.choice((1, 2))
        term = rng.choice(("Headache", "Knee swelling", "Nausea",
                           "\ubb34\ub98e \ud1b5\uc99d", "Dizziness"))
        items = {"AETERM": term, "AESTDTC": self.date(rng.randint(1, 250)),
                 "AEONGO": "Y", "AETOXGR": str(grade),
                 "AESEV": "MILD" if grade == 1 else "MOD", "AESER": "N"}
        r = self.cb(lap, ["ae", "add", s["id"]] + [
            "%s=%s" % kv for kv in items.items()], self.kill_time(lap))
        if self.expect(lap, "ae add", r, (0,)):
            m = re.search(r"LOG (AE#\d+): saved", r.out)
            if not m:
                self.problem("%s: ae add printed no instance: %s"
                             % (lap["name"], r.out[:200]))
                return
            self.record(s["id"], "LOG", m.group(1), items, lap["user"])

    def act_randomize(self, lap):
        s = self.pick(lap, cond=lambda s: s["eligible"] and not s["rand"])
        if not s:
            return self.act_enroll(lap)
        r = self.cb(lap, ["randomize", s["id"]], self.kill_time(lap))
        if r.killed:
            # Whole or absent: "already randomized" tells later.
            return
        if r.rc == 1 and "already randomized" in r.err:
            s["rand"] = ("?", "?")
            return
        # 1: no slot left for the stratum until the next sync.
        if self.expect(lap, "randomize", r, (0, 1)):
            rn = re.search(r"randomization number:\s*(\S+)", r.out)
            kit = re.search(r"kit number:\s*(\S+)", r.out)
            if not rn or not kit:
                self.problem("%s: randomize printed no numbers: %s"
                             % (lap["name"], r.out[:200]))
                return
            s["rand"] = (rn.group(1), kit.group(1))
            with self.lock:
                for subj, (n, k, _) in self.randomized.items():
                    if n == rn.group(1) or k == kit.group(1):
                        self.problem("slot %s / kit %s given to %s and %s"
                                     % (n, k, subj, s["id"]))
                self.randomized[s["id"]] = (rn.group(1), kit.group(1),
                                            lap["name"])
        elif "sync" not in r.err:
            self.problem("%s: randomize failed without saying to sync: %s"
                         % (lap["name"], r.err[-300:]))

    def act_dose(self, lap):
        s = self.pick(lap, cond=lambda s: s["rand"] and s["rand"][1] != "?"
                      and not s["dosed"])
        if not s:
            return self.act_randomize(lap)
        items = {"EXDTC": self.date(41) + "T10:%02d" % lap["rng"].randint(0, 59),
                 "KITNO": s["rand"][1], "EXVOL": "3.0", "EXKNEE": "L",
                 "EXLOT": "LOT-%d" % lap["rng"].randint(1, 9),
                 "IMMREACT": "N"}
        # A killed save may have been stored whole: the next try then
        # changes saved values and gives a reason.
        reason = ("entered again from the source document"
                  if s.get("dose_tried") else None)
        s["dose_tried"] = True
        if self.save(lap, s["id"], "INJ", "DOSE", items, reason=reason):
            s["dosed"] = True

    def act_sign(self, lap):
        s = self.pick(lap, own=lap["rng"].random() < 0.7,
                      cond=lambda s: s["dm"])
        if not s:
            return self.act_enroll(lap)
        r = self.cb(lap, ["sign", s["id"], "SCR", "DM"], self.kill_time(lap))
        # 1: not received yet, or in conflict between two laptops.
        self.expect(lap, "sign", r, (0, 1))

    def queries(self, lap):
        r = self.cb(lap, ["query", "list", "--json"])
        if not self.expect(lap, "query list", r, (0,)):
            return []
        try:
            return json.loads(r.out)["queries"]
        except (ValueError, KeyError):
            self.problem("%s: query list --json: %s" % (lap["name"],
                                                        r.out[:200]))
            return []

    def act_answer(self, lap):
        qs = [q for q in self.queries(lap) if q["status"] == "open"]
        if not qs:
            return self.act_visit(lap)
        q = lap["rng"].choice(qs)
        r = self.cb(lap, ["query", "answer", q["id"], "--text",
                          "checked against the source"], self.kill_time(lap))
        self.expect(lap, "query answer", r, (0,))

    def act_sync(self, lap):
        r = self.cb(lap, ["sync", "--retries", "2"],
                    self.kill_time(lap, p=0.25, upto=0.4))
        # 5: unreachable (server down, connection cut); 1: an answer cut
        # short. 4 only for a request the proxy sent twice on one
        # connection, whose second copy the server refused as a replay
        # and whose answer then came to the next request: any other
        # refusal is a problem.
        allowed = (0, 1, 5)
        if not r.killed and r.rc == 4 and "nonce already used" in r.err:
            allowed = (0, 1, 4, 5)
        if self.expect(lap, "sync", r, allowed):
            lap["synced"] = True

    def act_dm(self, lap):
        rng = lap["rng"]
        k = rng.random()
        if k < 0.4 or not lap["synced"]:
            return self.act_sync(lap)
        if k < 0.75:
            r = self.cb(lap, ["subject", "list", "--json"])
            if not self.expect(lap, "subject list", r, (0,)):
                return
            subs = [s["id"] for s in json.loads(r.out)["subjects"]]
            if not subs:
                return
            item = rng.choice(("HEIGHT", "WEIGHT"))
            r = self.cb(lap, ["query", "open", rng.choice(subs), "SCR", "DM",
                              item, "--text", "Please confirm %s" % item],
                        self.kill_time(lap))
            self.expect(lap, "query open", r, (0,))
            return
        qs = [q for q in self.queries(lap) if q["status"] == "answered"
              and not q.get("system")]
        if qs:
            r = self.cb(lap, ["query", "close", rng.choice(qs)["id"]],
                        self.kill_time(lap))
            self.expect(lap, "query close", r, (0,))

    def laptop_thread(self, lap, steps):
        acts = [(self.act_enroll, 3), (self.act_visit, 5),
                (self.act_correct, 2), (self.act_ae, 2),
                (self.act_randomize, 3), (self.act_dose, 2),
                (self.act_answer, 1), (self.act_sync, 4)]
        if lap["role"] == "investigator":
            acts.append((self.act_sign, 2))
        fns = [a for a, w in acts for _ in range(w)]
        try:
            for _ in range(steps):
                if self.stopping:
                    return
                if lap["role"] == "datamanager":
                    self.act_dm(lap)
                else:
                    lap["rng"].choice(fns)(lap)
        except Exception as e:  # a bug in the trial itself
            if not self.stopping:
                self.problem("%s: %r" % (lap["name"], e))

    def chaos_thread(self):
        rng = random.Random("chaos-%d" % self.seed)
        while not self.done.wait(rng.uniform(0.3, 1.6)):
            self.kill_server()
            self.count("server killed")
            self.log("server killed")
            if self.done.wait(rng.uniform(0.0, 0.5)):
                break
            try:
                self.start_server()
            except TrialError as e:
                self.problem("restart: %s" % e)
                return

    # ---- the end ----------------------------------------------------------

    def converge(self):
        """Faults off; every laptop syncs until it has nothing to send."""
        self.stop_proxy()
        self.start_proxy(0)
        with self.server_lock:
            alive = self.server and self.server.poll() is None
        if not alive:
            self.start_server()
        for round_ in range(3):
            for lap in self.laptops:
                r = self.cb(lap, ["sync", "--retries", "3"])
                if r.rc != 0:
                    self.problem("%s: sync after the faults exits %d: %s"
                                 % (lap["name"], r.rc, r.err[-300:]))
        for lap in self.laptops:
            r = self.cb(lap, ["status", "--json"])
            try:
                st = json.loads(r.out)
            except ValueError:
                self.problem("%s: status --json: %s" % (lap["name"],
                                                        r.err[-200:]))
                continue
            # An answer to a query the data manager closed before it
            # arrived (another laptop of the site answered first, the
            # close came between) is refused by the record's rules and
            # kept in the laptop's quarantine, shown by status: the one
            # refusal a trial may leave (CI seed 2720860).
            late = [e for e in st["quarantined"].get("events", [])
                    if e.get("code") == "query" and re.search(
                        r"query [0-9a-f]+ is closed", e.get("reason", ""))]
            st["unsynced"] -= len(late)
            st["quarantined"]["count"] -= len(late)
            if st["unsynced"] != 0:
                self.problem("%s: %d events still unsynced"
                             % (lap["name"], st["unsynced"]))
            if st["quarantined"]["count"] != 0:
                self.problem("%s: %d events quarantined: %s" % (
                    lap["name"], st["quarantined"]["count"],
                    json.dumps(st["quarantined"]["events"])[:600]))

    def verify(self):
        self.stop_server()
        self.stop_proxy()
        # Integrity of every database.
        dbs = [os.path.join(self.data, f) for f in os.listdir(self.data)
               if f.endswith(".db")]
        dbs += [os.path.join(lap["home"], "casebook.db")
                for lap in self.laptops]
        for path in dbs:
            try:
                con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
                ok = con.execute("PRAGMA integrity_check").fetchall()
                con.close()
            except sqlite3.Error as e:
                ok = [(str(e),)]
            if ok != [("ok",)]:
                self.problem("integrity_check of %s: %s" % (path, ok[:3]))
        for lap in self.laptops:
            r = self.cb(lap, ["store", "check"])
            if r.rc != 0:
                self.problem("%s: store check: %s" % (lap["name"],
                                                      r.err[-300:]))
        # Derived tables equal a rebuild (on a copy).
        live = sh([CBD, "dump", "--data", self.data]).stdout
        copy = os.path.join(self.dir, "rebuilt")
        shutil.copytree(self.data, copy)
        sh([CBD, "rebuild", "--data", copy])
        if sh([CBD, "dump", "--data", copy]).stdout != live:
            self.problem("the server's derived tables differ from a rebuild")
        # Each laptop holds what the server gives its role, to the byte.
        dumps = {}
        for site in SITES:
            dumps[site] = sh([CBD, "dump", "--data", self.data, "--canonical",
                              "--site", site]).stdout
        dumps[None] = sh([CBD, "dump", "--data", self.data, "--canonical",
                          "--blinded"]).stdout
        for lap in self.laptops:
            r = self.cb(lap, ["dump"])
            if r.out != dumps[lap["site"]]:
                self.problem("%s: its dump differs from the server's (%d "
                             "vs %d lines)" % (lap["name"],
                                               r.out.count("\n"),
                                               dumps[lap["site"]].count("\n")))
                with open(os.path.join(self.dir, "dump-%s" % lap["name"]),
                          "w") as f:
                    f.write(r.out)
        full = sh([CBD, "dump", "--data", self.data, "--canonical"]).stdout
        ids = re.findall(r"^event \S+ (\S+) ", full, re.M)
        if len(ids) != len(set(ids)):
            self.problem("the server lists an event twice")
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(
            self.data, "casebookd.db"), uri=True)
        n_events = con.execute("SELECT count(*), count(DISTINCT id) FROM "
                               "events").fetchone()
        if n_events[0] != n_events[1] or n_events[0] != len(ids):
            self.problem("events on the server: %s rows, dump %d" %
                         (n_events, len(ids)))
        # Every value a laptop said it saved is a change by its user.
        lost = []
        per_subject = {}
        subject = cur = None
        for line in full.splitlines():
            m = re.match(r'subject "([^"]*)"', line)
            if m:
                subject = m.group(1)
                continue
            m = re.match(r'item "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" ',
                         line)
            if m:
                cur = (subject,) + m.groups()
                continue
            m = re.match(r'  change \S+ \S+ "([^"]*)" "[^"]*" "[^"]*" '
                         r'"((?:[^"\\]|\\.)*)"', line)
            if m and cur:
                per_subject.setdefault(
                    (cur[0], cur[1], cur[2], cur[3], cur[4],
                     json.loads('"%s"' % m.group(2))), set()).add(m.group(1))
        mine = [0] * len(self.partial)  # per group: its user's changes
        where = {}
        for subject, visit, form, item, value, user, group in self.changes:
            inst = ""
            m = re.match(r"(\w+)#(\d+)$", form)
            if m:
                form, inst = m.group(1), m.group(2)
            users = per_subject.get((subject, visit, form, inst, item, value),
                                    ())
            what = "%s %s %s#%s %s=%s by %s" % (
                subject, visit, form, inst, item, value, user)
            if group is not None:
                where.setdefault(group, what)
                mine[group] += user in users
            if user not in users and (group is None or not users):
                lost.append(what)
        for group, stored in enumerate(self.partial):
            if mine[group] < stored:
                lost.append("%s (the save stored %d items, %d are its "
                            "user's)" % (where.get(group, "?"), stored,
                                         mine[group]))
        if lost:
            self.problem("%d saved values are not on the server: %s"
                         % (len(lost), "; ".join(lost[:5])))
        # Slots: each used once, by the subject the laptop said.
        rows = con.execute("SELECT randno, kit, subject, site, stratum FROM "
                           "rand_slots WHERE subject IS NOT NULL").fetchall()
        con.close()
        by_subject = {r[2]: r for r in rows}
        if len({r[0] for r in rows}) != len(rows) or \
           len({r[1] for r in rows}) != len(rows):
            self.problem("a slot or kit is used twice on the server")
        for subj, (rn, kit, lapname) in self.randomized.items():
            row = by_subject.get(subj)
            if not row or row[0] != rn or row[1] != kit:
                self.problem("%s randomized on %s as %s/%s; server: %s"
                             % (subj, lapname, rn, kit, row))
            elif row[3] != subj.split("-")[0]:
                self.problem("%s got a slot of site %s" % (subj, row[3]))
        self.count("randomized")
        self.stats["randomized"] = len(rows)
        self.stats["events"] = len(ids)

    def sabotage(self, kind):
        """Break the record on purpose, after the sync and before the
        checks, to show that the checks see it (t_trial.sh)."""
        self.stop_server()
        db = os.path.join(self.data, "casebookd.db")
        con = sqlite3.connect(db)
        if kind == "lose-event":
            # An event a laptop saved vanishes from the server.
            con.execute("DELETE FROM events WHERE seq = (SELECT max(seq) "
                        "FROM events WHERE kind = 'form.save')")
        elif kind == "swap-slots":
            # A subject a laptop randomized gets another slot of its
            # site and stratum on the server.
            moved = False
            for subj in sorted(self.randomized):
                row = con.execute("SELECT randno, site, stratum FROM "
                                  "rand_slots WHERE subject = ?",
                                  (subj,)).fetchone()
                free = row and con.execute(
                    "SELECT randno FROM rand_slots WHERE subject IS NULL "
                    "AND site = ? AND stratum = ? LIMIT 1",
                    (row[1], row[2])).fetchone()
                if free:
                    con.execute("UPDATE rand_slots SET subject = NULL WHERE "
                                "randno = ?", (row[0],))
                    con.execute("UPDATE rand_slots SET subject = ? WHERE "
                                "randno = ?", (subj, free[0]))
                    moved = True
                    break
            if not moved:
                self.problem("sabotage: no randomized subject to move")
        con.commit()
        con.close()
        if kind == "lose-event":
            sh([CBD, "rebuild", "--data", self.data])
        if kind == "torn-page":
            # A laptop's database file gets a page of zeros in its middle.
            path = os.path.join(self.laptops[0]["home"], "casebook.db")
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.seek((size // 4096 // 2) * 4096)
                f.write(b"\0" * 4096)

    def run(self, steps, sabotage=None):
        self.setup()
        chaos = threading.Thread(target=self.chaos_thread)
        threads = [threading.Thread(target=self.laptop_thread,
                                    args=(lap, steps))
                   for lap in self.laptops]
        chaos.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.done.set()
        chaos.join()
        self.converge()
        if sabotage:
            self.sabotage(sabotage)
        self.verify()


def stop_on_signal(signum, frame):
    """SIGTERM or SIGINT: unwind, so the server and proxy are stopped
    and the trial's directory removed."""
    raise SystemExit(128 + signum)


def one_trial(seed, listfile, keep, steps, verbose, sabotage=None):
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    work = tempfile.mkdtemp(prefix="cbtrial.%d." % seed,
                            dir=os.environ.get("TMPDIR"))
    logpath = os.path.join(work, "trial.log")
    start = time.time()
    with open(logpath, "w") as log:
        t = Trial(seed, listfile, work, log)
        try:
            t.run(steps, sabotage)
        except TrialError as e:
            t.problem(str(e))
        except Exception as e:
            t.problem("the trial stopped: %r" % e)
        finally:
            t.stopping = sys.exc_info()[0] is SystemExit
            t.done.set()
            try:
                t.stop_server()
            except Exception:
                pass
            t.stop_proxy()
            if sys.exc_info()[0] is SystemExit:
                shutil.rmtree(work, ignore_errors=True)
    secs = time.time() - start
    if verbose:
        sys.stdout.write(open(logpath).read())
    ok = not t.problems
    if not ok and keep:
        dest = os.path.join(keep, "trial-%d" % seed)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(work, dest)
    shutil.rmtree(work, ignore_errors=True)
    return {"seed": seed, "ok": ok, "problems": t.problems,
            "stats": t.stats, "secs": secs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int)
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--first-seed", type=int)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--keep")
    ap.add_argument("--list")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--sabotage", choices=("lose-event", "swap-slots",
                                           "torn-page"),
                    help="break the record before the checks (a test of "
                    "the checks: the trial must fail)")
    ap.add_argument("--json", action="store_true",
                    help="(internal) print one trial's result as JSON")
    a = ap.parse_args()
    for path in (CB, CBD, PROXY):
        if not os.access(path, os.X_OK):
            sys.exit("trial: %s is missing (make trial builds it)" % path)
    listdir = None
    if not a.list:
        listdir = tempfile.mkdtemp(prefix="cbtrial-list.")
        a.list = make_list(listdir)
    try:
        if a.seed is not None and a.json:
            print(json.dumps(one_trial(a.seed, a.list, a.keep, a.steps,
                                       a.verbose, a.sabotage)))
            return 0
        if a.seed is not None:
            seeds = [a.seed]
        else:
            first = a.first_seed if a.first_seed is not None else \
                int.from_bytes(os.urandom(3), "big")
            seeds = list(range(first, first + a.trials))
        return run_many(seeds, a)
    finally:
        if listdir:
            shutil.rmtree(listdir, ignore_errors=True)


def run_many(seeds, a):
    """Each trial in a process of its own, a.jobs at a time. SIGTERM or
    SIGINT stop the running trials (which clean up) and end the run."""
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        return run_trials(seeds, a)
    except (SystemExit, KeyboardInterrupt):
        for p in RUNNING:
            if p.poll() is None:
                p.terminate()
        for p in RUNNING:
            p.wait()
        print("trial run stopped")
        return 1


RUNNING = []


def run_trials(seeds, a):
    start = time.time()
    pending = list(seeds)
    running = []
    results = []
    totals = {}
    while pending or running:
        while pending and len(running) < max(1, a.jobs):
            seed = pending.pop(0)
            args = [sys.executable, os.path.abspath(__file__), "--seed",
                    str(seed), "--json", "--list", a.list, "--steps",
                    str(a.steps)]
            if a.keep:
                args += ["--keep", a.keep]
            if a.verbose:
                args += ["--verbose"]
            if a.sabotage:
                args += ["--sabotage", a.sabotage]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
            RUNNING.append(p)
            running.append((seed, p))
        time.sleep(0.05)
        for seed, p in list(running):
            if p.poll() is None:
                continue
            running.remove((seed, p))
            RUNNING.remove(p)
            out = p.stdout.read()
            if a.verbose:
                sys.stdout.write("".join(out.splitlines(True)[:-1]))
            try:
                res = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = {"seed": seed, "ok": False, "stats": {}, "secs": 0,
                       "problems": ["the trial itself failed: %s"
                                    % out[-400:]]}
            results.append(res)
            for k, v in res["stats"].items():
                totals[k] = totals.get(k, 0) + v
            if res["ok"]:
                print("PASS trial seed %d (%.1f s, %s events)"
                      % (seed, res["secs"], res["stats"].get("events", "?")))
            else:
                print("FAIL trial seed %d: %s (replay: tests/tools/trial.py"
                      " --seed %d)" % (seed, "; ".join(res["problems"][:4]),
                                       seed))
            sys.stdout.flush()
    failed = [r["seed"] for r in results if not r["ok"]]
    secs = time.time() - start
    keys = sorted(totals)
    print("trial totals: %s" % ", ".join("%s %d" % (k, totals[k])
                                         for k in keys))
    print("%d trials in %.0f s, %d failed%s" % (
        len(results), secs, len(failed),
        (": seeds " + " ".join(map(str, failed))) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
