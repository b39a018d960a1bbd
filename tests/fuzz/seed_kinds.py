#!/usr/bin/env python3
"""seed_kinds.py - events of every kind for the push fuzz targets.

make_seeds.sh calls it after writing tests/fuzz/corpus/push_signed/
seed-all.json (one KR01 subject, as stored by the server fixture). It
writes seed-kind-*.json beside it: an investigator's signature over the
DM form's current heads, a data manager's query on an item, its answer
by the coordinator and its close, an emergency unblinding, a status
change, a randomization without a leased slot, a central role's event
about a subject of no site, the revoked device's events from before and
after its revocation (2026-06-01, server_fixture.h), a conflict between
two laptops and its resolution, and a signature a later change breaks. Unsigned: the
target signs them with the fixture device each one names.
"""
import json
import sys

corpus = sys.argv[1]
seed = json.load(open(corpus + "/push_signed/seed-all.json"))
subject = seed[0]["subject"]
dev = {n: "f%031d" % n for n in range(1, 7)}


def heads(form):
    """Ids of the last change of each item of `form` (the current heads)."""
    last = {}
    for e in seed:
        if e["kind"] == "form.save" and e["target"]["form"] == form:
            for c in e["changes"]:
                last[c["item"]] = e["id"]
    return sorted(set(last.values()))


def event(n, device, user, kind, visit="", form="", changes=(), reason="",
          data=None, wall="2026-02-01T10:00:00.000Z", hlc="0000019c1a000000",
          subj=subject, site="KR01"):
    return {"id": "5eed%028x" % n, "device": dev[device], "site": site,
            "user": user, "hlc": hlc, "wall": wall, "subject": subj,
            "kind": kind, "target": {"visit": visit, "form": form,
                                     "instance": ""},
            "changes": list(changes), "reason": reason, "data": data or {}}


q = "5eed%028x" % 2
out = {
    "sign": event(1, 2, "lee", "sign", "SCR", "DM", data={
        "meaning": "I reviewed and approve this form",
        "seen": ",".join(heads("DM"))}),
    "query-open": event(2, 4, "dm", "query.open", "SCR", "DM", data={
        "item": "WEIGHT", "text": "please confirm the weight"}),
    "query-answer": event(3, 1, "kim", "query.answer", data={
        "query": q, "text": "confirmed on the scale"}),
    "query-close": event(4, 4, "dm", "query.close", data={"query": q}),
    "unblind": event(5, 2, "lee", "unblind",
                     reason="serious adverse event, treating physician"),
    "status": event(6, 1, "kim", "subject.status",
                    data={"status": "withdrawn"}),
    "randomize": event(7, 1, "kim", "randomize", "BL", "RAND", changes=[
        {"item": "RANDNO", "value": "R-KR01-2-001", "prev": []},
        {"item": "KITNO", "value": "123456", "prev": []}]),
    "central-unknown": event(8, 4, "dm", "query.open", subj="KR02-01009",
                             site="KR02", data={"text": "who is this?"}),
    "revoked-before": event(9, 6, "park", "form.save", "SCR", "SV", changes=[
        {"item": "VISDT", "value": "2026-01-06", "prev": heads("SV")}],
        reason="date corrected", wall="2026-05-31T23:59:59.000Z",
        hlc="0000019e5e000000"),
    "revoked-after": event(10, 6, "park", "form.save", "SCR", "SV", changes=[
        {"item": "VISDT", "value": "2026-01-07", "prev": heads("SV")}],
        reason="date corrected", wall="2026-06-02T00:00:00.000Z",
        hlc="0000019e6a000000"),
}
for name, ev in out.items():
    with open("%s/push_signed/seed-kind-%s.json" % (corpus, name), "w") as f:
        json.dump(ev, f, separators=(",", ":"))
# Two laptops change one item from the same head (a conflict), then one
# resolves it naming both; a signature that a later change breaks.
w = [e["id"] for e in seed if e["kind"] == "form.save"
     and any(c["item"] == "WEIGHT" for c in e["changes"])][-1:]
c1 = event(11, 1, "kim", "form.save", "SCR", "DM", changes=[
    {"item": "WEIGHT", "value": "82", "prev": w}], reason="scale fixed")
c2 = event(12, 2, "lee", "form.save", "SCR", "DM", changes=[
    {"item": "WEIGHT", "value": "83", "prev": w}], reason="weighed again",
    hlc="0000019c1a000001")
c3 = event(13, 1, "kim", "form.save", "SCR", "DM", changes=[
    {"item": "WEIGHT", "value": "82", "prev": sorted([c1["id"], c2["id"]])}],
    reason="agreed with the investigator", hlc="0000019c1a000002")
with open(corpus + "/push_signed/seed-kind-conflict.json", "w") as f:
    json.dump([c1, c2, c3], f, separators=(",", ":"))
with open(corpus + "/push_signed/seed-kind-sign-broken.json", "w") as f:
    json.dump([out["sign"], c1], f, separators=(",", ":"))
# The query's life in one push, and the same set for the merge engine.
life = [out["query-open"], out["query-answer"], out["query-close"]]
with open(corpus + "/push_signed/seed-kind-query-life.json", "w") as f:
    json.dump(life, f, separators=(",", ":"))
with open(corpus + "/merge/seed-kinds.json", "w") as f:
    json.dump(seed + list(out.values()) + [c1, c2, c3], f,
              separators=(",", ":"))
