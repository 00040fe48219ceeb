// The runtime dependency tree, read from package-lock.json and written as the
// Markdown table of the README's "For auditors" section. `make deptree`
// prints it, `make deptree UPDATE=1` rewrites that README block, and
// deptree_test.ts fails `make test` when the README and the lock disagree.
// Not installed.

import fs from "node:fs";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";

// The generated block sits between these lines of README.md.
export const BEGIN = "<!-- deptree:begin -->";
export const END = "<!-- deptree:end -->";

// Enough of the integrity hash to compare by eye with the lock or a registry.
const INTEGRITY_CHARS = 16;

export interface Dep {
  // The chain from lap down to the package: ["ws"], or ["a", "b"] for b nested under a.
  path: string[];
  version: string;
  license: string;
  integrity: string;
}

interface LockEntry {
  version?: string;
  license?: string;
  integrity?: string;
  dev?: boolean;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function entries(lock: unknown): [string, LockEntry][] {
  const packages = (lock as { packages?: Record<string, LockEntry> })?.packages;
  if (!packages || typeof packages !== "object") throw new Error("package-lock.json has no \"packages\" (lockfile version 2 or later is needed)");
  // "" is lap itself; everything else is installed under node_modules.
  return Object.entries(packages).filter(([key, e]) => key !== "" && e.dev !== true).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// productionTree lists the packages installed at run time (those the lock
// does not mark dev), in lock-key order.
export function productionTree(lock: unknown): Dep[] {
  return entries(lock).map(([key, e]) => ({
    path: key.replace(/^node_modules\//, "").split("/node_modules/"),
    version: e.version ?? "?",
    license: e.license ?? "(none in the lock)",
    integrity: e.integrity ?? "(none in the lock)",
  }));
}

// optionalPeers names the optional peer dependencies of the runtime packages
// that are not installed: they are neither shipped nor loaded.
export function optionalPeers(lock: unknown): string[] {
  const tree = entries(lock);
  const installed = new Set(tree.map(([key]) => key.split("node_modules/").pop()));
  const peers = new Set<string>();
  for (const [, e] of tree) {
    for (const [name, meta] of Object.entries(e.peerDependenciesMeta ?? {})) if (meta.optional && !installed.has(name)) peers.add(name);
  }
  return [...peers].sort();
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function shortIntegrity(integrity: string): string {
  const m = /^([a-z0-9]+-)(.*)$/.exec(integrity);
  return m && m[2].length > INTEGRITY_CHARS ? `${m[1]}${m[2].slice(0, INTEGRITY_CHARS)}…` : integrity;
}

// render is the README block's content (without the markers), ending in a newline.
export function render(lock: unknown): string {
  const rows = productionTree(lock).map(
    (d) => `| \`${cell(d.path.join(" › "))}\` | ${cell(d.version)} | ${cell(d.license)} | \`${cell(shortIntegrity(d.integrity))}\` |`,
  );
  const peers = optionalPeers(lock);
  return [
    `Generated from \`package-lock.json\` by \`make deptree\`: ${rows.length} package${rows.length === 1 ? "" : "s"} at run time.`,
    "",
    "| package | version | license | integrity (from the lock, shortened) |",
    "|---|---|---|---|",
    ...rows,
    ...(peers.length ? ["", `Optional peer dependencies, not installed and not shipped: ${peers.map((p) => `\`${p}\``).join(", ")}.`] : []),
    "",
  ].join("\n");
}

function markers(readme: string): [number, number] {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`the README has no ${BEGIN} … ${END} block`);
  return [begin + BEGIN.length, end];
}

// readBlock returns what stands between the markers, without the newline after BEGIN.
export function readBlock(readme: string): string {
  const [from, to] = markers(readme);
  return readme.slice(from, to).replace(/^\n/, "");
}

// replaceBlock puts block between the markers, leaving the rest of readme as it was.
export function replaceBlock(readme: string, block: string): string {
  const [from, to] = markers(readme);
  return `${readme.slice(0, from)}\n${block}${readme.slice(to)}`;
}

export interface DeptreeOptions {
  lock: string;
  // A README whose block is rewritten, instead of printing the block.
  update?: string;
}

export function parseDeptreeArgs(argv: string[]): DeptreeOptions {
  const { values } = parseArgs({ args: argv, options: { lock: { type: "string" }, update: { type: "string" } } });
  return { lock: values.lock ?? "package-lock.json", ...(values.update !== undefined && { update: values.update }) };
}

// runDeptree prints the block to out, or rewrites it in opts.update (saying so on out).
export function runDeptree(opts: DeptreeOptions, out: Writable): void {
  const block = render(JSON.parse(fs.readFileSync(opts.lock, "utf8")));
  if (opts.update === undefined) {
    out.write(block);
    return;
  }
  const before = fs.readFileSync(opts.update, "utf8");
  const after = replaceBlock(before, block);
  if (after !== before) fs.writeFileSync(opts.update, after);
  out.write(after === before ? `${opts.update}: up to date\n` : `${opts.update}: dependency tree rewritten\n`);
}

if (require.main === module) {
  try {
    runDeptree(parseDeptreeArgs(process.argv.slice(2)), process.stdout);
  } catch (err) {
    process.stderr.write(`deptree: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
