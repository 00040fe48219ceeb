// The software bill of materials that make dist puts in the archive as
// sbom.cdx.json: CycloneDX 1.5 JSON, read from package-lock.json. lap itself
// (version, commit, licence) and every package of the lock's production tree
// (version, purl, licence, the lock's integrity as a hash), with the graph of
// who depends on whom. Its timestamp is the commit's time, so the archive
// stays the same bytes for a commit. Not installed.
//
//   node build/internal/release/sbom.js --commit <sha> --epoch <seconds> [--lock package-lock.json]

import { createHash } from "node:crypto";
import fs from "node:fs";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { productionTree } from "./deptree.js";

export const SPEC_VERSION = "1.5";

// The hash algorithms of an npm integrity string, by their CycloneDX names.
const HASH_ALGORITHMS: Record<string, string> = { sha1: "SHA-1", sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };

// A licence that is one SPDX identifier (MIT, Apache-2.0, BSD-3-Clause) and
// not an expression such as "(MIT OR Apache-2.0)".
const SPDX_ID = /^[A-Za-z0-9][A-Za-z0-9.+-]*$/;

interface LockEntry {
  name?: string;
  version?: string;
  license?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export interface Hash {
  alg: string;
  content: string;
}

type License = { license: { id: string } } | { license: { name: string } } | { expression: string };

export interface Component {
  type: "application" | "library";
  "bom-ref": string;
  name: string;
  version: string;
  purl: string;
  licenses?: License[];
  hashes?: Hash[];
  properties?: { name: string; value: string }[];
}

export interface Bom {
  bomFormat: "CycloneDX";
  specVersion: string;
  serialNumber: string;
  version: number;
  metadata: { timestamp: string; component: Component };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

export interface SbomInput {
  lock: unknown;
  // The commit the archive is built from, "-dirty" appended for a tree with changes.
  commit: string;
  // The commit's time, in seconds since the epoch.
  epoch: number;
}

function packages(lock: unknown): Record<string, LockEntry> {
  const p = (lock as { packages?: Record<string, LockEntry> })?.packages;
  if (!p || typeof p !== "object") throw new Error("package-lock.json has no \"packages\" (lockfile version 2 or later is needed)");
  return p;
}

// purl is the package URL of an npm package: a scope's @ is written %40.
export function purl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, "%40")}@${version}`;
}

// hashes turns an npm integrity string ("sha512-<base64> …") into CycloneDX
// hashes, whose content is hexadecimal.
export function hashes(integrity: string | undefined): Hash[] {
  const out: Hash[] = [];
  for (const part of (integrity ?? "").split(/\s+/)) {
    const m = /^([a-z0-9]+)-([A-Za-z0-9+/=]+)$/.exec(part);
    const alg = m && HASH_ALGORITHMS[m[1]];
    if (m && alg) out.push({ alg, content: Buffer.from(m[2], "base64").toString("hex") });
  }
  return out;
}

export function licenses(license: string | undefined): License[] | undefined {
  if (!license) return undefined;
  if (SPDX_ID.test(license)) return [{ license: { id: license } }];
  if (/\s(OR|AND|WITH)\s/.test(license)) return [{ expression: license }];
  return [{ license: { name: license } }];
}

// resolve finds which lock key a package at key `from` gets when it requires
// `name`: Node's lookup, from the nearest node_modules outwards.
function resolve(pkgs: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const key = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (pkgs[key]) return key;
    if (dir === "") return undefined;
    const up = dir.lastIndexOf("/node_modules/");
    dir = up < 0 ? "" : dir.slice(0, up);
  }
}

// sbom builds the bill of materials; the same input gives the same object.
export function sbom(input: SbomInput): Bom {
  const pkgs = packages(input.lock);
  const root = pkgs[""] ?? {};
  const name = root.name ?? (input.lock as { name?: string }).name ?? "lap";
  const version = root.version ?? "0.0.0";
  const self: Component = {
    type: "application",
    "bom-ref": purl(name, version),
    name,
    version,
    purl: purl(name, version),
    ...(licenses(root.license) && { licenses: licenses(root.license) }),
    properties: [{ name: "lap:git:commit", value: input.commit }],
  };

  const refs = new Map<string, string>([["", self["bom-ref"]]]);
  const components: Component[] = [];
  for (const dep of productionTree(input.lock)) {
    const key = `node_modules/${dep.path.join("/node_modules/")}`;
    const entry = pkgs[key];
    const depName = entry.name ?? dep.path[dep.path.length - 1];
    const component: Component = {
      type: "library",
      "bom-ref": purl(depName, dep.version),
      name: depName,
      version: dep.version,
      purl: purl(depName, dep.version),
      ...(licenses(entry.license) && { licenses: licenses(entry.license) }),
      ...(entry.integrity && { hashes: hashes(entry.integrity) }),
    };
    // The same name and version installed twice is one component.
    if (!components.some((c) => c["bom-ref"] === component["bom-ref"])) components.push(component);
    refs.set(key, component["bom-ref"]);
  }

  const dependencies = [...refs].map(([key, ref]) => {
    const wanted = { ...pkgs[key]?.dependencies, ...pkgs[key]?.optionalDependencies };
    const dependsOn = Object.keys(wanted)
      .map((n) => refs.get(resolve(pkgs, key, n) ?? ""))
      .filter((r): r is string => r !== undefined && r !== ref);
    return { ref, dependsOn: [...new Set(dependsOn)].sort() };
  });

  return {
    bomFormat: "CycloneDX",
    specVersion: SPEC_VERSION,
    serialNumber: serialNumber(`${self["bom-ref"]} ${input.commit}`),
    version: 1,
    metadata: { timestamp: new Date(input.epoch * 1000).toISOString().replace(/\.000Z$/, "Z"), component: self },
    components,
    dependencies,
  };
}

// serialNumber is a UUID URN derived from what the BOM describes (a
// name-based, version 5 style UUID), so rebuilding gives the same one.
function serialNumber(seed: string): string {
  const b = createHash("sha1").update(`lap sbom ${seed}`).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function render(bom: Bom): string {
  return `${JSON.stringify(bom, null, 2)}\n`;
}

export function parseSbomArgs(argv: string[]): { lock: string; commit: string; epoch: number } {
  const { values } = parseArgs({ args: argv, options: { lock: { type: "string" }, commit: { type: "string" }, epoch: { type: "string" } } });
  if (!values.commit) throw new Error("--commit is required");
  if (!values.epoch || !/^\d+$/.test(values.epoch)) throw new Error("--epoch needs the commit's time in seconds");
  return { lock: values.lock ?? "package-lock.json", commit: values.commit, epoch: Number(values.epoch) };
}

export function runSbom(argv: string[], out: Writable): void {
  const opts = parseSbomArgs(argv);
  out.write(render(sbom({ lock: JSON.parse(fs.readFileSync(opts.lock, "utf8")), commit: opts.commit, epoch: opts.epoch })));
}

if (require.main === module) {
  try {
    runSbom(process.argv.slice(2), process.stdout);
  } catch (err) {
    process.stderr.write(`sbom: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
