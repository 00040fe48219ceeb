// Network pieces for tests, not installed: certificates made with the
// openssl CLI (a private CA and a leaf for 127.0.0.1 and localhost signed by
// it), a small HTTP proxy on 127.0.0.1 (CONNECT, and requests in
// absolute form) that records what it was asked for, and a server that never answers.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";

export interface TestCerts {
  // The CA certificate's file (what NODE_EXTRA_CA_CERTS names) and contents.
  caFile: string;
  ca: Buffer;
  key: Buffer;
  cert: Buffer;
}

// hasOpenssl tells whether the tests that need certificates can run.
export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// makeCerts writes a CA and a leaf into dir (which must exist).
export function makeCerts(dir: string): TestCerts {
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=lap test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", f("leaf.key"), "-out", f("leaf.csr"), "-subj", "/CN=localhost");
  fs.writeFileSync(f("leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-out", f("leaf.pem"), "-days", "2", "-extfile", f("leaf.ext"));
  return { caFile: f("ca.pem"), ca: fs.readFileSync(f("ca.pem")), key: fs.readFileSync(f("leaf.key")), cert: fs.readFileSync(f("leaf.pem")) };
}

export interface TestProxy {
  // http://127.0.0.1:PORT
  url: string;
  // The request target of every CONNECT, e.g. "127.0.0.1:8080".
  connects: string[];
  // The Proxy-Authorization header of every CONNECT ("" when absent).
  auths: string[];
  // The request line of every request in absolute form, e.g.
  // "GET http://127.0.0.1:8080/x", and its Proxy-Authorization.
  forwarded: string[];
  forwardAuths: string[];
  close(): Promise<void>;
}

export interface TestProxyOptions {
  // Answer every CONNECT, and every request, with this status instead.
  refuse?: number;
  // Refuse (403) CONNECT to any port but 443, as many corporate proxies do.
  connect443Only?: boolean;
}

// startProxy runs a proxy: CONNECT tunnels, and http:// requests in absolute
// form forwarded to the server they name.
export async function startProxy(opts: TestProxyOptions = {}): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const connects: string[] = [];
  const auths: string[] = [];
  const forwarded: string[] = [];
  const forwardAuths: string[] = [];
  const server = http.createServer((req, res) => {
    forwarded.push(`${req.method} ${req.url}`);
    forwardAuths.push(req.headers["proxy-authorization"] ?? "");
    if (opts.refuse || !/^http:\/\//.test(req.url ?? "")) {
      const status = opts.refuse ?? 400;
      res.writeHead(status, status === 407 ? { "proxy-authenticate": "Basic" } : {});
      res.end(http.STATUS_CODES[status]);
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const upstream = http.request(req.url!, { method: req.method, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    connects.push(req.url ?? "");
    auths.push(req.headers["proxy-authorization"] ?? "");
    if (opts.connect443Only && !/:443$/.test(req.url ?? "")) {
      client.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    if (opts.refuse) {
      client.end(`HTTP/1.1 ${opts.refuse} ${http.STATUS_CODES[opts.refuse] ?? "No"}\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const { hostname, port } = new URL(`http://${req.url}`);
    const upstream = net.connect(Number(port), hostname.replace(/^\[|\]$/g, ""), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connects,
    auths,
    forwarded,
    forwardAuths,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// silentServer is a platform that takes connections and requests and never
// answers; closed when the test ends. It returns its base URL.
export async function silentServer(t: { after(fn: () => void): void }): Promise<{ url: string; port: number }> {
  const server = http.createServer(() => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, port };
}
