// Real-browser test of examples/index.html served by examples/ws_log_server.
//
//   node browser-test.mjs --server PATH/ws_log_server --index PATH/index.html --out DIR
//                         [--screenshot EXTRA.png] [--chromium /usr/bin/chromium]
//                         [--syslog-ng-module-dir DIR] [--nginx /usr/sbin/nginx]
//
// Headless Chromium (Debian's, driven by playwright-core) loads the page from the server,
// connects over WebSocket, and the test asserts both directions: lines the server broadcasts
// (written to its stdin) appear on the page, and a line typed on the page is printed by the
// server. It also checks the filter, pause/resume, the subprotocol, and the reconnect after a
// server restart on the same port. The page's connection must negotiate permessage-deflate
// (ws_log_server compresses by default; the page exposes the socket's `extensions`, and the
// server prints what each connection negotiated), and 300 varied lines, some long and some not
// ASCII, must arrive through it intact and in order. Every wait is for an event (a server output line, a page
// state) with a time limit; nothing sleeps.
//
// Access control, in the browser: a server started with --token serves its page, which
// subscribes when its address carries the token (#token= or ?access_token=) and is refused
// without it; the default Origin check lets the server's own page in and refuses a page from
// another origin (another server's port) even with the token, until --allow-origin names it.
//
// With --nginx (Debian's nginx binary), the page is loaded through nginx (plain HTTP on
// 127.0.0.1, proxying the page and the WebSocket upgrade to ws_log_server started with
// --trusted-proxy 127.0.0.1): its lines arrive, and the server names the client that nginx's
// X-Forwarded-For header gives (a fixed documentation address), not nginx.
//
// Replay (docs/replay.md): every line on the page shows its number; the page is loaded through
// a TCP forwarder whose connections the test cuts while ws_log_server --replay goes on
// broadcasting, and the page reconnects by itself with ?since=<last number>: every line
// exactly once, numbered 1..N, in order.
//
// With --syslog-ng-module-dir (where libwebsocket.so is installed), the same page is then
// loaded from syslog-ng's websocket() destination in server mode, and lines sent with
// logger(1) to a syslog-ng unix-dgram source must appear on it: the main job, in a browser. That
// destination has compression(yes), and the page's connection must negotiate it.

import { execFileSync } from "node:child_process";
import { createConnection, createServer } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { Proc, Report, assert, WAIT_MS } from "./lib.mjs";

const { values: opt } = parseArgs({
  options: {
    server: { type: "string" },
    index: { type: "string" },
    out: { type: "string", default: "." },
    screenshot: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    "syslog-ng-module-dir": { type: "string" },
    "syslog-ng": { type: "string", default: "syslog-ng" },
    nginx: { type: "string" },
  },
});
if (!opt.server || !opt.index) {
  console.error("usage: node browser-test.mjs --server BIN --index FILE --out DIR [--screenshot FILE]");
  process.exit(2);
}
mkdirSync(opt.out, { recursive: true });

const PROTOCOL = "syslog";
const report = new Report("browser");
const ok = (what) => report.ok(what);

// The server under test; `broadcast` writes a line to its stdin.
class Server extends Proc {
  constructor(port, extra = []) {
    super("ws_log_server", [opt.server, "--address", "127.0.0.1", "--port", String(port),
                            "--protocol", PROTOCOL, "--index", opt.index, "--exit-on-eof",
                            ...extra]);
  }

  get lines() {
    return this.out;
  }

  broadcast(line) {
    this.write(line);
  }
}

let server;
let browser;
let page;
const servers = [];

async function main() {
  server = new Server(0);
  servers.push(server);
  const { m } = await server.waitLine(/listening on ws:\/\/127\.0\.0\.1:\d+\/ port (\d+)$/, "listening");
  const port = Number(m[1]);
  assert(port > 0, "a port was bound");
  ok(`ws_log_server listens on port ${port} (bound with port 0)`);

  browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: true,
    timeout: 60000,
    // A fresh profile comes from playwright (a new temporary user-data-dir per launch).
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-proxy-server",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("requestfailed", (r) => {
    // Only the page itself should ever be requested: anything else means an external resource.
    if (!r.url().startsWith(`http://127.0.0.1:${port}/`)) consoleErrors.push("request to " + r.url());
  });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));

  const connectedFrom = server.lines.length;
  await page.goto(`http://127.0.0.1:${port}/?protocol=${PROTOCOL}`, { timeout: WAIT_MS });
  assert(requests.every((u) => u.startsWith(`http://127.0.0.1:${port}/`)),
         "the page loads nothing from elsewhere: " + requests.join(", "));
  ok("the page is served by ws_log_server over plain HTTP, with no external resource");

  await page.waitForSelector("#state[data-state=open]", { timeout: WAIT_MS });
  const stateText = await page.textContent("#state-text");
  assert(stateText.includes(PROTOCOL), `state shows the subprotocol: "${stateText}"`);
  const url = await page.inputValue("#url");
  assert(url === `ws://127.0.0.1:${port}/`, "URL derived from the page's location: " + url);
  const { m: cm } = await server.waitLine(/#\d+ \* connected \(1 open, (\d+) compressed\)/, "browser connection",
                                         { from: connectedFrom });
  ok(`the page connects to ${url} with subprotocol "${PROTOCOL}" (state: ${stateText})`);

  // Compression: Chromium offers permessage-deflate, ws_log_server accepts it; both ends say so.
  const extensions = await page.evaluate(() => window.wsLog.extensions);
  assert(/^permessage-deflate\b/.test(extensions), "the page's WebSocket negotiated permessage-deflate: " +
         JSON.stringify(extensions));
  assert(cm[1] === "1", "the server counts the page's connection as compressed: " + cm[0]);
  assert(stateText.includes("compressed"), "the state shows the compression: " + stateText);
  ok(`the page's connection uses permessage-deflate (ws.extensions "${extensions}"; the server: "${cm[0]}")`);

  // Server -> browser: lines written to the server's stdin are broadcast to the page.
  const lines = [];
  for (let i = 1; i <= 5; i++) {
    lines.push(`<14>Nov 25 10:00:0${i} testhost app[42]: browser-test line ${i}`);
  }
  for (const l of lines) server.broadcast(l);
  await page.waitForFunction((n) => document.querySelectorAll("#log .line.in").length >= n,
                             lines.length, { timeout: WAIT_MS });
  let shown = await page.$$eval("#log .line.in", (ns) => ns.map((n) => n.dataset.text));
  assert(JSON.stringify(shown) === JSON.stringify(lines), "lines shown in order: " + JSON.stringify(shown));
  ok(`${lines.length} lines broadcast by the server appear on the page, in order`);

  // Auto-scroll: the newest line is in view.
  const atBottom = await page.$eval("#log", (l) => l.scrollHeight - l.scrollTop - l.clientHeight < 4);
  assert(atBottom, "log scrolled to the newest line");

  // Filter: plain text, then a regular expression.
  await page.fill("#filter", "LINE 3");
  let visible = await page.$$eval("#log .line.in:not([hidden])", (ns) => ns.map((n) => n.dataset.text));
  assert(visible.length === 1 && visible[0].endsWith("line 3"), "text filter: " + JSON.stringify(visible));
  await page.fill("#filter", "/line [24]$/");
  visible = await page.$$eval("#log .line.in:not([hidden])", (ns) => ns.map((n) => n.dataset.text));
  assert(visible.length === 2 && visible[0].endsWith("line 2") && visible[1].endsWith("line 4"),
         "regex filter: " + JSON.stringify(visible));
  await page.fill("#filter", "");
  visible = await page.$$eval("#log .line.in:not([hidden])", (ns) => ns.length);
  assert(visible === lines.length, "empty filter shows every line");
  ok("the filter box hides non-matching lines (text and /regex/) and shows all when cleared");

  // Pause: a line arriving while paused is held, not shown, and appears on resume.
  await page.click("#pause");
  const before = await page.evaluate(() => window.wsLog.received);
  server.broadcast("<12>Nov 25 10:00:09 testhost app[42]: arrived while paused");
  await page.waitForFunction((n) => window.wsLog.received > n, before, { timeout: WAIT_MS });
  let n = await page.$$eval("#log .line.in", (ns) => ns.length);
  assert(n === lines.length, "no line added while paused");
  const notice = await page.textContent("#notice");
  assert(notice.includes("1 held"), "notice tells what is held: " + notice);
  await page.click("#pause");
  n = await page.$$eval("#log .line.in", (ns) => ns.length);
  assert(n === lines.length + 1, "the held line is shown on resume");
  ok("pause holds arriving lines (counted in the notice) and resume shows them");

  // Browser -> server: a line typed on the page is printed by the server.
  const sentFrom = server.lines.length;
  const text = "hello from the browser";
  await page.fill("#send-text", text);
  await page.press("#send-text", "Enter");
  const esc = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await server.waitLine(new RegExp(`^\\S+ 127\\.0\\.0\\.1:\\d+ #\\d+ < ${esc}$`), "line sent by the page", { from: sentFrom });
  await page.waitForSelector("#log .line.out", { timeout: WAIT_MS });
  ok("a line sent from the page is received and printed by the server (with peer address)");

  // A line that is not UTF-8 travels as a binary message; the page says so and decodes it.
  const binFrom = await page.$$eval("#log .line.in", (ns) => ns.length);
  server.proc.stdin.write(Buffer.concat([Buffer.from("latin-1 caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
  await page.waitForFunction((n) => document.querySelectorAll("#log .line.in").length > n, binFrom,
                             { timeout: WAIT_MS });
  const binText = await page.$eval("#log .line.in:last-child", (n) => n.dataset.text);
  assert(binText.startsWith("[binary, 12 bytes] latin-1 caf"), "binary message shown: " + binText);
  ok("a binary message is shown as such");

  // Through the compressed connection: 300 varied lines (short and long, repeated fields that
  // the shared window compresses, UTF-8 beyond ASCII) arrive byte for byte, in order.
  const hosts = ["web-01", "db3.eu-west.example.net", "ip-10-4-2-9", "node-3fa9c0de"];
  const bulk = [];
  for (let i = 0; i < 300; i++) {
    const host = hosts[i % hosts.length];
    let l = `<${8 + (i % 24)}>Nov 25 10:00:${String(i % 60).padStart(2, "0")} ${host} app[${1000 + (i * 7919) % 50000}]: ` +
      `request ${i} from 192.0.2.${i % 255} user=${["alice", "bob", "zoë", "jürgen"][i % 4]} ` +
      `path=/api/v1/orders/${(i * 104729) % 100000} took ${(i * 37) % 1000} ms`;
    if (i % 50 === 7) l += " " + "payload=" + "abcdefghij".repeat(800) + ` end ${i}`; // 8 kB
    if (i % 10 === 3) l += " ✓ 日本語 " + i;
    bulk.push(l);
  }
  const bulkFrom = await page.$$eval("#log .line.in", (ns) => ns.length);
  for (const l of bulk) server.broadcast(l);
  await page.waitForFunction((n) => document.querySelectorAll("#log .line.in").length >= n,
                             bulkFrom + bulk.length, { timeout: WAIT_MS });
  shown = await page.$$eval("#log .line.in", (ns) => ns.map((n) => n.dataset.text));
  const got = shown.slice(bulkFrom);
  const bad = bulk.findIndex((l, i) => got[i] !== l);
  assert(got.length === bulk.length && bad < 0,
         `compressed lines arrive intact: ${got.length} of ${bulk.length}, first difference at ${bad}`);
  ok(`${bulk.length} varied lines (up to ${Math.max(...bulk.map((l) => l.length))} characters, some not ASCII) arrive intact and in order over the compressed connection`);

  // Disconnect is final (no reconnect) until Connect; an invalid URL is reported, not retried.
  const discFrom = server.lines.length;
  await page.click("#connect");
  await page.waitForSelector("#state[data-state=idle]", { timeout: WAIT_MS });
  await server.waitLine(/#\d+ \* closed 1000/, "page closed with 1000", { from: discFrom });
  await page.fill("#url", "no-such-scheme://x");
  await page.press("#url", "Enter");
  await page.waitForSelector("#state[data-state=error]", { timeout: WAIT_MS });
  const errText = await page.textContent("#state-text");
  await page.fill("#url", url);
  const reFrom = server.lines.length;
  await page.click("#connect");
  await page.waitForSelector("#state[data-state=open]", { timeout: WAIT_MS });
  await server.waitLine(/#\d+ \* connected/, "page connected again", { from: reFrom });
  ok(`Disconnect closes with 1000 and stays closed; an invalid URL is reported ("${errText}"); Connect reconnects`);

  // Reconnect: the server goes away, the page shows it and retries with backoff; the server
  // comes back on the same port and the page reconnects by itself.
  const r = await server.stop();
  assert(r.code === 0, `server exited cleanly (${JSON.stringify(r)})`);
  await page.waitForSelector("#state[data-state=waiting]", { timeout: WAIT_MS });
  const waitingText = await page.textContent("#state-text");
  server = new Server(port);
  servers.push(server);
  await server.waitLine(/listening on .* port (\d+)$/, "restarted server");
  await page.waitForSelector("#state[data-state=open]", { timeout: 45000 });
  await server.waitLine(/#\d+ \* connected/, "browser reconnection");
  ok(`the page reconnects after a server restart (it showed "${waitingText}")`);

  // A second page: a broadcast reaches every subscriber. This page, with only realistic lines
  // on it, is the screenshot of the docs.
  const page2 = await context.newPage();
  await page2.setViewportSize({ width: 1100, height: 450 });
  page2.on("pageerror", (e) => consoleErrors.push(String(e)));
  const secondFrom = server.lines.length;
  await page2.goto(`http://127.0.0.1:${port}/?protocol=${PROTOCOL}`, { timeout: WAIT_MS });
  await page2.waitForSelector("#state[data-state=open]", { timeout: WAIT_MS });
  await server.waitLine(/#\d+ \* connected \(2 open[,)]/, "second page connected", { from: secondFrom });
  const after = [
    "<13>Nov 25 10:01:00 web1 sshd[311]: Accepted publickey for admin from 192.0.2.10 port 50412 ssh2",
    "<14>Nov 25 10:01:00 web1 nginx[802]: GET /api/orders 200 12ms",
    "<12>Nov 25 10:01:01 web1 kernel: eth0: link is slow, falling back to 100 Mbps",
    "<14>Nov 25 10:01:01 web1 nginx[802]: POST /api/payments 201 48ms",
    "<11>Nov 25 10:01:02 web1 payments[42]: worker failed: connection refused (retrying in 2 s)",
    "<14>Nov 25 10:01:03 web1 cron[977]: (root) CMD (run-parts /etc/cron.hourly)",
    "<14>Nov 25 10:01:04 web1 payments[42]: worker reconnected to db1:5432",
    "<15>Nov 25 10:01:04 web1 payments[42]: debug: 128 messages flushed in 3 ms",
    "<10>Nov 25 10:01:05 web1 smartd[512]: Device /dev/sda: SMART failure predicted",
    "<14>Nov 25 10:01:06 web1 backup[1204]: backup of /var/lib/app finished in 42 s",
  ];
  const count0 = await page.$$eval("#log .line.in", (ns) => ns.length);
  for (const l of after) server.broadcast(l);
  for (const [p, base] of [[page, count0], [page2, 0]]) {
    await p.waitForFunction((k) => document.querySelectorAll("#log .line.in").length >= k,
                            base + after.length, { timeout: WAIT_MS });
    shown = await p.$$eval("#log .line.in", (ns) => ns.slice(-10).map((n) => n.dataset.text));
    assert(JSON.stringify(shown) === JSON.stringify(after), "lines after the restart: " + JSON.stringify(shown));
  }
  ok("lines broadcast after the restart appear on both pages (two subscribers), in order");
  await page2.fill("#send-text", "a line to try a source");

  assert(consoleErrors.length === 0, "no page error: " + consoleErrors.join("; "));
  ok("no script error and no failed request on the page");

  await page.screenshot({ path: join(opt.out, "test-page.png") });
  const shot = join(opt.out, "samples-page.png");
  await page2.screenshot({ path: shot });
  if (opt.screenshot) copyFileSync(shot, opt.screenshot);
  console.log(`screenshots: ${join(opt.out, "test-page.png")}, ${shot}${opt.screenshot ? " and " + opt.screenshot : ""}`);
  await page2.close();

  await page.close();
  page = null;
  const r2 = await server.stop();
  assert(r2.code === 0, `server exited cleanly at the end (${JSON.stringify(r2)})`);
  ok("ws_log_server stops cleanly at the end of its input (exit status 0)");

  await accessControl(context);
  await replayAcrossACut(context);
  if (opt.nginx) await behindNginx(context);
  if (opt["syslog-ng-module-dir"]) await syslogNg(context);
  await browser.close();
  browser = null;
}

// Starts a server with `extra` options and answers it with its port.
async function startServer(extra) {
  const srv = new Server(0, extra);
  servers.push(srv);
  const { m } = await srv.waitLine(/listening on ws:\/\/127\.0\.0\.1:\d+\/ port (\d+)$/, "listening");
  return [srv, Number(m[1])];
}

// Opens `url` in a new page and waits until the page is subscribed ("open") or refused (it
// then waits to retry: "waiting"). Answers the page and the server lines since the goto.
async function subscribe(context, srv, url, want) {
  const from = srv.lines.length;
  const p = await context.newPage();
  await p.goto(url, { timeout: WAIT_MS });
  await p.waitForSelector(`#state[data-state=${want}]`, { timeout: WAIT_MS });
  return { p, from };
}

// Refusals end in the server's summary line: "..., N handshakes refused, ...".
async function refusedAtExit(srv) {
  const r = await srv.stop();
  assert(r.code === 0, `server exited cleanly (${JSON.stringify(r)})`);
  const line = srv.err.find((l) => / handshakes refused, /.test(l)) || "";
  const m = / (\d+) handshakes refused, /.exec(line);
  assert(m, "summary line: " + line);
  return Number(m[1]);
}

async function accessControl(context) {
  const TOKEN = "browser-" + Math.random().toString(36).slice(2);
  const [srv, port] = await startServer(["--token", TOKEN]);
  const base = `http://127.0.0.1:${port}/?protocol=${PROTOCOL}`;

  // With the token in the fragment: subscribed, lines arrive; the token is not shown.
  const a = await subscribe(context, srv, `${base}#token=${TOKEN}`, "open");
  await srv.waitLine(/#\d+ \* connected/, "page with the token", { from: a.from });
  const line = "<14>Nov 25 10:02:00 web1 app[1]: for token holders only";
  srv.broadcast(line);
  await a.p.waitForFunction((t) => [...document.querySelectorAll("#log .line.in")]
    .some((n) => n.dataset.text === t), line, { timeout: WAIT_MS });
  const shownUrl = await a.p.inputValue("#url");
  assert(!shownUrl.includes(TOKEN), "the URL field does not show the token: " + shownUrl);
  assert((await a.p.textContent("body")).indexOf(TOKEN) < 0, "the token appears nowhere on the page");
  ok("with #token= the page subscribes to a token-protected server and gets its lines " +
     "(served by the same server: the default Origin check lets it in)");

  // The query form of the page's address works too.
  const b = await subscribe(context, srv, `${base}&access_token=${TOKEN}`, "open");
  await srv.waitLine(/#\d+ \* connected \(2 open[,)]/, "page with ?access_token", { from: b.from });
  ok("with ?access_token= in the page's address the page subscribes too");

  // Without the token, or with a wrong one: refused, never connected, retrying.
  const c = await subscribe(context, srv, base, "waiting");
  const d = await subscribe(context, srv, `${base}#token=wrong-${TOKEN}`, "waiting");
  const hint = await c.p.textContent("#state-text");
  assert(/token/.test(hint), "the refused page hints at the token: " + hint);
  assert(!srv.lines.slice(c.from).some((l) => /\* connected/.test(l)),
         "no connection without the right token: " + srv.lines.slice(c.from).join(" | "));
  ok(`without the token or with a wrong one the page is refused and retries ("${hint}")`);

  // A page from another origin (another server's page, another port) is refused even with
  // the token: cross-site WebSocket hijacking.
  const [other, otherPort] = await startServer([]);
  const wsUrl = encodeURIComponent(`ws://127.0.0.1:${port}/`);
  const foreign = `http://127.0.0.1:${otherPort}/?protocol=${PROTOCOL}&url=${wsUrl}#token=${TOKEN}`;
  const e = await subscribe(context, srv, foreign, "waiting");
  assert(!srv.lines.slice(e.from).some((l) => /\* connected/.test(l)),
         "no connection from another origin: " + srv.lines.slice(e.from).join(" | "));
  ok("a page from another origin is refused even with the token (default Origin check)");

  for (const x of [a, b, c, d, e]) await x.p.close();
  const refused = await refusedAtExit(srv);
  assert(refused >= 3, `the server counted its refusals: ${refused}`);
  ok(`ws_log_server counted ${refused} refused handshakes and stopped cleanly`);

  // --allow-origin lets that other origin in (with the token).
  const [open, openPort] = await startServer(["--token", TOKEN, "--allow-origin",
                                              `http://127.0.0.1:${otherPort}`]);
  const allowed = `http://127.0.0.1:${otherPort}/?protocol=${PROTOCOL}` +
    `&url=${encodeURIComponent(`ws://127.0.0.1:${openPort}/`)}#token=${TOKEN}`;
  const f = await subscribe(context, open, allowed, "open");
  await open.waitLine(/#\d+ \* connected/, "allowed origin", { from: f.from });
  await f.p.close();
  await open.stop();
  await other.stop();
  ok("--allow-origin lets a page from the named origin subscribe");
}

// A free port on 127.0.0.1 (bound, then released for nginx to bind).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after WAIT_MS
// or when `proc` exits first.
// The page through a TCP forwarder to a ws_log_server with --replay; the forwarder's
// connections are cut (a network loss both ends see) while lines are broadcast.
async function replayAcrossACut(context) {
  const [srv, port] = await startServer(["--replay", "1000"]);
  const pairs = new Set();
  const fwd = createServer((down) => {
    const up = createConnection({ host: "127.0.0.1", port });
    const pair = { down, up };
    pairs.add(pair);
    const end = () => { down.destroy(); up.destroy(); pairs.delete(pair); };
    down.pipe(up);
    up.pipe(down);
    for (const sock of [down, up]) { sock.on("error", end); sock.on("close", end); }
  });
  await new Promise((resolve) => fwd.listen(0, "127.0.0.1", resolve));
  const cut = () => { for (const p of [...pairs]) { p.down.destroy(); p.up.destroy(); } };
  try {
    const fport = fwd.address().port;
    const { p } = await subscribe(context, srv, `http://127.0.0.1:${fport}/?protocol=${PROTOCOL}`, "open");
    const want = Array.from({ length: 30 }, (_, i) => `replay line ${i + 1}`);
    const shownLines = async (n) => {
      await p.waitForFunction((k) => document.querySelectorAll("#log .line.in").length >= k, n,
                              { timeout: WAIT_MS });
      return p.$$eval("#log .line.in", (ns) => ns.map((x) => [x.dataset.seq, x.dataset.text,
        x.querySelector(".seq") ? x.querySelector(".seq").textContent : null]));
    };
    for (const l of want.slice(0, 10)) srv.broadcast(l);
    let got = await shownLines(10);
    assert(JSON.stringify(got) === JSON.stringify(want.slice(0, 10).map((t, i) => [String(i + 1), t, "#" + (i + 1)])),
           "the first lines, numbered #1..#10 on the page: " + JSON.stringify(got));
    ok("each line on the page shows its number (#1..#10)");
    // Cut twice: once with lines broadcast while the page is away, once with none.
    for (const [from, to] of [[10, 25], [25, 30]]) {
      cut();
      await p.waitForSelector("#state[data-state=waiting]", { timeout: WAIT_MS });
      for (const l of want.slice(from, to)) srv.broadcast(l);
      await p.waitForSelector("#state[data-state=open]", { timeout: 45000 });
      got = await shownLines(to);
      assert(got.length === to && JSON.stringify(got) ===
             JSON.stringify(want.slice(0, to).map((t, i) => [String(i + 1), t, "#" + (i + 1)])),
             `after a cut: every line once, numbered, in order: ${JSON.stringify(got)}`);
    }
    const sys = await p.$$eval("#log .line.sys", (ns) => ns.map((x) => x.dataset.text));
    assert(sys.some((t) => t === "resumed from #11, nothing missed"), "the page said where it resumed: " + JSON.stringify(sys));
    const replays = await p.evaluate(() => window.wsLog.replays);
    assert(replays === 3, "three connections, each with replay metadata: " + replays);
    ok("the page reconnects with since=<last number> after its connection is cut: lines broadcast meanwhile arrive, none twice");
    await p.close();
  } finally {
    fwd.close();
    cut();
  }
  const r = await srv.stop();
  assert(r.code === 0, `replay server exited cleanly (${JSON.stringify(r)})`);
}

async function listening(port, proc) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const up = await new Promise((resolve) => {
      const c = createConnection({ host: "127.0.0.1", port }, () => { c.destroy(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (up) return;
    assert(proc.running(), `${proc.name} exited: ${proc.log.join(" | ")}`);
    assert(Date.now() < deadline, `${proc.name} does not listen on ${port}: ${proc.log.join(" | ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// nginx in front of ws_log_server, as README.md's "Behind a reverse proxy" configures it
// (plain HTTP here; tests/reverse_proxy.rs does TLS), in the foreground with its own
// configuration, logs and temporary paths, listening on 127.0.0.1 only.
async function behindNginx(context) {
  const [srv, backend] = await startServer(["--trusted-proxy", "127.0.0.1"]);
  const dir = mkdtempSync(join(tmpdir(), "ws-nginx-"));
  const port = await freePort();
  mkdirSync(join(dir, "tmp"));
  writeFileSync(join(dir, "nginx.conf"), `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://127.0.0.1:${backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            # A fixed client address (a documentation address, only ever a header value), so
            # that the server's report differs from nginx's own 127.0.0.1.
            proxy_set_header X-Forwarded-For "192.0.2.7, $remote_addr";
            proxy_set_header Forwarded "";
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
`);
  const nginx = new Proc("nginx", [opt.nginx, "-p", dir, "-e", join(dir, "error.log"),
                                   "-c", join(dir, "nginx.conf")]);
  servers.push(nginx);
  await listening(port, nginx);

  const a = await subscribe(context, srv, `http://127.0.0.1:${port}/?protocol=${PROTOCOL}`, "open");
  const url = await a.p.inputValue("#url");
  assert(url === `ws://127.0.0.1:${port}/`, "the page connects to nginx: " + url);
  const { m } = await srv.waitLine(/^\S+ (\S+) #\d+ \* connected/, "page through nginx", { from: a.from });
  assert(m[1] === "192.0.2.7:0", "the server names the client from X-Forwarded-For: " + m[1]);
  const lines = ["<14>Nov 25 10:03:00 web1 app[1]: through nginx 1",
                 "<14>Nov 25 10:03:01 web1 app[1]: through nginx 2"];
  for (const l of lines) srv.broadcast(l);
  await a.p.waitForFunction((want) => {
    const shown = [...document.querySelectorAll("#log .line.in")].map((n) => n.dataset.text);
    return want.every((t) => shown.includes(t));
  }, lines, { timeout: WAIT_MS });
  ok(`the page loaded through nginx (${url}) subscribes and gets its lines; the server ` +
     `names the client from X-Forwarded-For (${m[1]}) as 127.0.0.1 is a trusted proxy`);
  await a.p.close();
  const r = await srv.stop();
  assert(r.code === 0, `server exited cleanly (${JSON.stringify(r)})`);
  nginx.kill();
  await nginx.wait();
  rmSync(dir, { recursive: true, force: true });
}

// logger -> syslog-ng (unix-dgram source) -> websocket() destination, server mode -> the page.
async function syslogNg(context) {
  const dir = join(opt.out, "syslog-ng");
  mkdirSync(dir, { recursive: true });
  // Unix socket paths hold at most 107 bytes: deep checkouts get a short private directory.
  const sockDir = join(dir, "ctl").length > 100 ? mkdtempSync(join(tmpdir(), "wsb-")) : dir;
  const sock = join(sockDir, "log.sock");
  const version = /Config version: *(\S+)/.exec(execFileSync(opt["syslog-ng"], ["--version"]).toString());
  const sysmod = /Module-Directory: *(\S+)/.exec(execFileSync(opt["syslog-ng"], ["--version"]).toString());
  const conf = join(dir, "syslog-ng.conf");
  writeFileSync(conf, `@version: ${version ? version[1] : "3.35"}
source s_test { unix-dgram("${sock}"); };
destination d_ws {
  websocket(mode(server) address("127.0.0.1") port(0) index-html("${opt.index}") compression(yes)
            template("<\${PRI}>\${DATE} \${HOST} \${MSGHDR}\${MESSAGE}"));
};
log { source(s_test); destination(d_ws); };
`);
  // -v: syslog-ng logs the port its destination bound, and each connection it accepts.
  const sng = new Proc("syslog-ng", [opt["syslog-ng"], "-F", "-e", "-v", "-f", conf,
    `--module-path=${opt["syslog-ng-module-dir"]}${sysmod ? ":" + sysmod[1] : ""}`,
    "-R", join(dir, "persist"), "-p", join(dir, "pid"), "-c", join(sockDir, "ctl")]);
  servers.push(sng);
  const { m } = await sng.waitLine(/websocket: destination started.*port='(\d+)'/, "destination port", { stream: "err" });
  const port = Number(m[1]);
  await sng.waitLine(/syslog-ng starting up/, "syslog-ng started", { stream: "err" });
  ok(`syslog-ng runs the websocket() destination in server mode on port ${port}`);

  page = await context.newPage();
  const from = sng.err.length;
  await page.goto(`http://127.0.0.1:${port}/`, { timeout: WAIT_MS });
  await page.waitForSelector("#state[data-state=open]", { timeout: WAIT_MS });
  await sng.waitLine(/websocket: connection open/, "page connected", { stream: "err", from });
  const sngExt = await page.evaluate(() => window.wsLog.extensions);
  assert(/^permessage-deflate\b/.test(sngExt), "the page's connection to syslog-ng with compression(yes) " +
         "negotiated permessage-deflate: " + JSON.stringify(sngExt));
  ok(`the page is served by syslog-ng's websocket() destination and connects to it (compression(yes): "${sngExt}")`);

  const msgs = [
    ["user.err", "payment worker failed: connection refused"],
    ["user.warning", "disk /var is 81% full"],
    ["user.info", "backup finished in 42 s"],
  ];
  for (const [pri, text] of msgs) {
    execFileSync("logger", ["-u", sock, "-p", pri, "-t", "browser-test", text]);
  }
  await page.waitForFunction((n) => document.querySelectorAll("#log .line.in").length >= n,
                             msgs.length, { timeout: WAIT_MS });
  const shown = await page.$$eval("#log .line.in", (ns) => ns.map((n) => n.dataset.text));
  const sev = { "user.err": 11, "user.warning": 12, "user.info": 14 };
  msgs.forEach(([pri, text], i) => {
    assert(shown[i] && shown[i].startsWith(`<${sev[pri]}>`) && shown[i].endsWith(`browser-test: ${text}`),
           `line ${i + 1} from logger on the page: ${JSON.stringify(shown[i])}`);
  });
  ok(`${msgs.length} lines sent with logger arrive through syslog-ng on the page, in order, with their priority`);
  await page.screenshot({ path: join(opt.out, "samples-page-syslog-ng.png") });
  await page.close();
  page = null;
  sng.proc.kill("SIGTERM");
  const r = await sng.wait();
  assert(r.code === 0, "syslog-ng stops cleanly on SIGTERM: " + JSON.stringify(r));
}

try {
  await main();
} catch (e) {
  report.fail(e.message);
  if (page) {
    try {
      await page.screenshot({ path: join(opt.out, "failure.png") });
      console.log("failure screenshot: " + join(opt.out, "failure.png"));
    } catch (_) { /* the browser may be gone */ }
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const s of servers) s.kill();
  const log = servers.map((s, i) => `--- server run ${i + 1}\n` + s.log.join("\n")).join("\n");
  writeFileSync(join(opt.out, "server.log"), log + "\n");
}
process.exit(report.end());
