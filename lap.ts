#!/usr/bin/env node
// lap: attach your terminal to a sandbox of a LiteLLM Agent Platform.
//
// The entry point. It is written in the syntax of ES5 (var, function, no
// arrows or template strings) so that any Node can parse it and say plainly
// that it is too old, instead of failing with a SyntaxError from deep inside.
// Then it hands over to internal/processio.ts, which owns the process.

function nodeMajor(version: string): number {
  return Number(String(version).replace(/^v/, "").split(".")[0]);
}

// 18: the oldest Node lap supports, as package.json's "engines" says.
if (!(nodeMajor(process.versions.node) >= 18)) {
  process.stderr.write("lap needs Node 18 or newer; this is Node " + process.versions.node + "\n");
  process.exit(1);
} else if (require.main === module) {
  require("./internal/processio.js").run();
}

export {};
