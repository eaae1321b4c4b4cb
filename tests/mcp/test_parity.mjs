// Parity of the CLI and the MCP tools (DESIGN §7: one table feeds both):
// every verb `omnibase --help` and each group's `--help` usage lines name
// has a tool whose _meta["omnibase/cli"] is that verb, and every tool names
// a verb the CLI has, except the few listed below with their reason; and
// every route of omnibased's GET /openapi.json is a tool's _meta
// "omnibase/rest" and back (when the tree has the server; the same check on
// ob_api_openapi() itself is in test_mcp_protocol.c). Listing tools needs no
// root; starting omnibased does. Run by run.sh (node and the SDK, else skip).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

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

// Routes of the server itself, not operations, should its OpenAPI document
// list them: health, the document, MCP's own endpoint (Streamable HTTP).
const SERVER_ONLY = new Set(["GET /healthz", "GET /openapi.json", "POST /mcp", "GET /mcp",
  "DELETE /mcp"]);

async function listTools() {
  const transport = new StdioClientTransport({
    command: OMNIBASE,
    args: ["mcp"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stderr: "inherit",
  });
  const client = new Client({ name: "omnibase-parity", version: "1.0.0" });
  await client.connect(transport);
  try {
    return (await client.listTools()).tools;
  } finally {
    await client.close();
  }
}

// omnibased on a socket in a scratch directory; resolves when the socket
// exists (an inotify watch, set before the start, sees it made).
function startServer(dir) {
  const sock = path.join(dir, "api.sock");
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(dir, (_, name) => {
      if (name === "api.sock" && fs.existsSync(sock)) {
        watcher.close();
        resolve({ proc, sock });
      }
    });
    const proc = spawn(process.env.OMNIBASED_BIN,
      ["--socket", sock, "--state-dir", path.join(dir, "state")],
      { stdio: ["ignore", "inherit", "inherit"] });
    proc.on("exit", (code, sig) => {
      watcher.close();
      reject(new Error(`omnibased exited (${code ?? sig}) before its socket appeared`));
    });
  });
}

function getJson(sock, route) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: sock, path: route }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    }).on("error", reject);
  });
}

test("every REST route of omnibased's /openapi.json is a tool and back", async (t) => {
  const src = process.env.OMNIBASE_SOURCE_DIR;
  if (!src || !fs.existsSync(path.join(src, "server", "CMakeLists.txt")))
    return t.skip("this tree has no server/ (omnibased)");
  assert.ok(process.env.OMNIBASED_BIN && fs.existsSync(process.env.OMNIBASED_BIN),
    "the tree has a server but OMNIBASED_BIN is not the built omnibased");
  if (process.getuid() !== 0) return t.skip("omnibased needs root (SO_PEERCRED, runsc)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ob-mcp-parity-"));
  const { proc, sock } = await startServer(dir);
  let doc;
  try {
    const res = await getJson(sock, "/openapi.json");
    assert.equal(res.status, 200);
    doc = res.body;
  } finally {
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const routes = new Set();
  for (const [route, item] of Object.entries(doc.paths))
    for (const method of Object.keys(item)) {
      const r = `${method.toUpperCase()} ${route}`;
      if (!SERVER_ONLY.has(r)) routes.add(r);
    }
  const rest = new Set((await listTools()).map((t) => t._meta["omnibase/rest"]));
  assert.deepEqual([...routes].filter((r) => !rest.has(r)), [], "routes without a tool");
  assert.deepEqual([...rest].filter((r) => !routes.has(r)), [], "tools without a route");
});

test("every CLI verb is a tool and every tool a CLI verb", async () => {
  const cli = new Set();
  for (const g of groups()) for (const v of verbs(g)) cli.add(v);

  const tools = await listTools();
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
