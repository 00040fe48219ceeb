// The registry tarballs of the run-time packages, for the archive's vendor/:
// make dist ships each package of the lock's production tree as the .tgz the
// npm registry published, checked against the lock's integrity, and the
// archive's Makefile unpacks them with tar. A tarball that does not match
// fails the build. Tarballs are kept in a cache directory, so only the first
// make dist needs the registry (or npm's own cache). Not installed.
//
//   node build/internal/release/vendor.js --out DIR [--cache DIR] [--lock package-lock.json]
//
// DIR/MANIFEST lists, in install order, each tarball and where it unpacks:
//   ws-8.23.0.tgz node_modules/ws

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { productionTree } from "./deptree.js";

export const MANIFEST = "MANIFEST";
export const DEFAULT_CACHE = path.join("node_modules", ".cache", "lap-dist");
// npm pack may have to reach the registry the first time.
const FETCH_MS = 120_000;

export interface Tarball {
  name: string;
  version: string;
  integrity: string;
  // The file name npm pack gives it: ws-8.23.0.tgz, scope-pkg-1.0.0.tgz for @scope/pkg.
  file: string;
  // Where it unpacks, relative to the install directory: node_modules/ws.
  dir: string;
}

// fetchTarball puts name@version's registry tarball in dir; by default npm pack.
export type Fetch = (spec: string, dir: string) => void;

export function tarballs(lock: unknown): Tarball[] {
  return productionTree(lock).map((d) => {
    const name = d.path[d.path.length - 1];
    return {
      name,
      version: d.version,
      integrity: d.integrity,
      file: `${name.replace(/^@/, "").replace(/\//g, "-")}-${d.version}.tgz`,
      dir: `node_modules/${d.path.join("/node_modules/")}`,
    };
  });
}

// checkIntegrity throws unless data matches every hash of the npm integrity
// string that Node can compute (and there is at least one).
export function checkIntegrity(data: Buffer, integrity: string, what: string): void {
  let checked = 0;
  for (const part of integrity.split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-(.+)$/.exec(part);
    if (!m) continue;
    const got = createHash(m[1]).update(data).digest("base64");
    if (got !== m[2]) throw new Error(`${what} does not match package-lock.json: its ${m[1]} is ${m[1]}-${got}, the lock says ${part}`);
    checked++;
  }
  if (checked === 0) throw new Error(`${what}: package-lock.json has no integrity hash to check it against (${integrity})`);
}

function npmPack(spec: string, dir: string): void {
  const r = spawnSync("npm", ["pack", spec, "--prefer-offline", "--loglevel=error", "--pack-destination", path.resolve(dir)], {
    cwd: path.resolve(dir),
    encoding: "utf8",
    timeout: FETCH_MS,
  });
  if (r.status !== 0) throw new Error(`npm pack ${spec} failed (${r.status ?? r.signal ?? r.error}): ${r.stderr.trim()}`);
}

// cached returns the verified tarball's bytes, fetching it into the cache first if need be.
export function cached(t: Tarball, cache: string, fetch: Fetch = npmPack): Buffer {
  const file = path.join(cache, t.file);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cache, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(cache, ".fetch-"));
    try {
      fetch(`${t.name}@${t.version}`, tmp);
      const got = path.join(tmp, t.file);
      if (!fs.existsSync(got)) throw new Error(`fetching ${t.name}@${t.version} gave no ${t.file}`);
      // Checked before it enters the cache, so the cache holds only good tarballs.
      checkIntegrity(fs.readFileSync(got), t.integrity, `the registry's ${t.file}`);
      fs.renameSync(got, file);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const data = fs.readFileSync(file);
  checkIntegrity(data, t.integrity, `${file} (remove it to fetch it again)`);
  return data;
}

export interface VendorOptions {
  lock: unknown;
  cache: string;
  out: string;
  fetch?: Fetch;
}

// vendor writes every run-time tarball and the MANIFEST into opts.out.
export function vendor(opts: VendorOptions): Tarball[] {
  const list = tarballs(opts.lock);
  fs.mkdirSync(opts.out, { recursive: true });
  for (const t of list) fs.writeFileSync(path.join(opts.out, t.file), cached(t, opts.cache, opts.fetch));
  // Lock-key order puts a package before the ones nested in it.
  fs.writeFileSync(path.join(opts.out, MANIFEST), list.map((t) => `${t.file} ${t.dir}\n`).join(""));
  return list;
}

export function runVendor(argv: string[], out: Writable): void {
  const { values } = parseArgs({ args: argv, options: { lock: { type: "string" }, cache: { type: "string" }, out: { type: "string" } } });
  if (!values.out) throw new Error("--out is required");
  const lock = JSON.parse(fs.readFileSync(values.lock ?? "package-lock.json", "utf8")) as unknown;
  for (const t of vendor({ lock, cache: values.cache ?? DEFAULT_CACHE, out: values.out })) {
    out.write(`vendor: ${t.file} matches ${t.integrity.slice(0, 23)}…\n`);
  }
}

if (require.main === module) {
  try {
    runVendor(process.argv.slice(2), process.stderr);
  } catch (err) {
    process.stderr.write(`vendor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
