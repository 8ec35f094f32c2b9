// Command-line tests of the sample programs (no browser, no npm package needed).
//
//   node cli-test.mjs --bin DIR_WITH_PROGRAMS --out DIR
//
// Each test waits for output lines (events), never for a fixed time, and asserts exact counts
// and order: lines sent by a client are printed by the server and relayed to a subscriber,
// lines written to the server's stdin reach the subscriber, a client keeps what it could not
// send while the server was down and delivers it after the restart, backpressure is shown,
// and the echo server returns every message.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Proc, Report, assert } from "./lib.mjs";

const { values: opt } = parseArgs({
  options: { bin: { type: "string" }, out: { type: "string", default: "." } },
});
if (!opt.bin) {
  console.error("usage: node cli-test.mjs --bin DIR --out DIR");
  process.exit(2);
}
mkdirSync(opt.out, { recursive: true });
const bin = (name) => join(opt.bin, name);
const report = new Report("samples-cli");
const procs = [];

function start(name, args, options) {
  const p = new Proc(name, [bin(name), ...args], options);
  procs.push(p);
  return p;
}

async function serverOnPort(port, extra = []) {
  const s = start("ws_log_server", ["--address", "127.0.0.1", "--port", String(port),
                                    "--exit-on-eof", ...extra]);
  const { m } = await s.waitLine(/listening on ws:\/\/127\.0\.0\.1:\d+\/ port (\d+)$/, "listening");
  return { s, port: Number(m[1]) };
}

// Received-message lines of a ws_log_server ("... #N < TEXT"), as TEXT.
const received = (s) => s.out.map((l) => /^\S+ \S+ #\d+ < (.*)$/.exec(l)).filter(Boolean).map((m) => m[1]);

const tests = {
  async "every program answers --help (status 0) and refuses a bad option (status 2), ws_log_server a bad --token, --allow-origin or --trusted-proxy"() {
    for (const name of ["ws_log_server", "ws_log_client", "echo_server", "echo_client"]) {
      const h = start(name, ["--help"], { stdin: "ignore" });
      const r = await h.wait();
      assert(r.code === 0 && h.out[0].startsWith("Usage: " + name), `${name} --help: ${JSON.stringify(r)}`);
      const b = start(name, ["--no-such-option"], { stdin: "ignore" });
      const rb = await b.wait();
      assert(rb.code === 2, `${name} --no-such-option exits 2, got ${JSON.stringify(rb)}`);
    }
    // Access options the library refuses: the message names the rule, never echoes a token.
    for (const args of [["--token", "two words"], ["--allow-origin", "null"],
                        ["--allow-origin", "https://x.example/"], ["--trusted-proxy", "10.1.2.3/8"],
                        ["--trusted-proxy", "localhost"]]) {
      const b = start("ws_log_server", ["--port", "0", "--no-stdin", ...args], { stdin: "ignore" });
      const rb = await b.wait();
      assert(rb.code === 2 && b.err.some((l) => /invalid argument/.test(l)),
             `ws_log_server ${args.join(" ")} exits 2 with the reason: ${JSON.stringify(rb)} ${b.err.join(" | ")}`);
      assert(!b.err.some((l) => l.includes("two words")), "the token is not echoed: " + b.err.join(" | "));
    }
  },

  async "client -> server -> subscriber (--relay), and server stdin -> subscriber, in order"() {
    const N = 50;
    const { s, port } = await serverOnPort(0, ["--relay"]);
    const sub = start("ws_log_client", ["--port", String(port), "--subscribe", "--raw",
                                        "--max-receive", String(N + 3)], { stdin: "ignore" });
    await s.waitLine(/#1 \* connected/, "subscriber connected");
    const c = start("ws_log_client", ["--port", String(port), "--count", String(N)], { stdin: "ignore" });
    const rc = await c.wait();
    assert(rc.code === 0, "sender exit status 0: " + JSON.stringify(rc));
    assert(c.err.some((l) => /unsent at exit 0$/.test(l)), "sender reports nothing unsent");
    await s.waitLine(new RegExp(`test line ${N} of ${N}$`), "last line printed by the server");
    const got = received(s);
    assert(got.length === N, `server printed ${got.length} of ${N} lines`);
    got.forEach((l, i) => assert(l.endsWith(`test line ${i + 1} of ${N}`), "order at " + i + ": " + l));
    for (const l of ["from stdin 1", "from stdin 2", "from stdin 3"]) s.write(l);
    const rs = await sub.wait();
    assert(rs.code === 0, "subscriber reached --max-receive and exited 0: " + JSON.stringify(rs));
    assert(sub.out.length === N + 3, `subscriber printed ${sub.out.length} lines, want ${N + 3}`);
    assert(JSON.stringify(sub.out.slice(0, N)) === JSON.stringify(got), "subscriber got the relayed lines in order");
    assert(JSON.stringify(sub.out.slice(N)) === JSON.stringify(["from stdin 1", "from stdin 2", "from stdin 3"]),
           "subscriber got the stdin lines: " + JSON.stringify(sub.out.slice(N)));
    const r = await s.stop();
    assert(r.code === 0, "server exit status 0 at end of input");
    assert(s.err.some((l) => /53 messages sent|50 messages received/.test(l)), "server prints its counters");
  },

  async "--subscribe numbers lines and resumes a cut connection with since: every line once, in order"() {
    const { s, port } = await serverOnPort(0, ["--replay", "1000"]);
    // A TCP forwarder between subscriber and server whose connections the test cuts: a real
    // network loss, seen by both ends.
    const pairs = new Set();
    const fwd = createServer((down) => {
      const up = connect(port, "127.0.0.1");
      const pair = { down, up };
      pairs.add(pair);
      const end = () => { down.destroy(); up.destroy(); pairs.delete(pair); };
      down.pipe(up);
      up.pipe(down);
      for (const sock of [down, up]) { sock.on("error", end); sock.on("close", end); }
    });
    await new Promise((resolve) => fwd.listen(0, "127.0.0.1", resolve));
    try {
      const sub = start("ws_log_client", ["--port", String(fwd.address().port), "--subscribe",
                                          "--max-receive", "40"], { stdin: "ignore" });
      await sub.waitLine(/replay: going on from #1, nothing missed/, "subscribed with since=0", { stream: "err" });
      for (let i = 1; i <= 20; i++) s.write(`line ${i}`);
      await sub.waitLine(/< #20 line 20$/, "the first 20 lines");
      for (const p of pairs) { p.down.destroy(); p.up.destroy(); }
      await sub.waitLine(/reconnecting in \d+ ms with since=20$/, "reconnecting with since", { stream: "err" });
      // Broadcast while it is away (backoff): held by the server, replayed.
      for (let i = 21; i <= 40; i++) s.write(`line ${i}`);
      const rs = await sub.wait();
      assert(rs.code === 0, "subscriber reached --max-receive and exited 0: " + JSON.stringify(rs));
      const got = sub.out.map((l) => / < (#\d+ .*)$/.exec(l)).filter(Boolean).map((m) => m[1]);
      const want = Array.from({ length: 40 }, (_, i) => `#${i + 1} line ${i + 1}`);
      assert(JSON.stringify(got) === JSON.stringify(want), "every line once, numbered, in order: " + JSON.stringify(got));
      assert(sub.err.some((l) => /replay: going on from #21, nothing missed/.test(l)),
             "the second connection resumed after #20: " + sub.err.join(" | "));
    } finally {
      fwd.close();
      for (const p of pairs) { p.down.destroy(); p.up.destroy(); }
    }
    const r = await s.stop();
    assert(r.code === 0, "server exit status 0 at end of input");
  },

  async "the client survives a server restart: lines written meanwhile arrive after it, in order"() {
    const first = await serverOnPort(0);
    const port = first.port;
    const c = start("ws_log_client", ["--port", String(port)]);
    await c.waitLine(/connected to 127\.0\.0\.1 port/, "client connected", { stream: "err" });
    c.write("before the restart");
    await first.s.waitLine(/< before the restart$/, "first line");
    const r1 = await first.s.stop();
    assert(r1.code === 0, "first server exits 0");
    await c.waitLine(/disconnected .*reconnecting/, "client saw the server go", { stream: "err" });
    for (let i = 1; i <= 20; i++) c.write(`while down ${i}`);
    const second = await serverOnPort(port);
    await second.s.waitLine(/< while down 20$/, "queued lines delivered after the restart");
    const got = received(second.s);
    assert(JSON.stringify(got) === JSON.stringify(Array.from({ length: 20 }, (_, i) => `while down ${i + 1}`)),
           "exactly the 20 queued lines, in order: " + JSON.stringify(got));
    const rc = await c.stop();
    assert(rc.code === 0, "client exit status 0");
    const stats = c.err.find((l) => / stats: /.test(l)) || "";
    assert(/lines queued 21, messages sent 21 /.test(stats) && /unsent at exit 0$/.test(stats),
           "client stats: " + stats);
    assert(/reconnects [1-9]/.test(stats), "client counted its reconnects: " + stats);
    await second.s.stop();
  },

  async "backpressure: a full send queue is shown and waited out, nothing is lost"() {
    // A port nobody listens on any more: the client queues until the queue (4) is full.
    const probe = await serverOnPort(0);
    const port = probe.port;
    await probe.s.stop();
    const N = 40;
    const c = start("ws_log_client", ["--port", String(port), "--count", String(N), "--queue", "4"],
                    { stdin: "ignore" });
    await c.waitLine(/backpressure: send queue full/, "backpressure shown", { stream: "err" });
    const { s } = await serverOnPort(port);
    const rc = await c.wait(30000);
    assert(rc.code === 0, "client exit status 0 after the server came: " + JSON.stringify(rc));
    await s.waitLine(new RegExp(`test line ${N} of ${N}$`), "last line");
    const got = received(s);
    assert(got.length === N, `server got ${got.length} of ${N}`);
    got.forEach((l, i) => assert(l.endsWith(`test line ${i + 1} of ${N}`), "order at " + i));
    await s.stop();
  },

  async "echo_server returns every message unchanged and reports the count at exit"() {
    const e = start("echo_server", ["--port", "0"]);
    const { m } = await e.waitLine(/^PORT (\d+)$/, "PORT line");
    const c = start("ws_log_client", ["--port", m[1], "--count", "25", "--max-receive", "25", "--raw"],
                    { stdin: "ignore" });
    const rc = await c.wait();
    assert(rc.code === 0, "client exit 0");
    assert(c.out.length === 25, "25 echoes");
    c.out.forEach((l, i) => assert(l.endsWith(`test line ${i + 1} of 25`), "echo order at " + i));
    const r = await e.stop();
    assert(r.code === 0, "echo_server exit 0 at end of input");
    assert(e.err.some((l) => /echoed 25, refused 0, unsent at exit 0/.test(l)), "echo count: " + e.err.join(" | "));
  },

  async "ws_log_server stops cleanly on SIGINT (Ctrl-C)"() {
    const { s } = await serverOnPort(0, ["--no-stdin"]);
    s.proc.kill("SIGINT");
    const r = await s.wait();
    assert(r.code === 0, "exit status 0 on SIGINT: " + JSON.stringify(r));
  },

  async "TLS: ws_log_server --cert/--key serves wss://, ws_log_client --cacert verifies it"() {
    // A throw-away CA and a server certificate for 127.0.0.1, made here with the openssl CLI.
    const dir = join(opt.out, "tls");
    mkdirSync(dir, { recursive: true });
    const ossl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ossl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=ws_api samples test CA");
    ossl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(dir, "ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", "ext", "-out", "server.pem");

    const s = start("ws_log_server", ["--address", "127.0.0.1", "--port", "0", "--exit-on-eof",
                                      "--cert", join(dir, "server.pem"), "--key", join(dir, "server.key")]);
    const { m } = await s.waitLine(/listening on wss:\/\/127\.0\.0\.1:\d+\/ port (\d+)$/, "wss listening");
    const c = start("ws_log_client", ["--port", m[1], "--cacert", join(dir, "ca.pem"), "--count", "3"],
                    { stdin: "ignore" });
    const rc = await c.wait();
    assert(rc.code === 0, "client over TLS exits 0: " + c.err.join(" | "));
    await s.waitLine(/< .*test line 3 of 3$/, "third line over TLS");
    assert(received(s).length === 3, "3 lines over TLS");
    // Without the CA the certificate cannot be verified: the client must refuse it.
    const bad = start("ws_log_client", ["--port", m[1], "--tls", "--count", "1", "--drain", "1500"],
                      { stdin: "ignore" });
    await bad.waitLine(/error .*TLS/, "verification failure reported", { stream: "err" });
    const rb = await bad.wait();
    assert(rb.code === 1, "unverified server: the line stays unsent, exit 1: " + JSON.stringify(rb));
    assert(received(s).length === 3, "nothing arrived from the refusing client");
    await s.stop();
  },

  async "ws_log_server refuses a port in use at once (status 1)"() {
    const { s, port } = await serverOnPort(0);
    const t = start("ws_log_server", ["--address", "127.0.0.1", "--port", String(port)], { stdin: "ignore" });
    const r = await t.wait();
    assert(r.code === 1 && t.err.some((l) => /cannot listen/.test(l)), "second bind fails: " + t.err.join(" | "));
    await s.stop();
  },
};

for (const [name, fn] of Object.entries(tests)) {
  try {
    await fn();
    report.ok(name);
  } catch (e) {
    report.fail(`${name}: ${e.message}`);
  }
}
for (const p of procs) p.kill();
writeFileSync(join(opt.out, "processes.log"),
              procs.map((p) => `--- ${p.name}\n${p.log.join("\n")}`).join("\n") + "\n");
process.exit(report.end());
