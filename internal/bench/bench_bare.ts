// The floor `make bench` measures lap against: the least a WebSocket terminal
// client can do. ws directly, with the socket options lap uses; stdin out as
// binary frames; every message straight to stdout, the socket paused while
// stdout is full; no terminal handling, no reconnecting.
// Usage: node bench_bare.js <ws-url> [token [api-url api-key]]. Not installed.
//
// Given the API too, it first makes the two calls `lap <agent>` makes to find
// a session (the agents, then the agent's sessions), as lap makes them: over
// node:http, one kept-alive connection, each body read to the end. That is
// the floor for a client that must ask the platform before it attaches.

import http from "node:http";
import WebSocket from "ws";

const [url, token, api, key] = process.argv.slice(2);

function connect(): void {
  const ws = new WebSocket(url!, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    perMessageDeflate: false,
    skipUTF8Validation: true,
  });
  ws.on("open", () => {
    process.stdin.on("data", (keys: Buffer) => ws.send(keys, { binary: true }));
    process.stdin.on("end", () => ws.close(1000)); // as in lap, stdin ending detaches
  });
  ws.on("message", (data: Buffer) => {
    if (process.stdout.write(data) || ws.isPaused) return;
    ws.pause();
    process.stdout.once("drain", () => ws.resume());
  });
  ws.on("error", (err) => fail(err.message));
  // The same marker lap prints, once every byte has been handed to stdout.
  ws.on("close", (code: number) => {
    const bye = () => process.stderr.write(`[ws closed] ${code}\n`, () => process.exit(0));
    if (process.stdout.writableLength === 0) bye();
    else process.stdout.once("drain", bye);
  });
}

function fail(message: string): never {
  process.stderr.write(`bare: ${message}\n`);
  process.exit(1);
}

// The agent keeps its connection open, unreferenced, as lap's does.
const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });

async function get(path: string): Promise<unknown> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${api}/api/v1/managed_agents/${path}`, { agent, headers: { authorization: `Bearer ${key}` } }, resolve).on("error", reject);
  });
  let text = "";
  for await (const chunk of res) text += chunk;
  if (res.statusCode !== 200) fail(`GET ${path}: ${res.statusCode}`);
  return JSON.parse(text);
}

if (!api) connect();
else {
  get("agents?limit=200&offset=0")
    .then((agents) => get(`sessions?agent_id=${(agents as { data: { id: string }[] }).data[0]!.id}&limit=200&offset=0`))
    .then(connect, (err: Error) => fail(err.message));
}
