"""Summarises bench/lmtp/run.sh's JSON lines: one row per concurrency, medians over runs.

Columns: durable messages/s of mailcast (median, and the range), end-of-data-to-250 latency
(median of the runs' p50 and p99), the floor measured right before each run (spool bench part
(a), batch of 16) and the median of the per-run ratios, the spool's own group commit with as
many submitters (no LMTP), the generator's ceiling against a do-nothing LMTP server, the CPU
time per message of the daemon and of the generator, and GNU Mailman 3.3.10's LMTP runner fed
by the same generator (with mailcast's rate as a multiple of it).
"""

import json
import statistics
import sys


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for row in rows:
        kind = row["kind"]
        if row.get("variant"):
            kind += " " + row["variant"]
        by.setdefault((kind, row["connections"]), []).append(row)
    series = sorted({(kind, c) for (kind, c) in by if kind.startswith("mailcast")})
    header = (
        f"{'variant':<18} {'conn':>4} {'msg/s':>7} {'(min-max)':>13} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'floor16':>8} {'/floor':>6} {'spool':>6} {'/spool':>6} {'ceiling':>8} "
        f"{'srv us':>7} {'gen us':>7} {'mailman':>8} {'x':>5}"
    )
    print(header)
    for kind, c in series:
        runs = by[(kind, c)]
        rates = [r["durable_per_s"] for r in runs]
        ratios = [r["durable_per_s"] / r["floor16"] for r in runs if r.get("floor16")]
        spool = median([r["durable_per_s"] for r in by.get(("spool", c), [])])
        ceiling = median([r["durable_per_s"] for r in by.get(("ceiling", c), [])])
        mailman = median([r["durable_per_s"] for r in by.get(("mailman", c), []) if r["durable"]])
        print(
            f"{kind[len('mailcast '):] or '-':<18} {c:>4} {median(rates):>7.0f} {f'({min(rates):.0f}-{max(rates):.0f})':>13} "
            f"{median([r['latency_ms']['p50'] for r in runs]):>7.2f} "
            f"{median([r['latency_ms']['p99'] for r in runs]):>7.2f} "
            f"{median([r['floor16'] for r in runs]):>8.0f} {median(ratios):>6.2f} "
            f"{spool:>6.0f} {ratio(median(rates), spool):>6.2f} {ceiling:>8.0f} "
            f"{median([r['server_cpu_us_per_msg'] for r in runs]):>7.0f} "
            f"{median([r['loadgen_cpu_us_per_msg'] for r in runs]):>7.0f} "
            f"{mailman:>8.0f} {ratio(median(rates), mailman):>5.0f}"
        )
    failures = [r for r in rows if r.get("failed") or r.get("unsent")]
    for r in failures:
        print(
            f"# {r['kind']} run with failures: {r['connections']} conn, codes {r['codes']}, "
            f"{r.get('refusals') or ''} {r['errors'][:3]}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
