// MCP over Streamable HTTP at omnibased's /mcp, driven by the official SDK's
// own client (Client + StreamableHTTPClientTransport) over TCP + TLS with a
// bearer token (a self-signed certificate made here), with a real runsc
// environment: the tools are the same as on stdio; a token decides who the
// caller is (an owner sees only its own environments); no token is a 401;
// a browser Origin that is not the server is refused; an exec's output and
// a denial (isError with violations) come back as on stdio; nothing is left.
// Run by run.sh --root (root, runsc and the SDK, else skip).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const OMNIBASE = process.env.OMNIBASE_BIN;
const SERVER = process.env.OMNIBASED_BIN ||
  path.join(process.env.OMNIBASE_BUILD_DIR || path.dirname(path.dirname(OMNIBASE)), "server/omnibased");
const DIR = fs.mkdtempSync("/var/tmp/ob-mcp-http-");
const STATE = path.join(DIR, "state");
const ENV = {
  PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  OMNIBASE_STATE_DIR: STATE,
  OMNIBASE_CONFIG: path.join(DIR, "config.json"),
  ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
  ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}),
};
const ALICE = "tok-alice-" + Math.random().toString(36).slice(2);
const BOB = "tok-bob-" + Math.random().toString(36).slice(2);
// the server's certificate is made here: this process trusts it, nothing else
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let server, base, serverExited = false;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

async function connect(token, headers = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(base + "/mcp"), {
    requestInit: { headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...headers } },
  });
  const client = new Client({ name: "omnibase-http-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

function structured(res) {
  assert.ok(res.structuredContent, "no structuredContent: " + JSON.stringify(res));
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
  return res.structuredContent;
}

function leftovers() {
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(STATE));
  const procs = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(STATE);
    } catch {
      return false;
    }
  });
  return { mounts, procs };
}

before(async () => {
  assert.ok(fs.existsSync(SERVER), "no omnibased at " + SERVER);
  fs.writeFileSync(ENV.OMNIBASE_CONFIG, JSON.stringify({ max_environments_per_owner: 2 }));
  fs.writeFileSync(path.join(DIR, "tokens"), `${ALICE} alice\n${BOB} bob\n`, { mode: 0o600 });
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
    "-days", "1", "-keyout", path.join(DIR, "key.pem"), "-out", path.join(DIR, "cert.pem")], { stdio: "ignore" });
  fs.chmodSync(path.join(DIR, "key.pem"), 0o600);
  const port = await freePort();
  base = `https://127.0.0.1:${port}`;
  server = spawn(SERVER, ["--socket", path.join(DIR, "api.sock"), "--listen", `127.0.0.1:${port}`,
    "--tls-cert", path.join(DIR, "cert.pem"), "--tls-key", path.join(DIR, "key.pem"),
    "--token-file", path.join(DIR, "tokens")], { env: ENV, stdio: ["ignore", "ignore", "inherit"] });
  server.on("exit", () => { serverExited = true; });
  for (const end = Date.now() + 20000; ;) {
    assert.ok(!serverExited, "omnibased exited");
    try {
      const r = await fetch(base + "/healthz");
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < end, "omnibased did not answer /healthz");
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  const envs = path.join(STATE, "envs");
  if (fs.existsSync(envs))
    for (const e of fs.readdirSync(envs))
      execFileSync(OMNIBASE, ["env", "delete", e], { env: ENV, stdio: "ignore" });
  if (server && !serverExited) {
    server.kill("SIGTERM");
    await new Promise((r) => server.on("exit", r));
  }
  const left = leftovers();
  fs.rmSync(DIR, { recursive: true, force: true });
  assert.deepEqual(left, { mounts: [], procs: [] });
});

describe("MCP over Streamable HTTP (/mcp) with the official SDK client", () => {
  let alice, bob, envId;

  test("no token is a 401; a foreign Origin is refused", async () => {
    await assert.rejects(connect(null), /401|Unauthorized|token/i);
    await assert.rejects(connect(ALICE, { Origin: "https://evil.example" }), /403|Origin|forbidden/i);
  });

  test("initialize and the same tools as stdio", async () => {
    alice = await connect(ALICE);
    bob = await connect(BOB);
    assert.equal(alice.getServerVersion().name, "omnibase");
    const { tools } = await alice.listTools();
    const stdio = new Client({ name: "omnibase-http-test", version: "1.0.0" });
    await stdio.connect(new StdioClientTransport({ command: OMNIBASE, args: ["mcp"], env: ENV }));
    const { tools: viaStdio } = await stdio.listTools();
    await stdio.close();
    assert.deepEqual(tools.map((t) => t.name).sort(), viaStdio.map((t) => t.name).sort());
    assert.deepEqual(tools.find((t) => t.name === "env_exec").inputSchema,
      viaStdio.find((t) => t.name === "env_exec").inputSchema);
  });

  test("env_create as alice (the token's owner), exec with output, a denial as isError", async () => {
    const env = structured(await alice.callTool({ name: "env_create",
      arguments: { template: "python-agent", name: "http-one", ttl: "1h" } }));
    assert.equal(env.state, "running");
    assert.equal(env.owner, "alice");
    envId = env.id;
    const ok = await alice.callTool({ name: "env_exec",
      arguments: { id: envId, argv: ["/bin/sh", "-c", "cat; id -u"], stdin: "over-http\n" } });
    assert.equal(ok.isError, false);
    assert.equal(structured(ok).stdout, "over-http\n65534\n");
    const denied = await alice.callTool({ name: "env_exec",
      arguments: { id: envId, argv: ["/bin/cat", "/etc/shadow"] } });
    assert.equal(denied.isError, true);
    const v = structured(denied).violations;
    assert.equal(v[0].capability, "FILE_READ");
    assert.equal(v[0].target, "/etc/shadow");
  });

  test("bob (another owner) can neither see nor exec into alice's environment", async () => {
    const list = structured(await bob.callTool({ name: "env_list", arguments: {} }));
    assert.deepEqual(list.environments, []);
    const r = await bob.callTool({ name: "env_exec", arguments: { id: envId, argv: ["/bin/true"] } });
    assert.equal(r.isError, true);
    assert.equal(structured(r).error.code, "not_found");
    const d = await bob.callTool({ name: "env_delete", arguments: { id: envId } });
    assert.equal(structured(d).error.code, "not_found");
  });

  test("env_delete ends it", async () => {
    const env = structured(await alice.callTool({ name: "env_delete", arguments: { id: envId } }));
    assert.equal(env.state, "deleted");
    await alice.close();
    await bob.close();
  });
});
