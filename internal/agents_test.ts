import { test, after } from "node:test";
import assert from "node:assert/strict";
import { listAgents, type AgentRow } from "./agents.js";
import { startPlatform, type Platform } from "./platform/platform.js";
import { memoryIO } from "./testutil/testio.js";

let p: Platform;
after(async () => p?.close());

test("lap agents --json gives stable fields, and a table without it; an empty name is no name", async () => {
  p = await startPlatform({ bringUpMs: 0 });
  const old = p.addAgent({ name: "old", harness_id: "hermes" });
  const sdk = p.addAgent({ name: "", harness_id: "opencode", supports_tui: false });
  const env = { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
  const json = memoryIO({ env });
  await listAgents(json.io, { json: true });
  assert.deepEqual(JSON.parse(json.stdout()) as AgentRow[], [
    { id: sdk.id, name: null, harness_id: "opencode", supports_tui: false, has_active_session: false },
    { id: old.id, name: "old", harness_id: "hermes", supports_tui: false, has_active_session: false },
  ]);
  const text = memoryIO({ env });
  await listAgents(text.io);
  assert.match(text.stdout(), /^NAME\s+HARNESS\s+TERMINAL\s+ID\n\(unnamed\)\s+opencode\s+no\s+\w{8}\nold\s+hermes\s+no\s+\w{8}\n$/);
});
