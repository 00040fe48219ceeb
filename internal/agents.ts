// The listing commands: what agents the platform has.

import { Api, hasTerminal, type Agent } from "./api.js";
import { credentials } from "./auth.js";
import { visible } from "./errors.js";
import type { IO } from "./io.js";

export async function listAgents(io: IO): Promise<void> {
  const { base, key } = credentials(io);
  const agents = await new Api(base, key, io.fetch).listAgents();
  io.stdout.write(agentTable(agents));
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
