#!/usr/bin/env python3
"""mailcast behind Postfix, side by side: the classic measurement behind this project.

100 messages are posted through one private Postfix to a list with one member, once for each
way into mailcast (program/pipe, Maildir, LMTP), and, as baselines in the same run, (a) the same
100 messages relayed by that Postfix straight to an address with no list server involved and
(b) sent by it to a do-nothing LMTP server that accepts and discards. For the first and the last
message of each row the table shows when it entered the MTA (Postfix answered 250 to DATA), when
the MTA handed it to the next hop (Postfix's log: the lmtp, virtual, local or smtp delivery with
status=sent) and when it reached the member (the SMTP sink behind Postfix), in seconds from the
row's first submission; then the elapsed time of the row (start to last arrival) and its ratio to
both baselines. Several rounds run interleaved; the summary gives the medians.

Usage (as root, on a quiet machine, after `cargo build --release -p mailcast`):

    bench/mta-side-by-side.py [--messages 100] [--rounds 3] [--binary target/release/mailcast]
                              [--rows LMTP,pipe] [--log-level info,mailcast=debug] [--keep]

Because the machine is often shared, each row also reports the CPU time it cost: user+system
of the whole Postfix process tree (with every exited child it reaped; the pipe row's `mailcast
inject` processes are local(8)'s children, so they count here) and of that row's `mailcast
serve`. Unlike elapsed time, it hardly grows when other work competes for the cores. With --keep, the directory also
holds postfix.log (every line with the time it arrived) and timeline.csv (each message's
submission, hand-off and arrival times), for tracing where a row's time goes.

It starts its own Postfix instance (own config, queue and data directories, loopback ports; the
system's Postfix and port 25 are not touched), three mailcast installations (one per way in,
each with its own var directory and daemon, run as `nobody` like a dedicated account), an SMTP
sink for the members and a null LMTP server, all on 127.0.0.1, and removes everything at the
end (--keep keeps the directory). Postfix runs with its default tuning; only what a private
instance needs (directories, loopback, no DNS, relayhost = the sink) is set.
"""

import argparse
import os
import re
import shutil
import smtplib
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UID = GID = 65534  # the account mailcast runs as (nobody)
MEMBER = "member@members.test"
ROUTES = [
    # (row, recipient, Postfix delivery agent that hands the message on)
    ("(a) Postfix alone", "someone@members.test", "smtp"),
    ("(b) null LMTP", "discard@blackhole.test", "lmtp"),
    ("LMTP", "list@lmtp.test", "lmtp"),
    ("Maildir", "list@maildir.test", "virtual"),
    ("pipe", "list@pipe.test", "local"),
]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_table():
    """pid -> (ppid, user+system seconds of the process and of its reaped children)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        # Fields from the state on: ppid is the 2nd, utime stime cutime cstime the 12th to 15th.
        ticks = sum(int(x) for x in fields[11:15])
        table[int(entry)] = (int(fields[1]), ticks / CLK_TCK)
    return table


def tree_cpu(root_pid, table):
    """CPU seconds of a process and all its live descendants, each with its reaped children:
    everything the tree has spent since it started."""
    if root_pid not in table:
        return 0.0
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


class CpuMeter:
    """CPU seconds spent by Postfix and by each mailcast daemon, read before and after a row."""

    def __init__(self, master_pid, sites):
        self.master_pid, self.sites = master_pid, sites

    def read(self):
        table = process_table()
        out = {"postfix": tree_cpu(self.master_pid, table)}
        for mode, site in self.sites.items():
            out[mode] = tree_cpu(site.daemon.pid, table) if site.daemon else 0.0
        return out


class Arrivals:
    """Message-ID -> first arrival time, with waiting."""

    def __init__(self):
        self.times = {}
        self.cond = threading.Condition()

    def record(self, msgid):
        now = time.time()
        with self.cond:
            self.times.setdefault(msgid, now)
            self.cond.notify_all()

    def wait(self, msgids, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while not all(m in self.times for m in msgids):
                left = deadline - time.time()
                if left <= 0:
                    missing = [m for m in msgids if m not in self.times]
                    raise TimeoutError(f"{len(missing)} of {len(msgids)} messages did not arrive")
                self.cond.wait(left)
            return {m: self.times[m] for m in msgids}


class MailHandler(socketserver.StreamRequestHandler):
    """A minimal SMTP (or LMTP) server that accepts everything and records the Message-ID."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        lmtp = self.server.lmtp
        self.reply("220 sink.test ESMTP")
        rcpts = 0
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"LHLO"):
                self.reply("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
            elif verb == b"HELO":
                self.reply("250 sink.test")
            elif verb == b"MAIL":
                rcpts = 0
                self.reply("250 2.1.0 Ok")
            elif verb == b"RCPT":
                rcpts += 1
                self.reply("250 2.1.5 Ok")
            elif verb == b"DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                msgid = None
                in_header = True
                while True:
                    data = self.rfile.readline()
                    if not data or data == b".\r\n":
                        break
                    if in_header:
                        if data in (b"\r\n", b"\n"):
                            in_header = False
                        elif msgid is None and data[:11].lower() == b"message-id:":
                            msgid = data[11:].strip().strip(b"<>").decode(errors="replace")
                if msgid:
                    self.server.arrivals.record(msgid)
                for _ in range(rcpts if lmtp else 1):
                    self.reply("250 2.0.0 Ok")
            elif verb in (b"RSET", b"NOOP"):
                self.reply("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("500 5.5.1 Unknown command")


def start_server(lmtp, arrivals):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), MailHandler)
    server.daemon_threads = True
    server.lmtp = lmtp
    server.arrivals = arrivals
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class PostfixLog:
    """Reads Postfix's log from its standard output (start-fg, maillog_file = /dev/stdout) and
    time-stamps each line as it arrives (its own time stamps have one-second resolution)."""

    CLEANUP = re.compile(r"postfix/cleanup\[\d+\]: (\w+): message-id=<([^>]*)>")
    SENT = re.compile(r"postfix/(\w+)\[\d+\]: (\w+): to=<[^>]*>.*status=sent")

    def __init__(self, stream):
        self.lock = threading.Lock()
        self.msgid_of = {}  # queue id -> Message-ID
        self.sent = []  # (time, agent, queue id)
        self.lines = []
        threading.Thread(target=self.read, args=(stream,), daemon=True).start()

    def read(self, stream):
        for raw in iter(stream.readline, b""):
            now = time.time()
            line = raw.decode(errors="replace").rstrip()
            with self.lock:
                self.lines.append((now, line))
                if m := self.CLEANUP.search(line):
                    self.msgid_of[m.group(1)] = m.group(2)
                elif m := self.SENT.search(line):
                    self.sent.append((now, m.group(1), m.group(2)))

    def handoff(self, msgid, agent):
        with self.lock:
            times = [t for t, a, q in self.sent if a == agent and self.msgid_of.get(q) == msgid]
        return min(times) if times else None


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed: {out.stdout}{out.stderr}")
    return out.stdout


class Mailcast:
    """One mailcast installation (one way in), run as the mailcast account."""

    def __init__(self, root, mode, binary, smtp_port, postfix_etc, log_level):
        self.root, self.mode = root, mode
        self.var = root / "var"
        self.var.mkdir(parents=True)
        os.chown(self.var, UID, GID)
        self.lmtp_port = free_port()
        self.config = root / "mailcast.toml"
        self.config.write_text(
            f"""[paths]
var_dir = "{self.var}"
[lmtp]
listen = "127.0.0.1:{self.lmtp_port}"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
[rest]
listen = "127.0.0.1:{free_port()}"
[site]
hostname = "lists.test"
site_owner = "postmaster@lists.test"
[mta]
postmap_command = "/usr/sbin/postmap -c {postfix_etc}"
delivery = "{mode}"
mailcast_command = "{binary}"
[maildir]
enabled = {"true" if mode == "maildir" else "false"}
[logging]
level = "{log_level}"
"""
        )
        self.binary = binary
        self.daemon = None

    def cli(self, *args):
        return run([self.binary, "--config", self.config, *args], user=UID, group=GID, cwd=self.var)

    def setup(self, domain):
        self.cli("mta", "postfix")
        self.cli("domains", "add", domain)
        self.cli("lists", "create", f"list@{domain}")
        self.cli("members", "add", f"list@{domain}", MEMBER)

    def serve(self):
        log = open(self.var / "serve.log", "w")
        self.daemon = subprocess.Popen(
            [self.binary, "--config", self.config, "serve"],
            user=UID, group=GID, cwd=self.var, stdout=subprocess.DEVNULL, stderr=log,
        )

    def stop(self):
        if self.daemon:
            self.daemon.terminate()
            self.daemon.wait(30)


def main_cf(root, relay_port, null_port, sites):
    lmtp, maildir, pipe = (sites[m].var / "data" for m in ("lmtp", "maildir", "pipe"))
    return f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.test
mydomain = mta.test
myorigin = $myhostname
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
maillog_file = /dev/stdout
maillog_file_prefixes = /dev/stdout
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_dns_support_level = disabled
recipient_delimiter = +
unknown_local_recipient_reject_code = 550
owner_request_special = no
# LMTP mode, and baseline (b)
transport_maps = hash:{lmtp}/postfix_lmtp, inline:{{ blackhole.test=lmtp:[127.0.0.1]:{null_port} }}
relay_domains = hash:{lmtp}/postfix_domains, blackhole.test
relay_recipient_maps = hash:{lmtp}/postfix_lmtp, inline:{{ @blackhole.test=ok }}
# Maildir mode
virtual_mailbox_domains = hash:{maildir}/postfix_vmailbox_domains
virtual_mailbox_maps = hash:{maildir}/postfix_vmailbox
virtual_mailbox_base = {sites["maildir"].var}/maildir
virtual_uid_maps = static:{UID}
virtual_gid_maps = static:{GID}
virtual_minimum_uid = 100
# pipe mode
virtual_alias_domains = hash:{pipe}/postfix_pipe_domains
virtual_alias_maps = hash:{pipe}/postfix_pipe_vmap
alias_maps = hash:{pipe}/postfix_aliases
alias_database = hash:{pipe}/postfix_aliases
"""


MASTER_CF = """{port} inet n - n - - smtpd
cleanup    unix n - n - 0 cleanup
qmgr       unix n - n 300 1 qmgr
rewrite    unix - - n - - trivial-rewrite
bounce     unix - - n - 0 bounce
defer      unix - - n - 0 bounce
trace      unix - - n - 0 bounce
verify     unix - - n - 1 verify
flush      unix n - n 1000? 0 flush
proxymap   unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp       unix - - n - - smtp
relay      unix - - n - - smtp
showq      unix n - n - - showq
error      unix - - n - - error
retry      unix - - n - - error
discard    unix - - n - - discard
local      unix - n n - - local
virtual    unix - n n - - virtual
lmtp       unix - - n - - lmtp
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


def message(msgid, rcpt, n):
    body = "".join(f"Line {i} of message {n}: the quick brown fox jumps over the lazy dog.\r\n" for i in range(14))
    return (
        f"From: {MEMBER}\r\nTo: {rcpt}\r\nSubject: bench message {n}\r\nMessage-ID: <{msgid}>\r\n"
        f"Date: Mon, 30 Nov 2026 02:00:00 +0000\r\n\r\n{body}"
    ).encode()


def post(smtpd_port, rcpt, tag, n, arrivals, log, agent, timeout):
    """Posts n messages over one SMTP connection; returns the row's times."""
    tag = re.sub(r"[^a-z0-9]+", "-", tag.lower())
    msgids = [f"{tag}.{i}@bench.test" for i in range(n)]
    entered = []
    start = time.time()
    with smtplib.SMTP("127.0.0.1", smtpd_port, local_hostname="client.remote.test") as smtp:
        for i, msgid in enumerate(msgids):
            smtp.sendmail(MEMBER, [rcpt], message(msgid, rcpt, i))
            entered.append(time.time())
    arrived = arrivals.wait(msgids, timeout)
    handoff = {}
    deadline = time.time() + 10
    while len(handoff) < 2 and time.time() < deadline:
        handoff = {k: log.handoff(msgids[k], agent) for k in (0, n - 1)}
        handoff = {k: v for k, v in handoff.items() if v is not None}
        time.sleep(0.05)
    rel = lambda t: None if t is None else t - start
    return {
        "first": (rel(entered[0]), rel(handoff.get(0)), rel(arrived[msgids[0]])),
        "last": (rel(entered[-1]), rel(handoff.get(n - 1)), rel(arrived[msgids[-1]])),
        "elapsed": max(arrived.values()) - start,
        "timeline": [
            (msgid, rel(entered[i]), rel(log.handoff(msgid, agent)), rel(arrived[msgid]))
            for i, msgid in enumerate(msgids)
        ],
    }


def fmt(t):
    return "   -  " if t is None else f"{t:6.3f}"


def print_table(title, rows):
    base_a = rows.get("(a) Postfix alone", {}).get("elapsed")
    base_b = rows.get("(b) null LMTP", {}).get("elapsed")
    ratio = lambda e, base: f"{e / base:6.2f}" if base else "     -"
    print(f"\n{title}")
    print(f"{'way in':<18} {'first: in   handoff  member':>27} {'last: in   handoff  member':>27} {'elapsed':>8} {'x(a)':>6} {'x(b)':>6}"
          f"   {'cpu: postfix  mailcast   total':>31}")
    for name, r in rows.items():
        first = " ".join(fmt(t) for t in r["first"])
        last = " ".join(fmt(t) for t in r["last"])
        e = r["elapsed"]
        cpu = r.get("cpu", {})
        pf, mc = cpu.get("postfix", 0.0), cpu.get("mailcast", 0.0)
        print(f"{name:<18} {first:>27} {last:>27} {e:8.3f} {ratio(e, base_a)} {ratio(e, base_b)}"
              f"   {pf:12.2f} {mc:9.2f} {pf + mc:7.2f}")


def write_timelines(path, results):
    with open(path, "w") as f:
        f.write("row,round,message_id,in,handoff,member\n")
        for name, runs in results.items():
            for round_no, r in enumerate(runs, 1):
                for msgid, entered, handoff, member in r["timeline"]:
                    cells = ["" if t is None else f"{t:.4f}" for t in (entered, handoff, member)]
                    f.write(f"{name},{round_no},{msgid},{','.join(cells)}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--binary", type=Path, default=REPO / "target/release/mailcast")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--keep", action="store_true",
                        help="keep the working directory, with postfix.log and timeline.csv")
    parser.add_argument("--rows", default="",
                        help="comma-separated rows to run (default: all), e.g. 'LMTP,pipe'; "
                             "the baselines run whenever they are named")
    parser.add_argument("--log-level", default="info", help="mailcast's [logging] level")
    args = parser.parse_args()
    routes = ROUTES
    if args.rows:
        wanted = [w.strip().lower() for w in args.rows.split(",")]
        routes = [r for r in ROUTES if any(w in r[0].lower() for w in wanted)]
        if not routes:
            sys.exit(f"--rows {args.rows!r} names no row of: {', '.join(r[0] for r in ROUTES)}")
    if os.geteuid() != 0:
        sys.exit("run as root: the private Postfix instance needs it")
    if not Path("/usr/sbin/postfix").exists():
        sys.exit("Postfix is not installed (scripts/postfix-install.sh)")
    if not args.binary.exists():
        sys.exit(f"{args.binary} not found: cargo build --release -p mailcast")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}" + ("  (the machine is busy: figures will be noisy)" if load > 1.0 else ""))

    work = Path(tempfile.mkdtemp(prefix="mailcast-bench-"))
    os.chmod(work, 0o755)
    binary = work / "mailcast"
    shutil.copy2(args.binary, binary)
    sink_arrivals = Arrivals()
    sink = start_server(False, sink_arrivals)
    null = start_server(True, sink_arrivals)
    smtpd_port = free_port()
    pf = work / "postfix"
    for d in ("etc", "queue", "data"):
        (pf / d).mkdir(parents=True)
    shutil.chown(pf / "data", "postfix")
    sites = {m: Mailcast(work / m, m, binary, smtpd_port, pf / "etc", args.log_level)
             for m in ("lmtp", "maildir", "pipe")}
    (pf / "etc/main.cf").write_text(main_cf(pf, sink.server_address[1], null.server_address[1], sites))
    (pf / "etc/master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{smtpd_port}"))
    master = None
    try:
        for mode, site in sites.items():
            site.setup(f"{mode}.test")
            site.serve()
        run(["postfix", "-c", pf / "etc", "check"])
        master = subprocess.Popen(["postfix", "-c", pf / "etc", "start-fg"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = PostfixLog(master.stdout)
        time.sleep(2)
        meter = CpuMeter(master.pid, sites)
        # Warm up every route (process start-up, map opening, connection caches).
        for name, rcpt, agent in routes:
            post(smtpd_port, rcpt, f"warm-{rcpt}", 2, sink_arrivals, log, agent, args.timeout)
        results = {name: [] for name, _, _ in routes}
        for round_no in range(1, args.rounds + 1):
            rows = {}
            for name, rcpt, agent in routes:
                tag = f"r{round_no}-{rcpt}"
                before = meter.read()
                rows[name] = post(smtpd_port, rcpt, tag, args.messages, sink_arrivals, log, agent, args.timeout)
                # Let the row's stragglers (qmgr's bookkeeping, the daemon's clean-up) finish
                # before reading the meter, so that they are charged to this row.
                time.sleep(1)
                after = meter.read()
                mode = {"LMTP": "lmtp", "Maildir": "maildir", "pipe": "pipe"}.get(name)
                rows[name]["cpu"] = {
                    "postfix": after["postfix"] - before["postfix"],
                    "mailcast": after[mode] - before[mode] if mode else 0.0,
                }
                results[name].append(rows[name])
            print_table(f"round {round_no}: {args.messages} messages, seconds from the row's first submission;"
                        f" CPU seconds", rows)
        median = {}
        for name, runs in results.items():
            runs = sorted(runs, key=lambda r: r["elapsed"])
            median[name] = runs[len(runs) // 2]
        print_table(f"median round of {args.rounds} (by elapsed), per row", median)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        if all(n in median for n in ("(a) Postfix alone", "(b) null LMTP", "LMTP", "Maildir", "pipe")):
            a = median["(a) Postfix alone"]["elapsed"]
            b = median["(b) null LMTP"]["elapsed"]
            print("\ngoals: LMTP within 1.3x of (b): " + ("met" if median["LMTP"]["elapsed"] <= 1.3 * b else "NOT met"))
            slowest = max(median[m]["elapsed"] for m in ("LMTP", "Maildir", "pipe"))
            print(f"       every mode under mlmmj's pipe (about 3x Postfix alone = {3 * a:.3f} s): "
                  + ("met" if slowest < 3 * a else "NOT met"))
        if args.keep:
            write_timelines(work / "timeline.csv", results)
            with log.lock, open(work / "postfix.log", "w") as f:
                f.writelines(f"{t:.6f} {line}\n" for t, line in log.lines)
    finally:
        if master:
            subprocess.run(["postfix", "-c", pf / "etc", "stop"], capture_output=True)
            master.wait(30)
        for site in sites.values():
            site.stop()
        sink.shutdown()
        null.shutdown()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
