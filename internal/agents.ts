// The listing commands: what agents the platform has.

import { hasTerminal, type Agent } from "./api.js";
import { connectApi } from "./auth.js";
import { visible } from "./errors.js";
import type { IO } from "./io.js";

export interface AgentsOptions {
  json?: boolean;
}

// AgentRow is one entry of `lap agents --json`; its field names are stable.
export interface AgentRow {
  id: string;
  name: string | null;
  harness_id: string;
  supports_tui: boolean;
  has_active_session: boolean | null;
}

export async function listAgents(io: IO, opts: AgentsOptions = {}): Promise<void> {
  const agents = await connectApi(io).listAgents();
  io.stdout.write(opts.json ? JSON.stringify(agents.map(agentRow), null, 2) + "\n" : agentTable(agents));
}

// agentRow says whether the agent has a terminal even when the platform
// leaves supports_tui out, as `lap agents` does.
function agentRow(a: Agent): AgentRow {
  return {
    id: a.id,
    name: a.name ?? null,
    harness_id: a.harness_id,
    supports_tui: hasTerminal(a),
    has_active_session: a.has_active_session ?? null,
  };
}

// agentTable lays agents out in aligned columns: name, harness, terminal, short id.
export function agentTable(agents: Agent[]): string {
  const rows = agents.map((a) => [
    a.name === null ? "(unnamed)" : visible(a.name, 60),
    visible(a.harness_id || "?", 30),
    hasTerminal(a) ? "yes" : "no",
    a.id.slice(0, 8),
  ]);
  return table(["NAME", "HARNESS", "TERMINAL", "ID"], rows);
}

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...r[i]].length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + cell.length - [...cell].length))).join("  ")).join("\n") + "\n";
}
