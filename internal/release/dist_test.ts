// The release archive (make dist): built twice it is the same bytes; every
// entry is what make install installs, with fixed owner, time and modes;
// SHA256SUMS covers it; and unpacked, it installs with no network and no npm,
// after which the installed lap attaches to the local platform.
//
// The build/ that make test has just compiled is packed as it is
// (make -o build dist): recompiling here would rewrite build/ under the other
// test files that run the compiled lap at the same time.

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import zlib from "node:zlib";
import { startPlatform } from "../platform/platform.js";
import { REPO } from "../testutil/repo.js";
import { type Bom, render as renderSbom, sbom } from "./sbom.js";
import { tarballs } from "./vendor.js";

const ROOT = REPO;
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NAME = `lap-${VERSION}`;
// Generous for a loaded 2-core machine; each step takes well under a second here.
const STEP_MS = 30_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-dist-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, encoding: "utf8", timeout: STEP_MS });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status ?? r.signal ?? r.error}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The environment of a user who unpacked the archive: without what an outer
// `make test NODE=...` hands its sub-makes (NODE itself, and in MAKEFLAGS),
// which would override the archive's own make's choices (the old Node put
// first on the PATH below).
const { NODE, MAKEFLAGS, MFLAGS, MAKELEVEL, MAKEOVERRIDES, ...USER_ENV } = process.env;

const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
const dirty = () => git("status", "--porcelain") !== "";
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

// The modules make install ships, as the Makefile works them out.
function runtimeModules(): string[] {
  return run("make", ["-s", "print-runtime"]).trim().split(/\s+/);
}

function filesUnder(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]);
}

// dist runs make dist into outDir under the given umask and returns the archive's bytes.
function dist(outDir: string, umask: string): Buffer {
  if (!fs.existsSync(path.join(ROOT, "build", "lap.js"))) run("make", ["-s", "build"]);
  run("sh", ["-c", `umask ${umask} && exec make -s -o build dist DIST="$1"`, "sh", outDir]);
  return fs.readFileSync(path.join(outDir, `${NAME}.tar.gz`));
}

interface Entry {
  name: string;
  type: "file" | "dir" | "other";
  mode: number;
  uid: number;
  gid: number;
  owner: string;
  mtime: number;
  data: Buffer;
}

// untar reads a tar stream's headers and contents (ustar and GNU long names),
// so the test checks the archive itself rather than what a tar prints.
function untar(tar: Buffer): Entry[] {
  const entries: Entry[] = [];
  let longName: string | null = null;
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (from: number, to: number) => h.subarray(from, to).toString("utf8").replace(/\0[\s\S]*$/, "");
    const num = (from: number, to: number) => parseInt(str(from, to).trim() || "0", 8);
    const size = num(124, 136);
    const flag = str(156, 157) || "0";
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === "L") {
      longName = data.toString("utf8").replace(/\0[\s\S]*$/, "");
      continue;
    }
    entries.push({
      name: longName ?? str(0, 100),
      type: flag === "0" ? "file" : flag === "5" ? "dir" : "other",
      mode: num(100, 108),
      uid: num(108, 116),
      gid: num(116, 124),
      owner: str(265, 297) + str(297, 329),
      mtime: num(136, 148),
      data: Buffer.from(data),
    });
    longName = null;
  }
  return entries;
}

// GNU tar's --sort=name order: directory by directory, names compared bytewise.
function byPathComponents(a: string, b: string): number {
  const x = a.replace(/\/$/, "").split("/");
  const y = b.replace(/\/$/, "").split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return Buffer.compare(Buffer.from(x[i]), Buffer.from(y[i]));
  }
  return x.length - y.length;
}

// Built by the first test, read by the others (node:test runs them in order).
let archive: Buffer;
let entries: Entry[];
let dirtyAtBuild: boolean | null = null;
const content = (name: string) => entries.find((e) => e.type === "file" && e.name === `${NAME}/${name}`)!.data;
const lock = () => JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as unknown;

test("make dist builds the same bytes twice, whatever the umask and the clock", { timeout: 3 * STEP_MS }, async () => {
  const dirtyBefore = dirty();
  const first = dist(path.join(tmp, "a"), "022");
  // Cross a second boundary, so a timestamp taken from the clock would differ.
  const second0 = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second0) await new Promise((r) => setTimeout(r, 50));
  const second = dist(path.join(tmp, "b"), "077");
  if (dirtyBefore === dirty()) dirtyAtBuild = dirtyBefore;
  assert.equal(sha256(second), sha256(first));
  archive = first;
  // gzip -n: no file name stored (FNAME flag clear) and a zero timestamp.
  assert.equal(archive[3] & 0x08, 0, "gzip header carries no name");
  assert.equal(archive.readUInt32LE(4), 0, "gzip header carries no time");
  entries = untar(zlib.gunzipSync(archive));
});

test("the archive holds what make install installs, the registry tarball of ws, the SBOM, the offline Makefile, README, LICENSE and SHA256SUMS", () => {
  const expected = [
    "LICENSE", "Makefile", "README.md", "SHA256SUMS", "sbom.cdx.json",
    "lib/lap.js", "lib/version.json", "lib/package.json",
    ...runtimeModules().map((m) => `lib/internal/${m}.js`),
    "vendor/MANIFEST", ...tarballs(lock()).map((t) => `vendor/${t.file}`),
  ].map((f) => `${NAME}/${f}`);
  const files = entries.filter((e) => e.type === "file");
  assert.deepEqual(files.map((e) => e.name).sort(), expected.sort());
  assert.deepEqual(entries.filter((e) => e.type === "other"), [], "only files and directories");

  for (const m of runtimeModules()) assert.ok(content(`lib/internal/${m}.js`).equals(fs.readFileSync(path.join(ROOT, "build", "internal", `${m}.js`))), m);
  assert.ok(content("lib/lap.js").equals(fs.readFileSync(path.join(ROOT, "build", "lap.js"))));
  assert.ok(content("README.md").equals(fs.readFileSync(path.join(ROOT, "README.md"))));
  assert.ok(content("LICENSE").equals(fs.readFileSync(path.join(ROOT, "LICENSE"))));
  assert.match(content("LICENSE").toString(), /^MIT License\n\nCopyright \(c\) 2026 the lap authors\n/);
  assert.ok(content("Makefile").equals(fs.readFileSync(path.join(ROOT, "internal", "release", "dist.mk"))));
});

test("each vendored tarball is the one package-lock.json names: its SHA-512 is the lock's integrity", () => {
  const list = tarballs(lock());
  assert.deepEqual(list.map((t) => t.name), ["ws"]);
  for (const t of list) {
    // What the README tells an auditor to run: openssl dgst -sha512 -binary vendor/<file> | base64
    assert.equal(`sha512-${createHash("sha512").update(content(`vendor/${t.file}`)).digest("base64")}`, t.integrity, t.file);
  }
  assert.equal(content("vendor/MANIFEST").toString(), list.map((t) => `${t.file} ${t.dir}\n`).join(""));
});

test("sbom.cdx.json is the bill of materials of this commit, dated at the commit", () => {
  const bom = JSON.parse(content("sbom.cdx.json").toString()) as Bom;
  const commit = bom.metadata.component.properties![0].value;
  assert.match(commit, new RegExp(`^${git("rev-parse", "HEAD")}(-dirty)?$`));
  const version = JSON.parse(content("lib/version.json").toString()) as { commit: string };
  assert.equal(commit.endsWith("-dirty"), version.commit.endsWith("-dirty"), "the SBOM and lap --version agree on a dirty tree");
  const epoch = Number(process.env.SOURCE_DATE_EPOCH || git("log", "-1", "--format=%ct"));
  assert.equal(content("sbom.cdx.json").toString(), renderSbom(sbom({ lock: lock(), commit, epoch })));
  assert.deepEqual(bom.components.map((c) => c.purl), tarballs(lock()).map((t) => `pkg:npm/${t.name}@${t.version}`));
});

test("npm pack, make install, make print-runtime, the archive and the coverage gate ship the same modules: internal/*.ts but the tests", () => {
  const rule = fs.readdirSync(path.join(ROOT, "internal"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith("_test.ts"))
    .map((f) => f.slice(0, -3)).sort();
  assert.deepEqual(runtimeModules(), rule, "make print-runtime");
  const archived = entries.filter((e) => e.type === "file" && e.name.startsWith(`${NAME}/lib/internal/`)).map((e) => path.posix.basename(e.name, ".js")).sort();
  assert.deepEqual(archived, rule, "the archive's lib/internal");
  const checkoutInstall = path.join(tmp, "checkout-install");
  run("make", ["-s", "-o", "build", "install", `DESTDIR=${checkoutInstall}`, "PREFIX=/usr"]);
  const installedFromCheckout = fs.readdirSync(path.join(checkoutInstall, "usr", "lib", "lap", "internal")).map((f) => path.basename(f, ".js")).sort();
  assert.deepEqual(installedFromCheckout, rule, "make install from the checkout");

  const packed = JSON.parse(run("npm", ["pack", "--dry-run", "--json", "--offline", "--ignore-scripts"])) as { files: { path: string }[] }[];
  assert.deepEqual(packed[0].files.map((f) => f.path).sort(), [
    "LICENSE", "README.md", "package.json", "build/lap.js", "build/version.json",
    ...rule.map((m) => `build/internal/${m}.js`),
  ].sort(), "npm pack (package.json files)");

  // make -n prints the coverage command without running it.
  const gate = run("make", ["-n", "-o", "build", "test"]);
  assert.match(gate, /--include 'internal\/\*\.ts' --exclude 'internal\/\*_test\.ts'/, "c8 counts internal/*.ts but the tests");
});

test("every module the shipped JavaScript imports is in the archive, so no RUNTIME entry is forgotten", () => {
  const shipped = new Set(entries.map((e) => e.name));
  const own = entries.filter((e) => e.type === "file" && e.name.endsWith(".js") && !e.name.includes("/node_modules/"));
  for (const e of own) {
    for (const m of e.data.toString("utf8").matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = path.posix.join(path.posix.dirname(e.name), m[1]);
      assert.ok(shipped.has(target), `${e.name} imports ${m[1]}, which is not shipped: shipped code imports only internal/*.ts`);
    }
  }
  assert.ok(own.length > 1);
});

test("every entry has owner 0/0, the commit's time, a fixed mode, and name order", () => {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH || git("log", "-1", "--format=%ct"));
  for (const e of entries) {
    assert.deepEqual([e.uid, e.gid, e.owner], [0, 0, ""], e.name);
    assert.equal(e.mtime, epoch, e.name);
    const mode = e.type === "dir" || e.name === `${NAME}/lib/lap.js` ? 0o755 : 0o644;
    assert.equal(e.mode.toString(8), mode.toString(8), e.name);
  }
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(byPathComponents));
  assert.equal(names[0], `${NAME}/`);
});

test("SHA256SUMS lists every other file of the archive with its hash", () => {
  const files = entries.filter((e) => e.type === "file" && e.name !== `${NAME}/SHA256SUMS`);
  const sums = entries.find((e) => e.name === `${NAME}/SHA256SUMS`)!.data.toString("utf8");
  const expected = files.map((e) => `${sha256(e.data)}  ${e.name.slice(NAME.length + 1)}`).sort();
  assert.deepEqual(sums.trimEnd().split("\n").sort(), expected);
});

// How the install is cut off from the network: a network namespace of its
// own (only a loopback, and that down) where this machine allows one.
function isolation(): string[] | null {
  for (const prefix of [["unshare", "-n"], ["unshare", "-rn"]]) {
    if (spawnSync(prefix[0], [...prefix.slice(1), "true"]).status === 0) return prefix;
  }
  return null;
}

let prefix: string;

test("the unpacked archive installs with no network and no npm, and lap --version names the commit", { timeout: 3 * STEP_MS }, async (t) => {
  const unpacked = path.join(tmp, "unpacked");
  fs.mkdirSync(unpacked);
  fs.writeFileSync(path.join(tmp, "x.tar.gz"), archive);
  run("tar", ["-xzf", path.join(tmp, "x.tar.gz"), "-C", unpacked]);
  const dir = path.join(unpacked, NAME);
  run("make", ["-s", "check"], { cwd: dir, env: USER_ENV });

  // On an older Node (or none), make install says so in lap's words and installs nothing.
  const oldBin = path.join(tmp, "oldnode");
  fs.mkdirSync(oldBin);
  fs.writeFileSync(path.join(oldBin, "node"), "#!/bin/sh\necho 16.20.2\n", { mode: 0o755 });
  const oldPrefix = path.join(tmp, "old-prefix");
  for (const [env, args, line] of [
    [{ ...USER_ENV, PATH: `${oldBin}:${USER_ENV.PATH}` }, [], "lap needs Node 18 or newer; this is Node 16.20.2"],
    [USER_ENV, ["NODE=/nonexistent/node"], "lap needs Node 18 or newer; this is Node none (no /nonexistent/node on the PATH)"],
  ] as const) {
    const r = spawnSync("make", ["-s", "install", `PREFIX=${oldPrefix}`, ...args], { cwd: dir, env, encoding: "utf8", timeout: STEP_MS });
    assert.equal(r.stderr.split("\n")[0], line);
    assert.notEqual(r.status, 0);
    assert.equal(fs.existsSync(oldPrefix), false, "nothing installed");
  }

  // An npm (and npx) that fails and leaves a mark, first on the PATH, also
  // where unshare is allowed: the install must not even try.
  const fakeBin = path.join(tmp, "fakebin");
  const npmCalled = path.join(tmp, "npm-was-called");
  fs.mkdirSync(fakeBin);
  for (const tool of ["npm", "npx"]) {
    fs.writeFileSync(path.join(fakeBin, tool), `#!/bin/sh\necho "${tool} must not run: $*" >&2\ntouch '${npmCalled}'\nexit 1\n`, { mode: 0o755 });
  }
  const env = { ...USER_ENV, PATH: `${fakeBin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, npm_config_offline: "true" };

  const iso = isolation();
  if (iso) {
    // Proof that the namespace is cut off: a port listening here cannot be reached from inside.
    const server = net.createServer((s) => s.destroy()).listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as net.AddressInfo).port;
    const probe = `require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(3)).on("error", () => process.exit(0))`;
    assert.equal(spawnSync(process.execPath, ["-e", probe]).status, 3, "outside the namespace the port answers");
    assert.equal(spawnSync(iso[0], [...iso.slice(1), process.execPath, "-e", probe]).status, 0, "inside it, it does not");
    server.close();
    t.diagnostic(`installing inside a network namespace: ${iso.join(" ")}`);
  } else {
    t.diagnostic("unshare is not permitted here: installing with a failing npm on the PATH and npm_config_offline=true only");
  }
  const offline = (args: string[]) => (iso ? run(iso[0], [...iso.slice(1), ...args], { cwd: dir, env }) : run(args[0], args.slice(1), { cwd: dir, env }));

  prefix = path.join(tmp, "prefix");
  offline(["make", "-s", "install", `PREFIX=${prefix}`]);
  const destdir = path.join(tmp, "destdir");
  offline(["make", "-s", "install", `DESTDIR=${destdir}`, "PREFIX=/opt/lap"]);
  assert.ok(fs.existsSync(path.join(destdir, "opt", "lap", "lib", "lap", "node_modules", "ws", "package.json")));
  offline(["make", "-s", "uninstall", `DESTDIR=${destdir}`, "PREFIX=/opt/lap"]);
  assert.deepEqual(filesUnder(destdir), []);
  assert.equal(fs.existsSync(npmCalled), false, "npm was called");

  // Installed: lib/ as it is, and ws unpacked from the registry tarball,
  // byte for byte what npm ci installed from the same lock.
  const installed = path.join(prefix, "lib", "lap");
  const ws = path.join(ROOT, "node_modules", "ws");
  assert.deepEqual(filesUnder(installed).sort(), [...filesUnder(path.join(dir, "lib")), ...filesUnder(ws).map((f) => `node_modules/ws/${f}`)].sort());
  for (const f of filesUnder(ws)) assert.ok(fs.readFileSync(path.join(installed, "node_modules", "ws", f)).equals(fs.readFileSync(path.join(ws, f))), f);
  assert.match(fs.readFileSync(path.join(installed, "node_modules", "ws", "LICENSE"), "utf8"), /Permission is hereby granted/);
  assert.equal(fs.statSync(path.join(installed, "lap.js")).mode & 0o777, 0o755);

  // The installed lap runs from anywhere: here, from a directory with no node_modules near it.
  const out = run(path.join(prefix, "bin", "lap"), ["--version"], { cwd: tmp, env });
  const commit = git("rev-parse", "--short", "HEAD");
  assert.match(out, new RegExp(`^lap ${VERSION.replace(/\./g, "\\.")} \\(${commit}(-dirty)?\\)\\n$`));
  if (dirtyAtBuild !== null) assert.equal(out.includes("-dirty"), dirtyAtBuild, `built from a ${dirtyAtBuild ? "dirty" : "clean"} tree: ${out}`);
});

// ws's optional native add-ons, planted where require would find them from
// the installed ws: in npm's global folder beside lib/lap, and in
// ~/.node_modules. Each notes in loaded/ that it was loaded.
function plantAddons(dirs: string[], loaded: string): void {
  for (const dir of dirs) {
    for (const name of ["bufferutil", "utf-8-validate"]) {
      const pkg = path.join(dir, name);
      fs.mkdirSync(pkg, { recursive: true });
      fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name, version: "9.9.9", main: "index.js" }));
      fs.writeFileSync(path.join(pkg, "index.js"),
        `require("fs").writeFileSync(${JSON.stringify(path.join(loaded, name))}, __filename); throw new Error("planted");\n`);
    }
  }
}

// Only the install has to work offline; lap itself needs the network to do its
// job, so this runs outside the namespace, against a platform on 127.0.0.1.
test("the lap installed from the archive attaches to a session on the local platform, running only the code it ships", { timeout: 2 * STEP_MS }, async () => {
  assert.ok(prefix, "installed by the previous test");
  const platform = await startPlatform({ bringUpMs: 0 });
  try {
    platform.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
    const home = path.join(tmp, "home");
    fs.mkdirSync(path.join(home, ".lap"), { recursive: true, mode: 0o700 });
    const loaded = path.join(tmp, "addons-loaded");
    fs.mkdirSync(loaded);
    plantAddons([path.join(prefix, "lib", "node_modules"), path.join(home, ".node_modules")], loaded);
    fs.writeFileSync(path.join(home, ".lap", "config.json"), JSON.stringify({ base: platform.url, key: platform.key }), { mode: 0o600 });

    const child = spawn(path.join(prefix, "bin", "lap"), ["demo"], {
      cwd: tmp,
      env: { HOME: home, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const exited = once(child, "close");
    const waitFor = async (re: RegExp) => {
      const deadline = Date.now() + STEP_MS / 2;
      while (!re.test(stdout)) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${re}:\n${stdout}\n--- stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor(/\$ /);
    child.stdin.write('echo "R=$((6*7))"\r');
    await waitFor(/R=42/);
    // Ctrl-D alone detaches; piped stdin that ends would send end-of-file instead.
    child.stdin.write("\x04");
    child.stdin.end();
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /· detached — session/);
    assert.deepEqual(fs.readdirSync(loaded), [], "ws loaded an add-on from outside lap's install");
  } finally {
    await platform.close();
  }
});
