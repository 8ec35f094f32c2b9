#!/usr/bin/env python3
"""Summarizes Autobahn|Testsuite reports (index.json) per case group.

Usage: summary.py [--markdown] LABEL=REPORT_DIR ...

Prints one table per report directory: for each top-level case group the
number of cases and how many came out OK, NON-STRICT, INFORMATIONAL,
UNIMPLEMENTED and FAILED (a case counts as FAILED when its behavior or its
close behavior is FAILED). Exits 1 when any case FAILED or UNIMPLEMENTED:
every group, permessage-deflate (12, 13) included, must be OK, NON-STRICT or
INFORMATIONAL (the echo peers enable compression).
"""
import json
import os
import sys

GROUP_NAMES = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 handling",
    "7": "Close handling",
    "9": "Limits/performance",
    "10": "Misc (auto-fragmentation)",
    "12": "permessage-deflate",
    "13": "permessage-deflate params",
}
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
MUST_PASS = {"1", "2", "3", "4", "5", "6", "7", "9", "10", "12", "13"}


def verdict(result):
    b = result.get("behavior", "")
    c = result.get("behaviorClose", "")
    if "FAILED" in (b, c):
        return "FAILED"
    if b == "UNIMPLEMENTED":
        return "UNIMPLEMENTED"
    if "NON-STRICT" in (b, c):
        return "NON-STRICT"
    if "INFORMATIONAL" in (b, c):
        return "INFORMATIONAL"
    if b == "OK" and c in ("OK", "INFORMATIONAL"):
        return "OK"
    return "FAILED"


def case_key(case_id):
    return [int(p) if p.isdigit() else p for p in case_id.split(".")]


def summarize(label, outdir, markdown):
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    problems = []
    for agent, cases in sorted(index.items()):
        groups = {}
        for case_id, result in cases.items():
            v = verdict(result)
            g = case_id.split(".")[0]
            groups.setdefault(g, dict.fromkeys(COLUMNS, 0))[v] += 1
            if v == "FAILED":
                problems.append(
                    "%s %s: case %s FAILED (behavior %s, close %s, see %s)"
                    % (label, agent, case_id, result.get("behavior"),
                       result.get("behaviorClose"),
                       os.path.join(outdir, result.get("reportfile", "")))
                )
            elif g in MUST_PASS and v == "UNIMPLEMENTED":
                problems.append("%s %s: case %s UNIMPLEMENTED" % (label, agent, case_id))
        total = dict.fromkeys(COLUMNS, 0)
        title = "%s (agent %s): %d cases" % (label, agent, len(cases))
        head = ["Group", "Cases"] + COLUMNS
        rows = []
        for g in sorted(groups, key=int):
            counts = groups[g]
            for k in COLUMNS:
                total[k] += counts[k]
            name = "%s %s" % (g, GROUP_NAMES.get(g, ""))
            rows.append([name.strip(), str(sum(counts.values()))] + [str(counts[k]) for k in COLUMNS])
        rows.append(["all", str(len(cases))] + [str(total[k]) for k in COLUMNS])
        if markdown:
            print("**%s**\n" % title)
            print("| " + " | ".join(head) + " |")
            print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
            for r in rows:
                print("| " + " | ".join(r) + " |")
            print()
        else:
            print(title)
            widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
            for r in [head] + rows:
                print("  " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                                       for i, c in enumerate(r)))
            print()
    return problems


def main(argv):
    markdown = "--markdown" in argv
    args = [a for a in argv if a != "--markdown"]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for a in args:
        label, _, outdir = a.partition("=")
        problems += summarize(label, outdir, markdown)
    for p in sorted(problems, key=lambda s: s):
        print("PROBLEM: " + p)
    if problems:
        print("autobahn: %d problem(s)" % len(problems))
        return 1
    print("autobahn: no case FAILED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
