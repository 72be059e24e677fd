#!/usr/bin/env python3
"""Checks the three audit export formats with real parsers: every JSON Lines record is
a JSON object with its index and controls, the CSV parses with Python's csv module
(RFC 4180) into the same records, and every OCSF event carries class_uid, category_uid,
type_uid, time, metadata and the controls. Usage: check_export.py JSONL CSV OCSF"""
import csv
import json
import sys

FRAMEWORKS = ("soc2", "iso27001_2022", "nist_800_53")


def fail(msg):
    print("check_export: " + msg, file=sys.stderr)
    sys.exit(1)


def load_lines(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                out.append(json.loads(line))
            except ValueError as e:
                fail("%s:%d: not JSON: %s" % (path, n, e))
    return out


def check_jsonl(path):
    recs = load_lines(path)
    if not recs:
        fail("empty JSON Lines export")
    for i, r in enumerate(recs):
        for k in ("index", "time", "event", "actor", "controls"):
            if k not in r:
                fail("jsonl record %d has no %s" % (i, k))
        if i and r["index"] <= recs[i - 1]["index"]:
            fail("jsonl indexes are not increasing at %d" % i)
        for fw in FRAMEWORKS:
            if not isinstance(r["controls"].get(fw), list):
                fail("jsonl record %d: controls.%s missing" % (i, fw))
    votes = [r for r in recs if r["event"] == "action.vote"]
    if not votes or "AC-5" not in votes[0]["controls"]["nist_800_53"]:
        fail("a vote must evidence NIST AC-5")
    return recs


def check_csv(path, jsonl):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, strict=True))
    if len(rows) != len(jsonl):
        fail("csv has %d rows, jsonl %d" % (len(rows), len(jsonl)))
    for row, rec in zip(rows, jsonl):
        if int(row["index"]) != rec["index"] or row["event"] != rec["event"]:
            fail("csv row %s differs from the jsonl record" % row["index"])
        if json.loads(row["details"]) != rec["details"]:
            fail("csv details of %s do not round-trip" % row["index"])
        if row["nist_800_53"].split() != rec["controls"]["nist_800_53"]:
            fail("csv controls of %s differ" % row["index"])


def check_ocsf(path, jsonl):
    recs = load_lines(path)
    if len(recs) != len(jsonl):
        fail("ocsf has %d events, jsonl %d" % (len(recs), len(jsonl)))
    classes = set()
    for ev, rec in zip(recs, jsonl):
        for k in ("class_uid", "category_uid", "activity_id", "type_uid", "time", "severity_id", "metadata"):
            if k not in ev:
                fail("ocsf event %d has no %s" % (rec["index"], k))
        if ev["type_uid"] != ev["class_uid"] * 100 + ev["activity_id"]:
            fail("ocsf event %d: type_uid is not class_uid*100+activity_id" % rec["index"])
        if ev["metadata"].get("sequence") != rec["index"] or ev["unmapped"]["log_index"] != rec["index"]:
            fail("ocsf event %d does not carry its log index" % rec["index"])
        if not all(fw in ev["unmapped"]["controls"] for fw in FRAMEWORKS):
            fail("ocsf event %d does not carry its controls" % rec["index"])
        if not ev["metadata"]["version"].startswith("1."):
            fail("ocsf version")
        classes.add(ev["class_uid"])
        if rec["event"] in ("action.vote", "action.submitted", "action.vote_refused"):
            if ev["class_uid"] != 6003 or "security_control" not in ev["metadata"]["profiles"]:
                fail("ocsf %s must be API Activity with security_control" % rec["event"])
            if rec["event"] == "action.vote_refused" and ev["disposition_id"] != 2:
                fail("a refused vote is blocked")
        if rec["event"].startswith("token.") and ev["class_uid"] != 3001:
            fail("tokens are Account Change")
        if rec["event"] == "receipt.refused" and ev["class_uid"] != 2004:
            fail("receipt refusals are Detection Findings")
    for want in (6003, 3001, 2004, 6002):
        if want not in classes:
            fail("no OCSF class %d in the export" % want)


def main():
    jsonl = check_jsonl(sys.argv[1])
    check_csv(sys.argv[2], jsonl)
    check_ocsf(sys.argv[3], jsonl)


main()
