import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { runDemo } from "./demo.js";

// Stands in for build/lap.js: reports what it was given, then exits 7.
const STUB_LAP = `
import fs from "node:fs";
const file = process.env.LAP_CONFIG;
const config = JSON.parse(fs.readFileSync(file, "utf8"));
const res = await fetch(config.base + "/api/v1/managed_agents/agents", { headers: { authorization: "Bearer " + config.key } });
const agents = (await res.json()).data;
fs.writeFileSync(process.env.STUB_REPORT, JSON.stringify({
  argv: process.argv.slice(2),
  file,
  fileMode: fs.statSync(file).mode & 0o777,
  dirMode: fs.statSync(file.replace(/[^/]+$/, "")).mode & 0o777,
  agents: agents.map((a) => [a.name, a.harness_id, a.supports_tui]),
}));
process.exit(7);
`;

test("runs lap demo against a local platform with a private 0600 config, then cleans up and returns lap's exit code", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lap-demo-test-"));
  try {
    const lapPath = path.join(dir, "stub-lap.mjs");
    const report = path.join(dir, "report.json");
    fs.writeFileSync(lapPath, STUB_LAP);
    let said = "";
    const stderr = new Writable({
      write(chunk, _enc, done) {
        said += String(chunk);
        done();
      },
    });
    const code = await runDemo({
      lapPath,
      stdio: "ignore",
      stderr,
      env: { ...process.env, STUB_REPORT: report, LAP_CONFIG: "/must/not/be/used" },
      bringUpMs: 0,
    });
    assert.equal(code, 7);
    const got = JSON.parse(fs.readFileSync(report, "utf8"));
    assert.deepEqual(got.argv, ["demo"]);
    assert.deepEqual(got.agents, [["demo", "claude-code", true]]);
    assert.equal(got.fileMode, 0o600);
    assert.equal(got.dirMode, 0o700);
    assert.ok(!got.file.startsWith(path.join(os.homedir(), ".lap")));
    assert.equal(fs.existsSync(got.file), false, "temp config removed");
    assert.match(said, /^lap demo: local platform on 127\.0\.0\.1:\d+, a real shell on a real PTY — Ctrl-D detaches and ends the demo\nlap demo: over — the local platform and its session are stopped\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
