// Parity of the CLI and the MCP tools (DESIGN §7: one table feeds both):
// every verb `omnibase --help` and each group's `--help` usage lines name
// has a tool whose _meta["omnibase/cli"] is that verb, and every tool names
// a verb the CLI has, except the few listed below with their reason. The
// REST half (every route of ob_api_openapi() is a tool's _meta
// "omnibase/rest" and back) is in test_mcp_protocol.c. Needs no root: it
// only lists tools. Run by run.sh (node and the SDK, else skip).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const OMNIBASE = process.env.OMNIBASE_BIN;

// CLI verbs that are deliberately not tools. Keep this short: each is a
// gap in what an agent can do, so each needs a reason.
const CLI_ONLY = new Map([
  ["gc", "host maintenance for root: removes what killed runs left behind"],
  ["events rotate", "host maintenance for root: rotates the audit log file"],
  ["env shell", "an interactive terminal (PTY), which a tool call cannot carry"],
  ["mcp", "the MCP server itself"],
]);

function help(...args) {
  const p = spawnSync(OMNIBASE, [...args, "--help"], { encoding: "utf8" });
  assert.equal(p.status, 0, `omnibase ${args.join(" ")} --help: ${p.stderr}`);
  return p.stdout;
}

// The groups of `omnibase --help` ("commands:" then "  NAME  summary").
function groups() {
  const text = help();
  const start = text.indexOf("commands:\n");
  assert.ok(start >= 0, "no commands: section in omnibase --help");
  const names = [];
  for (const line of text.slice(start).split("\n").slice(1)) {
    const m = /^ {2}([a-z][a-z-]*) {2,}\S/.exec(line);
    if (!m) break;
    names.push(m[1]);
  }
  assert.ok(names.length >= 5, "too few commands in omnibase --help: " + names);
  return names;
}

// The verbs of one group from its usage lines: "usage: omnibase env create
// ..." and "       omnibase env stop|start|delete ID"; a group without
// sub-verbs ("omnibase gc") is a verb itself.
function verbs(group) {
  const found = new Set();
  for (const line of help(group).split("\n")) {
    const m = /^(?:usage:)? +omnibase (\S+)(?: (\S+))?/.exec(line);
    if (!m || m[1] !== group) continue;
    if (m[2] && /^[a-z][a-z-]*(\|[a-z][a-z-]*)*$/.test(m[2]))
      for (const v of m[2].split("|")) found.add(`${group} ${v}`);
    else found.add(group);
  }
  assert.ok(found.size > 0, `no usage lines in omnibase ${group} --help`);
  return found;
}

test("every CLI verb is a tool and every tool a CLI verb", async () => {
  const cli = new Set();
  for (const g of groups()) for (const v of verbs(g)) cli.add(v);

  const transport = new StdioClientTransport({
    command: OMNIBASE,
    args: ["mcp"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stderr: "inherit",
  });
  const client = new Client({ name: "omnibase-parity", version: "1.0.0" });
  await client.connect(transport);
  let tools;
  try {
    ({ tools } = await client.listTools());
  } finally {
    await client.close();
  }
  const byCli = new Map();
  for (const t of tools) {
    const verb = t._meta?.["omnibase/cli"];
    assert.equal(typeof verb, "string", `tool ${t.name} has no _meta omnibase/cli`);
    assert.ok(!byCli.has(verb), `${verb} is both ${byCli.get(verb)} and ${t.name}`);
    byCli.set(verb, t.name);
  }

  const missing = [...cli].filter((v) => !byCli.has(v) && !CLI_ONLY.has(v));
  assert.deepEqual(missing, [], "CLI verbs without a tool (add the operation to api/, or to " +
    "CLI_ONLY with a reason)");
  const orphans = [...byCli.keys()].filter((v) => !cli.has(v));
  assert.deepEqual(orphans, [], "tools whose CLI verb `omnibase --help` does not list");
  // an exclusion that is a tool after all is stale
  for (const v of CLI_ONLY.keys())
    assert.ok(!byCli.has(v), `${v} is a tool now: remove it from CLI_ONLY`);
  for (const v of ["gc", "events rotate", "mcp"]) assert.ok(cli.has(v), `no CLI verb ${v}?`);
  console.log(`${cli.size} CLI verbs, ${tools.length} tools, ` +
    `${[...CLI_ONLY.keys()].filter((v) => cli.has(v)).length} CLI-only`);
});
