// `make demo`: runs the real lap against a local platform whose "demo" agent is
// a real shell on a real PTY, using a throw-away config (never ~/.lap).

import { spawn, type StdioOptions } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { startPlatform } from "./platform.js";
import { LAP } from "../testutil/repo.js";

// Long enough to watch lap show the bring-up phases, short enough not to bore.
const DEMO_BRING_UP_MS = 1000;

export interface DemoOptions {
  /** The compiled CLI, e.g. <repo>/build/lap.js. */
  lapPath: string;
  /** Extra arguments after `lap demo`. */
  args?: string[];
  stdio: StdioOptions;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  bringUpMs?: number;
  /** Receives the lap child so the caller can forward signals to it. */
  onSpawn?: (kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs lap once against a fresh local platform; resolves to lap's exit code. Always cleans up. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const platform = await startPlatform({
    bringUpMs: opts.bringUpMs ?? DEMO_BRING_UP_MS,
    env: { PS1: "demo$ " },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lap-demo-"));
  try {
    fs.chmodSync(dir, 0o700);
    const config = path.join(dir, "config.json");
    fs.writeFileSync(config, JSON.stringify({ base: platform.url, key: platform.key }) + "\n", { mode: 0o600, flag: "wx" });
    platform.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
    const port = new URL(platform.url).port;
    opts.stderr.write(
      `lap demo: local platform on 127.0.0.1:${port}, a real shell on a real PTY — Ctrl-D detaches and ends the demo\n`,
    );
    const code = await runLap(opts, config);
    // lap's hint to reconnect does not hold here: the demo's platform goes now.
    opts.stderr.write("lap demo: over — the local platform and its session are stopped\n");
    return code;
  } finally {
    await platform.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runLap(opts: DemoOptions, config: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.lapPath, "demo", ...(opts.args ?? [])], {
      stdio: opts.stdio,
      env: { ...opts.env, LAP_CONFIG: config },
    });
    opts.onSpawn?.((signal) => child.kill(signal));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    });
  });
}

/** <repo>/build/lap.js, from internal/demo.ts (tsx) or build/internal/demo.js. */
function findLap(): string {
  return LAP;
}

async function main(): Promise<void> {
  let killLap: ((signal: NodeJS.Signals) => void) | null = null;
  // Ctrl-C at the terminal reaches lap itself (same process group): stay alive to clean up.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => killLap?.(signal));
  }
  const code = await runDemo({
    lapPath: findLap(),
    args: process.argv.slice(2),
    stdio: "inherit",
    stderr: process.stderr,
    env: process.env,
    onSpawn: (kill) => {
      killLap = kill;
    },
  });
  process.exit(code);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`✗ lap demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
