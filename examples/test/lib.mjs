// Shared by the example tests: a child process whose output lines can be awaited.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

export const WAIT_MS = 15000;

export class Proc {
  // name: label in logs; argv: [program, ...args]
  constructor(name, argv, { stdin = "pipe" } = {}) {
    this.name = name;
    this.out = [];             // stdout lines
    this.err = [];             // stderr lines
    this.log = [];             // both, in arrival order, for the test's log file
    this.waiters = new Set();
    this.proc = spawn(argv[0], argv.slice(1), { stdio: [stdin, "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        // Output may still be buffered in the pipes: settle once both streams ended.
        Promise.all([this.outDone, this.errDone]).then(() => resolve({ code, signal }));
      });
      this.proc.on("error", (e) => resolve({ code: -1, signal: null, error: e }));
    });
    this.outDone = this.collect(this.proc.stdout, this.out, "");
    this.errDone = this.collect(this.proc.stderr, this.err, "stderr: ");
  }

  collect(stream, lines, prefix) {
    return new Promise((resolve) => {
      const rl = createInterface({ input: stream });
      rl.on("line", (line) => {
        lines.push(line);
        this.log.push(prefix + line);
        for (const w of [...this.waiters]) w.check();
      });
      rl.on("close", resolve);
    });
  }

  // Resolves with { m, index } for the first line of `stream` ("out" or "err") at or after
  // index `from` that matches `re`; rejects after `ms`.
  waitLine(re, what, { from = 0, stream = "out", ms = WAIT_MS } = {}) {
    const lines = stream === "out" ? this.out : this.err;
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          for (let i = from; i < lines.length; i++) {
            const m = re.exec(lines[i]);
            if (m) {
              clearTimeout(w.timer);
              this.waiters.delete(w);
              resolve({ m, index: i });
              return;
            }
          }
        },
      };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.name}: no ${stream} line matching ${re} (${what}) within ${ms} ms`));
      }, ms);
      this.waiters.add(w);
      w.check();
    });
  }

  write(line) {
    this.proc.stdin.write(line + "\n");
  }

  // Waits for the exit, killing the process if it takes longer than `ms`.
  async wait(ms = WAIT_MS) {
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), ms);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  // Closes stdin and waits for the exit.
  async stop(ms = WAIT_MS) {
    this.proc.stdin.end();
    return this.wait(ms);
  }

  running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill() {
    if (this.running()) this.proc.kill("SIGKILL");
  }
}

// A tiny TAP-like reporter that ends with the "N passed, N failed" line CI understands.
export class Report {
  constructor(name) {
    this.name = name;
    this.passed = 0;
    this.failed = 0;
  }

  ok(what) {
    this.passed++;
    console.log(`ok ${this.passed + this.failed} - ${what}`);
  }

  fail(what) {
    this.failed++;
    console.log(`not ok ${this.passed + this.failed} - ${what}`);
  }

  end() {
    console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

export function assert(cond, what) {
  if (!cond) throw new Error("assertion failed: " + what);
}
