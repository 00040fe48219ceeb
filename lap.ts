#!/usr/bin/env node
// lap: attach your terminal to a sandbox of a LiteLLM Agent Platform.
//
// The entry point. It is written in the syntax of ES5 (var, function, no
// arrows or template strings) so that any Node can parse it and say plainly
// that it is too old, instead of failing with a SyntaxError from deep inside.
// Then it turns on Node's compile cache (internal/compilecache.ts), before
// any other module of lap's loads, and hands over to internal/processio.ts,
// which owns the process.

function nodeMajor(version: string): number {
  return Number(String(version).replace(/^v/, "").split(".")[0]);
}

var major = nodeMajor(process.versions.node);

// 18: the oldest Node lap supports, as package.json's "engines" says.
if (!(major >= 18)) {
  process.stderr.write("lap needs Node 18 or newer; this is Node " + process.versions.node + "\n");
  process.exit(1);
} else if (require.main === module) {
  // Only Node 22.1 and newer have a compile cache. Older ones are spared
  // loading the module that turns it on, and node:module itself (about a
  // millisecond of every start on Node 20).
  if (major >= 22 && typeof require("node:module").enableCompileCache === "function") {
    require("./internal/compilecache.js").enableCompileCache(process.env, process.getuid ? process.getuid() : undefined);
  }
  require("./internal/processio.js").run();
}

export {};
