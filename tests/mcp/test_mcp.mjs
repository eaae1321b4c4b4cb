// `omnibase mcp` driven by the official MCP SDK's own client (Client +
// StdioClientTransport, which validates every structuredContent against the
// tool's outputSchema) with real runsc environments: initialize and the
// tool list, env_create, env_exec with stdin, a denial as an isError result
// carrying the violations (and a one-shot sandbox_run's), bad arguments as
// typed errors, an unknown tool as a protocol error, list/show/extend/logs/
// delete, every read-only tool within its schema, the caller's role (an
// observer may not create), raw stdio framing (a message over 4 MiB, CRLF,
// nothing but responses on stdout), and nothing left behind at the end.
// Run by run.sh --root (root, runsc and the SDK, else skip).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError, ErrorCode, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const OMNIBASE = process.env.OMNIBASE_BIN;
const STATE = fs.mkdtempSync("/var/tmp/ob-mcp-");
const CONFIG = STATE + "-config.json";
const CONFIG_TEXT = JSON.stringify({ max_environments_per_owner: 2 });
const ENV = {
  PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  OMNIBASE_STATE_DIR: STATE,
  OMNIBASE_CONFIG: CONFIG,
  ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
  ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}),
};

function ob(...args) {
  return spawnSync(OMNIBASE, args, { env: ENV, encoding: "utf8", timeout: 180000 });
}

// What a gone environment may not leave (tests/environments' leftovers()):
// run directories, mounts, loop devices and processes (a supervisor, runsc)
// naming the state directory.
function leftovers() {
  const runsDir = path.join(STATE, "runs");
  const runs = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .filter((l) => l.includes(STATE));
  const loops = fs.readdirSync("/sys/block").filter((d) => d.startsWith("loop")).filter((d) => {
    try {
      return fs.readFileSync(`/sys/block/${d}/loop/backing_file`, "utf8").includes(STATE);
    } catch {
      return false; // not attached
    }
  });
  const procs = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmd.includes(STATE) && Number(pid) !== process.pid) procs.push(`${pid}: ${cmd}`);
  }
  return { runs, mounts, loops, procs };
}

async function connect(command = OMNIBASE, args = ["mcp"]) {
  const transport = new StdioClientTransport({ command, args, env: ENV, stderr: "inherit" });
  const client = new Client({ name: "omnibase-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

// The tool result's text content must be the structuredContent as JSON.
function structured(res) {
  assert.ok(res.structuredContent && typeof res.structuredContent === "object",
    "no structuredContent: " + JSON.stringify(res));
  assert.equal(res.content.length, 1);
  assert.equal(res.content[0].type, "text");
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
  return res.structuredContent;
}

after(() => {
  // a failed case may have left its environment: end it with the CLI
  const envs = path.join(STATE, "envs");
  if (fs.existsSync(envs))
    for (const e of fs.readdirSync(envs)) ob("env", "delete", e);
  ob("gc");
  fs.rmSync(STATE, { recursive: true, force: true });
  fs.rmSync(CONFIG, { force: true });
});

describe("omnibase mcp with the official SDK client", () => {
  let client, transport, tools, envId;

  before(async () => {
    fs.writeFileSync(CONFIG, CONFIG_TEXT);
    ({ client, transport } = await connect());
  });

  after(async () => {
    await client?.close();
  });

  test("initialize: the server, its instructions and tools capability", () => {
    const info = client.getServerVersion();
    assert.equal(info.name, "omnibase");
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(client.getServerCapabilities(), { tools: { listChanged: false } });
    assert.match(client.getInstructions(), /isError/);
    assert.match(client.getInstructions(), /violations/);
  });

  test("tools/list: one tool per operation, each with schemas, hints and its CLI and REST names",
    async () => {
      ({ tools } = await client.listTools());
      assert.ok(tools.length >= 15, `only ${tools.length} tools`);
      const names = new Set();
      for (const t of tools) {
        assert.match(t.name, /^[a-z]+_[a-z]+$/);
        assert.ok(!names.has(t.name), "duplicate tool " + t.name);
        names.add(t.name);
        assert.ok(t.title && t.description, t.name + ": title, description");
        assert.equal(t.inputSchema.type, "object", t.name);
        assert.equal(t.inputSchema.additionalProperties, false, t.name);
        assert.equal(t.outputSchema.type, "object", t.name);
        assert.equal(typeof t.annotations.readOnlyHint, "boolean", t.name);
        assert.equal(t.annotations.openWorldHint, false, t.name);
        assert.match(t._meta["omnibase/cli"], /^[a-z]+( [a-z]+)?$/, t.name); // test_parity.mjs
        assert.match(t._meta["omnibase/rest"], /^(GET|POST|PUT|PATCH|DELETE) \/\S*$/, t.name);
      }
      for (const n of ["env_create", "env_exec", "env_list", "env_show", "env_extend",
        "env_logs", "env_delete"])
        assert.ok(names.has(n), "no tool " + n);
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      assert.equal(byName.env_list.annotations.readOnlyHint, true);
      assert.equal(byName.env_delete.annotations.readOnlyHint, false);
      assert.equal(byName.env_delete.annotations.destructiveHint, true);
      assert.equal(byName.env_create.annotations.destructiveHint, false);
      assert.deepEqual(byName.env_exec.inputSchema.required.sort(), ["argv", "id"]);
    });

  test("env_create: a running environment", async () => {
    const res = await client.callTool({
      name: "env_create",
      arguments: { template: "python-agent", name: "mcp-test", ttl: "1h" },
    });
    const env = structured(res);
    assert.equal(res.isError, false, JSON.stringify(env));
    assert.match(env.id, /^env-[0-9a-f]{12}$/);
    assert.equal(env.state, "running");
    assert.equal(env.template, "python-agent");
    assert.equal(env.name, "mcp-test");
    envId = env.id;
  });

  test("env_exec: stdin in, stdout and the exit code out", async () => {
    const res = await client.callTool({
      name: "env_exec",
      arguments: {
        id: envId,
        argv: ["/bin/sh", "-c", "read x; echo got $x; echo to-err >&2; exit 3"],
        stdin: "hello\n",
      },
    });
    const out = structured(res);
    assert.equal(out.stdout, "got hello\n");
    assert.equal(out.stderr, "to-err\n");
    assert.equal(out.exit_code, 3);
    assert.equal(out.status, "ok");
    assert.equal(res.isError, false);
    // the name works as well as the id, and the workspace is the cwd
    const res2 = await client.callTool({
      name: "env_exec",
      arguments: { id: "mcp-test", argv: ["/bin/sh", "-c", "echo kept > note.txt; cat note.txt; pwd"] },
    });
    assert.equal(structured(res2).stdout, "kept\n/workspace\n");
    // a command that ends abnormally without a denial is an isError result too
    const res3 = await client.callTool({
      name: "env_exec",
      arguments: { id: envId, argv: ["/bin/sleep", "30"], timeout_s: 1 },
    });
    assert.equal(structured(res3).status, "timeout", JSON.stringify(res3.structuredContent));
    assert.equal(res3.isError, true);
  });

  test("env_exec of what the template denies: isError with the violations", async () => {
    const res = await client.callTool({
      name: "env_exec",
      arguments: { id: envId, argv: ["/bin/sh", "-c", "(cat /etc/shadow); echo after"] },
    });
    const out = structured(res);
    assert.equal(res.isError, true);
    assert.equal(out.status, "violation");
    assert.ok(Array.isArray(out.violations) && out.violations.length > 0,
      "no violations: " + JSON.stringify(out));
    for (const v of out.violations) {
      assert.equal(typeof v.capability, "string");
      assert.equal(typeof v.target, "string");
    }
    assert.ok(out.violations.some((v) => v.capability === "FILE_READ" && v.target === "/etc/shadow"),
      JSON.stringify(out.violations));
    assert.match(out.stdout, /after/);
  });

  test("sandbox_run: a one-shot run, and its denial as isError with the violations", async () => {
    const caps = { version: 1, grants: [], denials: [] };
    const ok = await client.callTool({
      name: "sandbox_run",
      arguments: { argv: ["/bin/echo", "one-shot"], capabilities: caps },
    });
    assert.equal(ok.isError, false, JSON.stringify(ok.structuredContent));
    assert.equal(structured(ok).stdout, "one-shot\n");
    const denied = await client.callTool({
      name: "sandbox_run",
      arguments: { script: "print(open('/etc/shadow').read())", capabilities: caps },
    });
    const out = structured(denied);
    assert.equal(denied.isError, true);
    assert.equal(out.status, "violation");
    assert.ok(out.violations.some((v) => v.capability === "FILE_READ" && v.target === "/etc/shadow"),
      JSON.stringify(out.violations));
  });

  test("bad arguments: isError results with the typed error, naming the field", async () => {
    const cases = [
      ["env_extend", { id: envId, ttl: "forever" }, /forever|ttl/],
      ["env_show", { id: envId, bogus: 1 }, /bogus/],
      ["env_exec", { id: envId, argv: "ls" }, /argv/],
      ["env_exec", { id: envId }, /argv/],
    ];
    for (const [name, args, re] of cases) {
      const res = await client.callTool({ name, arguments: args });
      const out = structured(res);
      assert.equal(res.isError, true, name + " " + JSON.stringify(args));
      assert.equal(out.error.code, "invalid", JSON.stringify(out));
      assert.match(out.error.message, re);
    }
    const res = await client.callTool({ name: "env_show", arguments: { id: "env-000000000000" } });
    assert.equal(res.isError, true);
    assert.equal(structured(res).error.code, "not_found");
  });

  test("an unknown tool is a protocol error (-32602)", async () => {
    await assert.rejects(client.callTool({ name: "env_frobnicate", arguments: {} }), (e) => {
      assert.ok(e instanceof McpError, String(e));
      assert.equal(e.code, ErrorCode.InvalidParams);
      assert.match(e.message, /env_frobnicate/);
      return true;
    });
  });

  test("env_list, env_show, env_extend, env_logs", async () => {
    const list = structured(await client.callTool({ name: "env_list", arguments: {} }));
    assert.deepEqual(list.environments.map((e) => e.id), [envId]);
    const shown = structured(await client.callTool({ name: "env_show", arguments: { id: "mcp-test" } }));
    assert.equal(shown.id, envId);
    assert.equal(shown.state, "running");
    const ext = await client.callTool({ name: "env_extend", arguments: { id: envId, ttl: "2h" } });
    assert.equal(ext.isError, false, JSON.stringify(ext.structuredContent));
    assert.ok(Date.parse(structured(ext).expires_at) > Date.parse(shown.expires_at),
      `${structured(ext).expires_at} is not after ${shown.expires_at}`);
    const logs = structured(await client.callTool({ name: "env_logs", arguments: { id: envId } }));
    assert.ok(logs.events.length > 0);
    // its own events only: those of its sandbox name its principal alone
    assert.equal(new Set(logs.events.map((e) => e.principal)).size, 1, JSON.stringify(logs.events));
    assert.ok(logs.events.every((e) => e.env_id === undefined || e.env_id === envId),
      JSON.stringify(logs.events));
    assert.ok(logs.events.some((e) => e.type === "CapabilityDenied" && e.target === "/etc/shadow"),
      JSON.stringify(logs.events.map((e) => e.type)));
  });

  test("every read-only tool that needs no argument answers within its outputSchema", async () => {
    // (the SDK's client validates structuredContent against the outputSchema)
    const called = [];
    for (const t of tools) {
      if (!t.annotations.readOnlyHint || (t.inputSchema.required ?? []).length) continue;
      const res = await client.callTool({ name: t.name, arguments: {} });
      const out = structured(res);
      // some take one of two arguments, which "required" cannot say
      if (res.isError) assert.equal(out.error?.code, "invalid", `${t.name}: ${JSON.stringify(out)}`);
      else called.push(t.name);
    }
    assert.ok(called.includes("env_list"), called.join(" "));
    console.log("read-only tools called with no arguments: " + called.join(" "));
  });

  test("env_delete: deleted, and nothing left on the host", async () => {
    const res = await client.callTool({ name: "env_delete", arguments: { id: envId } });
    assert.equal(res.isError, false, JSON.stringify(res.structuredContent));
    assert.equal(structured(res).state, "deleted");
    const shown = structured(await client.callTool({ name: "env_show", arguments: { id: envId } }));
    assert.equal(shown.state, "deleted");
    const list = structured(await client.callTool({ name: "env_list", arguments: {} }));
    assert.deepEqual(list.environments, []);
    assert.deepEqual(leftovers(), { runs: [], mounts: [], loops: [], procs: [] });
  });

  test("the server exits 0 when its stdin closes", async () => {
    const proc = transport._process; // the SDK keeps the child here
    const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve([code, sig])));
    proc.stdin.end();
    assert.deepEqual(await exited, [0, null]);
    client = undefined;
  });
});

describe("the caller's identity and role", () => {
  test("an observer may read but not create", async (t) => {
    const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => fs.existsSync(p));
    if (!setpriv) return t.skip("no setpriv (util-linux)");
    const asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"];
    if (spawnSync(setpriv, [...asNobody, OMNIBASE, "-V"]).status !== 0)
      return t.skip(`user nobody cannot run ${OMNIBASE} (a private build directory?)`);
    fs.writeFileSync(CONFIG, JSON.stringify({ api: { observers: ["nobody"] } }));
    const { client: c } = await connect(setpriv, [...asNobody, OMNIBASE, "mcp"]);
    try {
      const res = await c.callTool({ name: "env_create", arguments: { template: "python-agent" } });
      assert.equal(res.isError, true);
      assert.equal(structured(res).error.code, "forbidden", JSON.stringify(res.structuredContent));
      assert.match(structured(res).error.message, /nobody/);
      // reading is allowed (what needs no root: the templates)
      const list = await c.callTool({ name: "template_list", arguments: {} });
      assert.equal(list.isError, false, JSON.stringify(list.structuredContent));
    } finally {
      await c.close();
      fs.writeFileSync(CONFIG, CONFIG_TEXT);
    }
  });
});

// Raw stdio framing, below the SDK: responses only, one per line.
describe("stdio framing", () => {
  // The server's stdout must be valid UTF-8 as bytes (node's own decoding
  // would hide a bad byte behind U+FFFD).
  function raw(lines) {
    return new Promise((resolve, reject) => {
      const p = spawn(OMNIBASE, ["mcp"], { env: ENV, stdio: ["pipe", "pipe", "pipe"] });
      const chunks = [];
      let err = "";
      p.stdout.on("data", (d) => chunks.push(d));
      p.stderr.on("data", (d) => (err += d));
      p.on("error", reject);
      p.on("close", (code) => {
        const out = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
        resolve({ code, out, err });
      });
      for (const l of lines) p.stdin.write(l);
      p.stdin.end();
    });
  }
  const init = JSON.stringify({
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });

  test("a message over 4 MiB is refused and the next one served; CRLF and blank lines are fine",
    async () => {
      const big = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping", params: { pad: "x".repeat(5 << 20) } });
      const { code, out } = await raw([init + "\r\n", "\n", big + "\n",
        JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }) + "\n",
        JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n",
        "{not json\n",
        JSON.stringify({ jsonrpc: "2.0", id: 4, method: "tools/list" })]); // no final newline
      assert.equal(code, 0);
      const msgs = out.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(msgs.length, 5, out.slice(0, 2000));
      assert.equal(msgs[0].id, 1);
      assert.equal(msgs[0].result.protocolVersion, "2025-06-18");
      assert.deepEqual([msgs[1].id, msgs[1].error.code], [null, -32600]);
      assert.deepEqual(msgs[2], { jsonrpc: "2.0", id: 3, result: {} });
      assert.deepEqual([msgs[3].id, msgs[3].error.code], [null, -32700]);
      assert.equal(msgs[4].id, 4);
      assert.ok(msgs[4].result.tools.length > 0);
    });

  test("with environments made and run: only responses on stdout, valid UTF-8 whatever a command prints",
    async () => {
      const call = (id, name, args) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call",
        params: { name, arguments: args } }) + "\n";
      const { code, out } = await raw([init + "\n",
        call(2, "env_create", { template: "python-agent", name: "mcp-raw" }),
        call(3, "env_exec", { id: "mcp-raw", argv: ["/bin/sh", "-c", "printf 'a\\377b'; echo x >&2"] }),
        call(4, "env_delete", { id: "mcp-raw" })]);
      assert.equal(code, 0);
      const lines = out.split("\n");
      assert.equal(lines.pop(), "", "the last response ends its line");
      const msgs = lines.map((l) => JSON.parse(l));
      assert.deepEqual(msgs.map((m) => m.id), [1, 2, 3, 4]);
      for (const m of msgs.slice(1)) assert.equal(m.result.isError, false, JSON.stringify(m));
      assert.equal(msgs[2].result.structuredContent.stdout, "a\uFFFDb");
      assert.equal(msgs[3].result.structuredContent.state, "deleted");
    });

  test("an unsupported revision gets the latest; nothing before initialize but ping", async () => {
    const { out } = await raw([
      JSON.stringify({ jsonrpc: "2.0", id: "a", method: "tools/list" }) + "\n",
      JSON.stringify({ jsonrpc: "2.0", id: "b", method: "ping" }) + "\n",
      init.replace("2025-06-18", "1999-01-01") + "\n"]);
    const msgs = out.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual([msgs[0].id, msgs[0].error.code], ["a", -32600]);
    assert.deepEqual(msgs[1], { jsonrpc: "2.0", id: "b", result: {} });
    assert.equal(msgs[2].result.protocolVersion, LATEST_PROTOCOL_VERSION);
  });
});
