import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import nodeModule from "node:module";
import { cacheDir, ownDir } from "./compilecache.js";
import { homes, lap } from "./testutil/testcli.js";

const { home } = homes("lap-compilecache-test-");
const uid = process.getuid!();
// Whether the Node running the tests has a compile cache (22.1 and newer).
const nodeHasCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === "function";

test("the cache goes to $XDG_CACHE_HOME/lap or ~/.cache/lap; never to a relative path", () => {
  assert.equal(cacheDir({ HOME: "/home/u" }), "/home/u/.cache/lap");
  assert.equal(cacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "/var/cache/u" }), "/var/cache/u/lap");
  assert.equal(cacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "cache" }), "/home/u/.cache/lap");
  assert.equal(cacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "" }), "/home/u/.cache/lap");
  assert.equal(cacheDir({}), undefined);
  assert.equal(cacheDir({ HOME: "home" }), undefined);
});

test("a missing cache directory is made 0700; one that is not plainly the user's own is refused", () => {
  const h = home();
  const dir = path.join(h, ".cache", "lap");
  assert.equal(ownDir(dir, uid), true);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(ownDir(dir, uid), true, "an existing own directory is used");
  assert.equal(ownDir(dir, uid + 1), false, "someone else's");

  fs.chmodSync(dir, 0o770);
  assert.equal(ownDir(dir, uid), false, "writable by its group");
  fs.chmodSync(dir, 0o702);
  assert.equal(ownDir(dir, uid), false, "writable by others");

  const link = path.join(h, "link");
  fs.symlinkSync(path.join(h, "elsewhere"), link);
  fs.mkdirSync(path.join(h, "elsewhere"), { mode: 0o700 });
  assert.equal(ownDir(link, uid), false, "a symbolic link, even to an own directory");

  const file = path.join(h, "file");
  fs.writeFileSync(file, "");
  assert.equal(ownDir(file, uid), false, "a file");
  assert.equal(ownDir(path.join(file, "lap"), uid), false, "under a file");
});

// The process is the subject: the compiled CLI, started as users start it.
test("lap keeps compiled code in ~/.cache/lap where Node has a compile cache, and writes nothing elsewhere", async () => {
  const h = home();
  const r = await lap(["--version"], { HOME: h });
  assert.equal(r.code, 0, r.stderr);
  const dir = path.join(h, ".cache", "lap");
  if (nodeHasCache) {
    assert.ok(fs.readdirSync(dir).length > 0, "the cache was written");
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  } else {
    assert.equal(fs.existsSync(path.join(h, ".cache")), false, "no directory made for a cache Node does not have");
  }

  // Aimed elsewhere by a link: not used, nothing written through it.
  const aimed = home();
  const target = path.join(aimed, "target");
  fs.mkdirSync(target, { mode: 0o700 });
  fs.mkdirSync(path.join(aimed, ".cache"), { mode: 0o700 });
  fs.symlinkSync(target, path.join(aimed, ".cache", "lap"));
  assert.equal((await lap(["--version"], { HOME: aimed })).code, 0);
  assert.deepEqual(fs.readdirSync(target), []);

  // Turned off by Node's own switch.
  const off = home();
  assert.equal((await lap(["--version"], { HOME: off, NODE_DISABLE_COMPILE_CACHE: "1" })).code, 0);
  assert.equal(fs.existsSync(path.join(off, ".cache")), false);
});

// Start-up is Node's own plus lap's modules: `lap --version` loads none of
// Node's modules that an empty script does not, but its argument parser. A
// Node with a compile cache also loads node:module to turn it on, so there
// the script compared with requires it.
test("lap --version loads no Node module beyond what an empty script does, but its argument parser", async () => {
  const h = home();
  const probe = path.join(h, "probe.js");
  fs.writeFileSync(probe, 'process.on("exit", () => require("fs").writeFileSync(process.env.PROBE_OUT, process.moduleLoadList.join("\\n")));\n');
  const script = path.join(h, "script.js");
  fs.writeFileSync(script, nodeHasCache ? 'require("node:module");\n' : "");
  const loaded = (out: string) => fs.readFileSync(out, "utf8").split("\n").filter((m) => m.startsWith("NativeModule "));
  // Under coverage (make test) Node passes NODE_V8_COVERAGE on to children
  // and then loads its source-map cache for lap's files; both run without.
  const noCoverage = { NODE_V8_COVERAGE: "" };

  const floorOut = path.join(h, "floor.txt");
  const floor = spawnSync(process.execPath, ["--require", probe, script], { env: { PATH: process.env.PATH ?? "", PROBE_OUT: floorOut, ...noCoverage } });
  assert.equal(floor.status, 0, floor.stderr.toString());
  const lapOut = path.join(h, "lap.txt");
  const r = await lap(["--version"], { HOME: h, NODE_OPTIONS: `--require ${probe}`, PROBE_OUT: lapOut, ...noCoverage });
  assert.equal(r.code, 0, r.stderr);

  const base = new Set(loaded(floorOut));
  const parser = (m: string) => m.startsWith("NativeModule internal/util/parse_args/");
  assert.deepEqual(loaded(lapOut).filter((m) => !base.has(m) && !parser(m)), []);
});
