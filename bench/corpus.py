#!/usr/bin/env python3
"""bench/corpus.py: a generated corpus of realistic, varied syslog lines for the benchmarks.

    corpus.py --count N [--seed S] --out FILE     writes N lines (one message per line)

The compression figures (scenario 9, docs/bench.md) are only worth something on text that looks
like what syslog-ng ships: one repeated string would compress a thousandfold and say nothing.
Each line is an RFC 3164 line as syslog-ng's default websocket() template makes it
(`<PRI>Mmm dd hh:mm:ss HOST PROGRAM[PID]: MESSAGE`), with

- facilities and severities drawn with a realistic skew (mostly info and notice, some warnings
  and errors, few critical; daemon, auth, authpriv, cron, kern, mail, local0-7, user);
- timestamps that advance by a random few milliseconds per line;
- 600 host names from several naming schemes (web-07, db3.eu-west.example.net, k8s node ids);
- 40 programs, each with its own pid range and its own message templates (sshd, sudo, CRON,
  kernel, nginx access lines, postfix, systemd, dockerd, kubelet, haproxy, application JSON...);
- numbers, IPv4 and IPv6 addresses, ports, user names, paths, URLs, durations, byte counts,
  request and trace ids (random hex) filled into the templates.

It is seeded and deterministic (Python's `random.Random(seed)`, no dependence on the clock or
the machine): the same --count and --seed always give the same bytes, so every round and every
column of a run sends exactly the same text. The lines are UTF-8 (ASCII), never contain '\\n'
and are 60 to about 400 bytes long (mean about 150).
"""

import argparse
import random
import sys

MONTHS = ("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split()
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "cron": 9,
              "authpriv": 10, "local0": 16, "local1": 17, "local3": 19, "local7": 23}
# Severity weights: what a busy server's log looks like (info dominates, criticals are rare).
SEVERITIES = ((6, 60), (5, 15), (4, 12), (3, 8), (7, 4), (2, 1))
USERS = ("root admin deploy www-data postgres nagios backup jenkins alice bob carol dave erin "
         "frank grace heidi ivan judy mallory oscar peggy trent victor walter svc-ci svc-metrics "
         "ansible git ubuntu debian").split()
PATHS = ("/var/log/syslog /var/lib/postgresql/15/main /etc/nginx/nginx.conf /srv/app/releases "
         "/home/{user}/.ssh/authorized_keys /tmp/upload-{hex4} /var/cache/apt/archives "
         "/opt/app/bin/worker /data/backups/{date}.tar.zst /run/user/{uid}/bus /dev/sd{letter}1 "
         "/var/spool/postfix/maildrop /usr/lib/systemd/system/{unit}.service").split()
URLS = ("/api/v1/orders /api/v1/orders/{n} /api/v2/payments /login /logout /static/app.{hex8}.js "
        "/static/css/site.css /healthz /metrics /api/v1/users/{n}/profile /search?q={word} "
        "/images/{hex8}.webp /api/v1/cart/{n}/items /favicon.ico /robots.txt").split()
WORDS = ("timeout refused reset invalid expired retry degraded ok ready draining throttled "
         "checkpoint vacuum rotate flush compaction rebalance leader follower").split()
UNITS = ("nginx postgresql ssh cron docker containerd kubelet haproxy postfix chrony "
         "systemd-journald app-worker app-api node-exporter").split()
HTTP = ((200, 70), (304, 8), (201, 5), (404, 6), (301, 3), (500, 2), (502, 1), (401, 2),
        (403, 1), (429, 1), (503, 1))
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
          "curl/8.5.0", "Prometheus/2.53.0", "kube-probe/1.31", "python-requests/2.32.3",
          "Go-http-client/1.1")


def weighted(r, pairs):
    total = sum(w for _, w in pairs)
    x = r.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


class Corpus:
    def __init__(self, seed):
        self.r = random.Random(seed)
        r = self.r
        self.t = 1733011200.0 + r.uniform(0, 86400 * 300)  # some day of a year; advances per line
        self.hosts = []
        for i in range(600):
            scheme = r.randrange(4)
            if scheme == 0:
                self.hosts.append("%s-%02d" % (r.choice(("web", "db", "cache", "mq", "api", "lb",
                                                         "worker", "batch")), r.randrange(1, 64)))
            elif scheme == 1:
                self.hosts.append("%s%d.%s.example.net" % (r.choice(("app", "db", "edge", "mail", "ns")),
                                                           r.randrange(1, 20),
                                                           r.choice(("eu-west", "us-east", "ap-south",
                                                                     "eu-central"))))
            elif scheme == 2:
                self.hosts.append("ip-10-%d-%d-%d" % (r.randrange(256), r.randrange(256), r.randrange(256)))
            else:
                self.hosts.append("node-%s" % "".join(r.choice("0123456789abcdef") for _ in range(8)))
        # Each host runs a few programs with a stable pid.
        self.pids = {}

    # ---- fillers --------------------------------------------------------------------------
    def ip(self):
        r = self.r
        if r.random() < 0.08:
            return "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536), r.randrange(65536))
        net = r.choice(((10,), (192, 168), (172, 16), (203, 0, 113), (198, 51, 100)))
        parts = list(net) + [r.randrange(1, 255) for _ in range(4 - len(net))]
        return ".".join(str(p) for p in parts)

    def hexs(self, n):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def fill(self, s):
        r = self.r
        return s.format(user=r.choice(USERS), hex4=self.hexs(4), hex8=self.hexs(8), n=r.randrange(1, 99999),
                        date="2026-%02d-%02d" % (r.randrange(1, 13), r.randrange(1, 29)),
                        uid=r.choice((0, 1000, 1001, 33, 112)), letter=r.choice("abcd"),
                        unit=r.choice(UNITS), word=r.choice(WORDS))

    def path(self):
        return self.fill(self.r.choice(PATHS))

    def url(self):
        return self.fill(self.r.choice(URLS))

    def ms(self):
        return round(self.r.lognormvariate(2.5, 1.2), 1)

    # ---- programs and their messages ----------------------------------------------------------
    def message(self, fac):
        r = self.r
        u, ip = r.choice(USERS), self.ip()
        port = r.randrange(1024, 65536)
        if fac in ("auth", "authpriv"):
            prog = r.choice(("sshd", "sshd", "sudo", "su", "systemd-logind", "login"))
            if prog == "sshd":
                return prog, r.choice((
                    "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s" % (u, ip, port, self.hexs(43)),
                    "Failed password for invalid user %s from %s port %d ssh2" % (u, ip, port),
                    "Connection closed by authenticating user %s %s port %d [preauth]" % (u, ip, port),
                    "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (u, r.randrange(1000, 1100)),
                    "Received disconnect from %s port %d:11: disconnected by user" % (ip, port),
                    "Disconnected from user %s %s port %d" % (u, ip, port)))
            if prog == "sudo":
                return prog, "%8s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl restart %s" % (
                    u, r.randrange(8), u, r.choice(UNITS))
            if prog == "su":
                return prog, "(to %s) %s on pts/%d" % (r.choice(USERS), u, r.randrange(8))
            if prog == "login":
                return prog, "FAILED LOGIN (%d) on '/dev/tty%d' FOR '%s', Authentication failure" % (
                    r.randrange(1, 4), r.randrange(1, 7), u)
            return prog, "New session %d of user %s." % (r.randrange(1, 90000), u)
        if fac == "cron":
            return "CRON", r.choice((
                "(%s) CMD (%s)" % (u, r.choice(("run-parts /etc/cron.hourly", "/usr/local/bin/backup.sh --incremental",
                                               "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
                                               "/opt/app/bin/worker --queue mail --max-jobs %d" % r.randrange(10, 500)))),
                "pam_unix(cron:session): session closed for user %s" % u))
        if fac == "kern":
            return "kernel", r.choice((
                "[%d.%06d] eth%d: Link is Up - %d Mbps/Full - flow control rx/tx" % (
                    r.randrange(10 ** 6), r.randrange(10 ** 6), r.randrange(3), r.choice((1000, 10000, 25000))),
                "[%d.%06d] EXT4-fs (sd%s1): mounted filesystem with ordered data mode. Quota mode: none." % (
                    r.randrange(10 ** 6), r.randrange(10 ** 6), r.choice("abcd")),
                "[%d.%06d] [UFW BLOCK] IN=eth0 OUT= MAC=%s SRC=%s DST=%s LEN=%d TOS=0x00 PREC=0x00 TTL=%d ID=%d "
                "PROTO=TCP SPT=%d DPT=%d WINDOW=%d RES=0x00 SYN URGP=0" % (
                    r.randrange(10 ** 6), r.randrange(10 ** 6),
                    ":".join(self.hexs(2) for _ in range(14)), ip, self.ip(), r.randrange(40, 1500),
                    r.randrange(30, 255), r.randrange(65536), port, r.choice((22, 23, 80, 443, 3389, 5432)),
                    r.randrange(1024, 65536)),
                "[%d.%06d] Out of memory: Killed process %d (%s) total-vm:%dkB, anon-rss:%dkB" % (
                    r.randrange(10 ** 6), r.randrange(10 ** 6), r.randrange(300, 4000000),
                    r.choice(("java", "python3", "node", "postgres")), r.randrange(10 ** 5, 10 ** 8),
                    r.randrange(10 ** 4, 10 ** 7))))
        if fac == "mail":
            qid = self.hexs(10).upper()
            return "postfix/" + r.choice(("smtp", "smtpd", "qmgr", "cleanup")), r.choice((
                "%s: to=<%s@example.org>, relay=mx%d.example.org[%s]:25, delay=%.2f, delays=%.2f/0/%.2f/%.2f, "
                "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)" % (
                    qid, u, r.randrange(1, 4), self.ip(), r.uniform(0, 5), r.uniform(0, 1), r.uniform(0, 2),
                    r.uniform(0, 2), self.hexs(10).upper()),
                "%s: from=<%s@example.net>, size=%d, nrcpt=%d (queue active)" % (
                    qid, u, r.randrange(500, 200000), r.randrange(1, 5)),
                "connect from unknown[%s]" % ip,
                "NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 <%s@example.org>: Relay access denied" % (ip, u)))
        if fac == "daemon":
            prog = r.choice(("systemd", "dockerd", "kubelet", "chronyd", "containerd", "named", "ntpd"))
            if prog == "systemd":
                unit = r.choice(UNITS)
                return prog, r.choice(("Started %s.service - %s daemon." % (unit, unit.title()),
                                       "%s.service: Deactivated successfully." % unit,
                                       "%s.service: Consumed %.3fs CPU time." % (unit, r.uniform(0, 300)),
                                       "Reloading %s.service..." % unit,
                                       "%s.service: Main process exited, code=exited, status=%d/FAILURE" % (
                                           unit, r.randrange(1, 4))))
            if prog in ("dockerd", "containerd"):
                return prog, 'time="2026-12-01T%02d:%02d:%02d.%09dZ" level=%s msg="%s" container=%s' % (
                    r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(10 ** 9),
                    r.choice(("info", "info", "warning", "error")),
                    r.choice(("ignoring event", "shim disconnected", "cleaning up dead shim",
                              "loading plugin io.containerd.runtime.v2.task")), self.hexs(64))
            if prog == "kubelet":
                return prog, 'I1201 %02d:%02d:%02d.%06d %d %s] "%s" pod="%s/%s-%s" podUID="%s-%s-%s"' % (
                    r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(10 ** 6), r.randrange(900, 9000),
                    r.choice(("kubelet.go:2470", "prober.go:107", "pod_workers.go:1298")),
                    r.choice(("SyncLoop (probe)", "Probe failed", "Error syncing pod, skipping")),
                    r.choice(("default", "kube-system", "monitoring", "payments")),
                    r.choice(("api", "worker", "redis", "ingress-nginx-controller")), self.hexs(5),
                    self.hexs(8), self.hexs(4), self.hexs(12))
            if prog in ("chronyd", "ntpd"):
                return prog, "Selected source %s (%s.pool.ntp.org), offset %+.6f seconds" % (
                    self.ip(), r.randrange(4), r.gauss(0, 0.002))
            return prog, "client @0x%s %s#%d (%s.example.net): query: %s.example.net IN %s + (%s)" % (
                self.hexs(12), ip, port, r.choice(WORDS), r.choice(WORDS), r.choice(("A", "AAAA", "MX", "TXT")),
                self.ip())
        # local*, user, syslog: web servers, load balancers and applications.
        prog = r.choice(("nginx", "nginx", "haproxy", "app-api", "app-worker", "postgres", "redis-server",
                         "node-exporter", "rsyslogd", "payments"))
        if prog == "nginx":
            return prog, '%s - %s [01/Dec/2026:%02d:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "-" "%s" rt=%.3f' % (
                ip, r.choice(("-", u)), r.randrange(24), r.randrange(60), r.randrange(60),
                r.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE")), self.url(), weighted(r, HTTP),
                r.randrange(0, 250000), r.choice(AGENTS), self.ms() / 1000)
        if prog == "haproxy":
            return prog, "%s:%d [01/Dec/2026:%02d:%02d:%02d.%03d] fe_https~ be_%s/srv%d %d/%d/%d/%d/%d %d %d - - ---- %d/%d/%d/%d/0 0/0 \"%s %s HTTP/1.1\"" % (
                ip, port, r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000),
                r.choice(("api", "web", "static")), r.randrange(1, 9), r.randrange(5), r.randrange(3),
                r.randrange(10), r.randrange(200), r.randrange(400), weighted(r, HTTP), r.randrange(100, 90000),
                r.randrange(900), r.randrange(900), r.randrange(100), r.randrange(10), r.choice(("GET", "POST")),
                self.url())
        if prog == "postgres":
            return prog, r.choice((
                "[%d] LOG:  duration: %.3f ms  statement: SELECT * FROM orders WHERE customer_id = %d AND status = '%s'" % (
                    r.randrange(1000, 90000), self.ms(), r.randrange(1, 10 ** 6), r.choice(("paid", "open", "shipped"))),
                "[%d] LOG:  checkpoint complete: wrote %d buffers (%.1f%%); %d WAL file(s) added, %d removed; "
                "write=%.3f s, sync=%.3f s, total=%.3f s" % (
                    r.randrange(1000, 90000), r.randrange(10, 90000), r.uniform(0, 30), r.randrange(3),
                    r.randrange(5), r.uniform(0, 30), r.uniform(0, 1), r.uniform(0, 31)),
                "[%d] FATAL:  password authentication failed for user \"%s\"" % (r.randrange(1000, 90000), u),
                "[%d] LOG:  automatic vacuum of table \"app.public.%s\": index scans: %d" % (
                    r.randrange(1000, 90000), r.choice(("orders", "sessions", "events", "users")), r.randrange(3))))
        if prog in ("app-api", "app-worker", "payments"):
            if r.random() < 0.5:
                return prog, '{"ts":"2026-12-01T%02d:%02d:%02d.%03dZ","level":"%s","msg":"%s","trace_id":"%s",' \
                    '"user":"%s","duration_ms":%.1f,"path":"%s"}' % (
                        r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000),
                        r.choice(("info", "info", "warn", "error", "debug")),
                        r.choice(("request done", "job finished", "cache miss", "retrying upstream",
                                  "payment captured", "rate limited")), self.hexs(32), u, self.ms(), self.url())
            return prog, r.choice((
                "worker %d: processed %d jobs in %.1f ms (queue depth %d)" % (
                    r.randrange(64), r.randrange(1, 5000), self.ms(), r.randrange(0, 100000)),
                "upstream %s:%d %s after %d ms, retry %d/5" % (self.ip(), port, r.choice(WORDS), r.randrange(5, 30000),
                                                              r.randrange(1, 6)),
                "wrote %d bytes to %s" % (r.randrange(0, 10 ** 9), self.path()),
                "user %s logged in from %s (session %s)" % (u, ip, self.hexs(16))))
        if prog == "redis-server":
            return prog, "%d:M 01 Dec 2026 %02d:%02d:%02d.%03d * %d changes in %d seconds. Saving..." % (
                r.randrange(1, 9999), r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000),
                r.randrange(1, 100000), r.choice((60, 300, 900)))
        if prog == "node-exporter":
            return prog, 'ts=2026-12-01T%02d:%02d:%02d.%03dZ caller=collector.go:%d level=error collector=%s ' \
                'msg="collector failed" err="open %s: no such file or directory"' % (
                    r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000), r.randrange(100, 200),
                    r.choice(("hwmon", "netdev", "filesystem", "diskstats")), self.path())
        return prog, "action 'action-%d-builtin:omfwd' resumed (module 'builtin:omfwd') [v8.2302.0 try " \
            "https://www.rsyslog.com/e/2359 ]" % r.randrange(10)

    def line(self):
        r = self.r
        fac = r.choice(list(FACILITIES))
        sev = weighted(r, SEVERITIES)
        host = r.choice(self.hosts)
        prog, msg = self.message(fac)
        key = (host, prog)
        if key not in self.pids:
            self.pids[key] = r.randrange(2, 4194304) if prog != "kernel" else None
        pid = self.pids[key]
        self.t += r.expovariate(1 / 0.004)
        sec = int(self.t)
        # gmtime without the clock module's locale: month, day, time of `sec`.
        days, rem = divmod(sec, 86400)
        y, m, d = civil(days)
        stamp = "%s %2d %02d:%02d:%02d" % (MONTHS[m - 1], d, rem // 3600, rem // 60 % 60, rem % 60)
        tag = "%s[%d]" % (prog, pid) if pid else prog
        return "<%d>%s %s %s: %s" % (FACILITIES[fac] * 8 + sev, stamp, host, tag, msg)


def civil(days):
    """(year, month, day) of a day number since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d)


def lines(count, seed=1):
    """The first `count` lines of the corpus of `seed`."""
    c = Corpus(seed)
    return [c.line() for _ in range(count)]


def write(path, count, seed=1):
    """Writes the corpus to `path` (one line each, '\\n'-terminated); answers its size in bytes."""
    data = "".join(l + "\n" for l in lines(count, seed)).encode("ascii")
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    n = write(a.out, a.count, a.seed)
    print("wrote %d lines (%d bytes, mean %.1f) to %s" % (a.count, n, n / max(1, a.count) - 1, a.out))


if __name__ == "__main__":
    sys.exit(main())
