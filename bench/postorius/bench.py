#!/usr/bin/env python3
"""Times Postorius's members page in headless Chromium: one Postorius on mailcast, the same
Postorius on GNU Mailman 3, same data, same run. See bench/postorius/README.md.

    .venv-postorius/bin/python bench/postorius/bench.py \
        --mailcast http://127.0.0.1:P1 --mailman http://127.0.0.1:P2 \
        --list-id bench.bench.example.org --members 10000 --reps 15 --warmup 2 \
        --out bench/postorius/RESULTS.md --header "..."

Each server gets its own browser (own profile, so the two sites' session cookies, which
share a host, never mix), logged in as the superuser. For each page (the first, then the
middle one), WARMUP untimed loads per server, then REPS loads alternating the servers
(and which goes first). A sample is the Navigation Timing entry of the load:
loadEventEnd - startTime (navigation start to the end of the load event), with
responseStart - startTime (time to the first byte of the HTML) reported beside it. Every
load must show 25 member addresses, and both servers must show the same ones.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PER_PAGE = 25
ADDRESS = re.compile(r"member\d{6}@example\.com")
TIMING = """
const e = performance.getEntriesByType('navigation')[0];
return [e.loadEventEnd - e.startTime, e.responseStart - e.startTime];
"""


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='postorius-bench-')}"):
        options.add_argument(flag)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(300)
    return driver


def login(driver, base, user, password):
    driver.get(base + "/accounts/login/")
    driver.find_element(By.NAME, "login").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.NAME, "password").submit()
    driver.get(base + "/postorius/lists/")
    if "System Information" not in driver.find_element(By.TAG_NAME, "body").text:
        sys.exit(f"bench.py: not logged in as a superuser at {base}")


def load(driver, url):
    """Loads url; returns (load ms, first byte ms, the addresses the page shows)."""
    driver.get(url)
    total, first_byte = driver.execute_script(TIMING)
    body = driver.find_element(By.TAG_NAME, "body").text
    addresses = ADDRESS.findall(body)
    if len(addresses) != PER_PAGE:
        sys.exit(f"bench.py: {url} shows {len(addresses)} member addresses, not {PER_PAGE}:\n"
                 f"{body[:2000]}")
    return total, first_byte, addresses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailcast", required=True)
    ap.add_argument("--mailman", required=True)
    ap.add_argument("--list-id", required=True)
    ap.add_argument("--members", type=int, required=True)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="admin-pass")
    ap.add_argument("--out")
    ap.add_argument("--header", default="")
    args = ap.parse_args()

    pages = (args.members + PER_PAGE - 1) // PER_PAGE
    middle = max(1, pages // 2)
    servers = {"mailcast": args.mailcast.rstrip("/"), "Mailman 3": args.mailman.rstrip("/")}
    drivers = {}
    try:
        for name, base in servers.items():
            drivers[name] = browser()
            login(drivers[name], base, args.user, args.password)
        rows = []
        for page in (1, middle):
            path = f"/postorius/lists/{args.list_id}/members/member/?page={page}"
            shown = {}
            for name, base in servers.items():
                for _ in range(args.warmup):
                    _, _, shown[name] = load(drivers[name], base + path)
            if shown["mailcast"] != shown["Mailman 3"]:
                sys.exit(f"bench.py: page {page} differs: mailcast {shown['mailcast'][:3]}..., "
                         f"Mailman {shown['Mailman 3'][:3]}...")
            samples = {name: [] for name in servers}
            for rep in range(args.reps):
                order = list(servers) if rep % 2 == 0 else list(reversed(servers))
                for name in order:
                    total, first_byte, addresses = load(drivers[name], servers[name] + path)
                    if addresses != shown[name]:
                        sys.exit(f"bench.py: page {page} changed between loads on {name}")
                    samples[name].append((total, first_byte))
            row = {"page": page, "first": shown["mailcast"][0], "last": shown["mailcast"][-1]}
            for name in servers:
                totals = [s[0] for s in samples[name]]
                row[name] = (statistics.median(totals), min(totals), max(totals),
                             statistics.median(s[1] for s in samples[name]))
            rows.append(row)
            print(f"page {page}: mailcast {row['mailcast'][0]:.0f} ms, "
                  f"Mailman {row['Mailman 3'][0]:.0f} ms", file=sys.stderr, flush=True)
    finally:
        for driver in drivers.values():
            driver.quit()

    lines = [
        "| members page | shows | mailcast: load (min–max) | mailcast: first byte "
        "| Mailman 3: load (min–max) | Mailman 3: first byte | Mailman ÷ mailcast (load) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        mc, mm = row["mailcast"], row["Mailman 3"]
        which = "first" if row["page"] == 1 else "middle"
        lines.append(
            f"| {which} (`?page={row['page']}`) | {row['first']} … {row['last']} "
            f"| **{mc[0]:.0f} ms** ({mc[1]:.0f}–{mc[2]:.0f}) | {mc[3]:.0f} ms "
            f"| **{mm[0]:.0f} ms** ({mm[1]:.0f}–{mm[2]:.0f}) | {mm[3]:.0f} ms "
            f"| **{mm[0] / mc[0]:.1f}×** |")
    table = "\n".join(lines)
    note = (f"\nMedians of {args.reps} loads per page per server (after {args.warmup} warm-up "
            f"loads each), in milliseconds; load = Navigation Timing `loadEventEnd - startTime`, "
            f"first byte = `responseStart - startTime`.\n")
    print(table)
    print(note)
    if args.out:
        with open(args.out, "w") as out:
            out.write(args.header + table + "\n" + note)


if __name__ == "__main__":
    main()
