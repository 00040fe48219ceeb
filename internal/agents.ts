// The listing commands: what agents the platform has.

import { connectApi, hasTerminal, type Agent } from "./api.js";
import type { IO } from "./io.js";
import { json, print, table } from "./output.js";

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
  if (opts.json) io.stdout.write(json(agents.map(agentRow)));
  else print(io, agentTable(agents));
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
    a.name === null ? "(unnamed)" : a.name,
    a.harness_id || "?",
    hasTerminal(a) ? "yes" : "no",
    a.id.slice(0, 8),
  ]);
  return table(["NAME", "HARNESS", "TERMINAL", "ID"], rows);
}
