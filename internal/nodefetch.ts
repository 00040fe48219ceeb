// The little of fetch that api.ts uses (status, ok, headers.get, a body to
// iterate), over node:http(s). Global fetch is undici, which parses HTTP in
// WebAssembly: V8 compiles it on first use and optimises it on a background
// thread, which cost about 40 ms before the first answer and about 30 MiB of
// peak memory in `make bench`. node:http's parser is native.

import * as http from "node:http";
import * as https from "node:https";

export function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const client = url.protocol === "https:" ? https : http;
  if (init.body !== undefined && init.body !== null && typeof init.body !== "string") {
    return Promise.reject(new TypeError("lap's fetch sends string bodies only"));
  }
  // A plain object, as api.ts gives: touching the Headers global would load
  // undici after all.
  const headers = (init.headers ?? {}) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: init.method ?? "GET", headers, signal: init.signal ?? undefined }, (res) => {
      const status = res.statusCode ?? 0;
      const answer = {
        status,
        ok: status >= 200 && status < 300,
        headers: {
          get: (name: string) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          },
        },
        // An IncomingMessage is async-iterable, as api.ts reads it.
        body: Object.assign(res, { cancel: async () => void res.destroy() }),
      };
      resolve(answer as unknown as Response);
    });
    req.on("error", reject);
    req.end(init.body ?? undefined);
  });
}
