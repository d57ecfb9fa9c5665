#!/usr/bin/env python3
"""Time the same Mailman 3 REST API 3.1 queries against mailcast and GNU Mailman 3.

One process, one persistent http.client connection per server (HTTP/1.1 keep-alive
where the server offers it; Mailman's gunicorn sync workers answer
`Connection: close`, and http.client then reconnects on the next request, so that
server's figures include a loopback TCP connect). Each repetition sends a query to
both servers, one after the other, alternating which goes first; a sample is the
time from sending the request to having read the whole body (time.perf_counter).
Before timing, each query is sent WARMUP times to each server, and the two answers
are checked to be 200 and to carry the same total_size and the same addresses.

Standard library only. Writes the markdown table to stdout and, with --out, to a
file, headed by --header (the command, the machine, the date).
"""

import argparse
import base64
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def percentile(samples, q):
    s = sorted(samples)
    # nearest-rank
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))
    return s[k]


class Server:
    def __init__(self, name, url, user, password):
        u = urllib.parse.urlsplit(url)
        self.name = name
        self.host, self.port = u.hostname, u.port
        self.auth = 'Basic ' + base64.b64encode(
            f'{user}:{password}'.encode()).decode()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        self.connects = 0

    def get(self, path):
        if self.conn.sock is None:
            self.connects += 1
        t0 = time.perf_counter()
        self.conn.request('GET', path, headers={
            'Authorization': self.auth, 'Accept': 'application/json'})
        r = self.conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        if r.will_close:
            self.conn.close()
        return r.status, body, dt


def emails(doc):
    if 'entries' in doc:
        return [e.get('email') for e in doc['entries']], doc.get('total_size')
    return [doc.get('email')], None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mailcast', required=True, help='http://127.0.0.1:PORT')
    ap.add_argument('--mailman', required=True, help='http://127.0.0.1:PORT')
    ap.add_argument('--user', default='restadmin')
    ap.add_argument('--password', default='restpass')
    ap.add_argument('--list-id', required=True)
    ap.add_argument('--members', type=int, required=True)
    ap.add_argument('--member', required=True, help='one subscribed address')
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--out')
    ap.add_argument('--header', default='')
    ap.add_argument('--footer', default='')
    a = ap.parse_args()

    lid = a.list_id
    q = urllib.parse.quote
    queries = []
    for count in (50, 500):
        pages = max(1, -(-a.members // count))
        mid = max(1, pages // 2)
        for page in sorted({1, mid}):
            queries.append((f'roster count={count} page={page}',
                            f'/3.1/lists/{lid}/roster/member?count={count}&page={page}'))
    queries.append(('one member', f'/3.1/lists/{lid}/member/{q(a.member)}'))
    queries.append(('members/find list_id+subscriber',
                    f'/3.1/members/find?list_id={q(lid)}&subscriber={q(a.member)}'))

    mc = Server('mailcast', a.mailcast, a.user, a.password)
    mm = Server('mailman', a.mailman, a.user, a.password)
    servers = (mc, mm)

    rows = []
    for label, path in queries:
        seen = {}
        for s in servers:
            for _ in range(a.warmup):
                status, body, _dt = s.get(path)
                if status != 200:
                    sys.exit(f'{s.name} {path}: HTTP {status}: {body[:300]!r}')
            seen[s.name] = emails(json.loads(body))
        if seen['mailcast'] != seen['mailman']:
            mce, mme = seen['mailcast'], seen['mailman']
            sys.exit(f'{path}: the servers disagree: mailcast total {mce[1]} '
                     f'first {mce[0][:3]}, mailman total {mme[1]} first {mme[0][:3]}')
        n_entries = len(seen['mailcast'][0])
        times = {s.name: [] for s in servers}
        t_query = time.perf_counter()
        for rep in range(a.reps):
            order = servers if rep % 2 == 0 else servers[::-1]
            for s in order:
                status, body, dt = s.get(path)
                if status != 200:
                    sys.exit(f'{s.name} {path}: HTTP {status}')
                times[s.name].append(dt * 1000)
        print(f'  {label}: {n_entries} entries, {a.reps} reps in '
              f'{time.perf_counter() - t_query:.1f} s', file=sys.stderr, flush=True)
        rows.append((label, path, times))

    out = []
    out.append('| query | mailcast median ms | mailcast p90 ms | Mailman median ms '
               '| Mailman p90 ms | Mailman/mailcast (median) |')
    out.append('|---|---:|---:|---:|---:|---:|')
    worst = None
    for label, path, times in rows:
        mcm, mmm = statistics.median(times['mailcast']), statistics.median(times['mailman'])
        ratio = mmm / mcm
        worst = ratio if worst is None else min(worst, ratio)
        out.append(f'| {label} | {mcm:.2f} | {percentile(times["mailcast"], 0.9):.2f} '
                   f'| {mmm:.1f} | {percentile(times["mailman"], 0.9):.1f} | {ratio:.0f}× |')
    out.append('')
    out.append('Paths (list_id `%s`):' % lid)
    out.append('')
    for label, path, _ in rows:
        out.append(f'- {label}: `GET {path}`')
    page50 = [statistics.median(t['mailcast']) for l, _, t in rows
              if l.startswith('roster count=50 ')]
    out.append('')
    out.append(f'Goals: Mailman/mailcast ≥ 20× on every row: '
               f'{"met" if worst >= 20 else "NOT met"} (smallest ratio {worst:.0f}×); '
               f'a page of 50 in ≤ 10 ms (mailcast median): '
               f'{"met" if max(page50) <= 10 else "NOT met"} '
               f'(slowest {max(page50):.2f} ms).')
    out.append(f'TCP connects during the run: mailcast {mc.connects}, '
               f'Mailman {mm.connects} (Mailman closes after every response).')
    table = '\n'.join(out)
    print(table)
    if a.out:
        with open(a.out, 'w') as f:
            f.write(a.header + table + '\n' + a.footer)


if __name__ == '__main__':
    main()
