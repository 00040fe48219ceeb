#!/usr/bin/env node
// lap: attach your terminal to a sandbox of a LiteLLM Agent Platform.
//
// The entry point. It is written in the syntax of ES5 (var, function, no
// arrows or template strings) so that any Node can parse it and say plainly
// that it is too old, instead of failing with a SyntaxError from deep inside.
// Then it hands over to internal/processio.ts, which owns the process.

var MIN_NODE_MAJOR = 18;

function nodeMajor(version: string): number {
  return Number(String(version).replace(/^v/, "").split(".")[0]);
}

if (!(nodeMajor(process.versions.node) >= MIN_NODE_MAJOR)) {
  process.stderr.write("lap needs Node " + MIN_NODE_MAJOR + " or newer; this is Node " + process.versions.node + "\n");
  process.exit(1);
} else if (require.main === module) {
  require("./internal/processio.js").run();
}
export {};
