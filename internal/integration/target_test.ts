// lap <agent> and lap doctor reach the terminal through one function
// (api.terminalTarget): behind a load balancer that strips Authorization
// from WebSocket upgrades, both fail the same way without
// LAP_TTY_TOKEN_IN_QUERY and both succeed with it.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { attachInProcess, homes, platforms, run } from "../testutil/testcli.js";

const { loggedIn } = homes("lap-target-test-");
const platform = platforms();

// A front like a load balancer: everything goes through to the platform,
// but an upgrade request loses its Authorization header on the way.
async function strippingFront(port: number): Promise<{ url: string; stripped: () => number }> {
  let stripped = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      let headers = head.subarray(0, end).toString("latin1");
      if (/^upgrade:\s*websocket/im.test(headers)) {
        const before = headers;
        headers = headers.replace(/\r\nauthorization:[^\r]*/i, "");
        if (headers !== before) stripped++;
      }
      upstream.write(Buffer.concat([Buffer.from(headers, "latin1"), head.subarray(end)]));
      client.pipe(upstream).pipe(client);
    };
    client.on("data", onData);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stripped: () => stripped };
}

test("behind a front that strips Authorization from upgrades, lap <agent> and lap doctor both need LAP_TTY_TOKEN_IN_QUERY, and both work with it", async () => {
  // tty_url is a path, so the terminal is reached through the same front as the API.
  const p = await platform({ ttyUrl: "path" });
  const front = await strippingFront(Number(new URL(p.url).port));
  const env = loggedIn({ url: front.url, key: p.key });

  const refused = await run(["demo"], env);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /terminal upgrade refused: 401/);
  const doctorRefused = await run(["doctor", "demo", "--idle", "1s"], env);
  assert.equal(doctorRefused.code, 1);
  assert.match(doctorRefused.stdout, /^✗ websocket — .*terminal upgrade refused: 401/m);

  const inQuery = { ...env, LAP_TTY_TOKEN_IN_QUERY: "1" };
  const attached = await attachInProcess(["demo"], inQuery);
  assert.equal(attached.code, 0, attached.stderr);
  assert.match(attached.stderr, /the tty token also goes in the URL/);
  const doctor = await run(["doctor", "demo", "--idle", "1s"], inQuery);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /^✓ websocket — upgraded /m);
  assert.ok(front.stripped() >= 4, "every upgrade went through the front and lost its header");
});
