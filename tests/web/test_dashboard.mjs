#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The dashboard in a real browser (issue 11): Debian's chromium driven by
// playwright-core against the real omnibased over TCP + TLS (a self-signed
// certificate made here) with a bearer token, and real runsc environments.
// A wrong token is refused; signed in, we create an environment by
// clicking, see it running with its TTL counting down, run a command and
// see its output, run one that is denied and see the violation in the exec
// view and the denial (with its policy id) in the audit stream, then delete
// it and see it go. Screenshots are kept in $OMNIBASE_BUILD_DIR/test-artifacts.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const build = process.env.OMNIBASE_BUILD_DIR || path.join(here, "../../build");
const SERVER = process.env.OMNIBASED_BIN || path.join(build, "server/omnibased");
const CHROMIUM = "/usr/bin/chromium";
const artifacts = path.join(build, "test-artifacts");

function skip(reason) {
  if (process.env.OMNIBASE_MUST_WORK && process.env.OMNIBASE_MUST_WORK !== "0") {
    console.error("FAIL (skip not allowed, OMNIBASE_MUST_WORK): " + reason);
    process.exit(1);
  }
  console.error("SKIP: " + reason);
  process.exit(77);
}

if (process.getuid() !== 0) skip("the dashboard test starts runsc environments: run as root");
if (!fs.existsSync(CHROMIUM)) skip("no " + CHROMIUM + " (apt-get install chromium)");
if (!fs.existsSync(SERVER)) skip("no omnibased at " + SERVER);
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  skip("playwright-core is not installed (npm ci in tests/web)");
}

function check(cond, what) {
  if (!cond) throw new Error("FAILED: " + what);
  console.log("ok - " + what);
}

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

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dir = fs.mkdtempSync("/var/tmp/ob-dashboard-");
const state = path.join(dir, "state");
const token = "tok-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
const olgaToken = token + "-olga";
fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ api: { observers: ["olga"] } }) + "\n");
fs.writeFileSync(path.join(dir, "tokens"), "# test tokens\n" + token + " alice\n" + olgaToken + " olga\n",
  { mode: 0o600 });
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
  "-days", "1", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { stdio: "ignore" });
fs.chmodSync(path.join(dir, "key.pem"), 0o600);

const env = { ...process.env, OMNIBASE_STATE_DIR: state, OMNIBASE_CONFIG: path.join(dir, "config.json") };
const port = await freePort();
const server = spawn(SERVER, ["--socket", path.join(dir, "api.sock"), "--listen", "127.0.0.1:" + port,
  "--tls-cert", path.join(dir, "cert.pem"), "--tls-key", path.join(dir, "key.pem"),
  "--token-file", path.join(dir, "tokens")], { env, stdio: ["ignore", "inherit", "inherit"] });
let serverExited = false;
server.on("exit", () => { serverExited = true; });
const base = "https://127.0.0.1:" + port;

let browser;
let failed = false;
try {
  await until("the server", async () => {
    if (serverExited) throw new Error("omnibased exited");
    try {
      execFileSync("curl", ["-skf", base + "/healthz"], { stdio: "ignore" });
      return true;
    } catch (e) {
      return false;
    }
  }, 20000);
  fs.mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors"] });
  const page = await browser.newPage({ ignoreHTTPSErrors: true });
  page.on("pageerror", (e) => console.error("page error: " + e.message));
  await page.goto(base + "/");

  // signing in: a wrong token is refused, the right one shows who we are
  await page.getByTestId("token").waitFor();
  await page.getByTestId("token").fill("tok-wrong");
  await page.getByTestId("login").click();
  await until("the refusal", async () => (await page.getByTestId("status").textContent()).includes("token"), 10000);
  check(!(await page.getByTestId("who").textContent()), "a wrong token shows no identity");
  await page.getByTestId("token").fill(token);
  await page.getByTestId("login").click();
  await until("the caller", async () => (await page.getByTestId("who").textContent()).includes("alice (owner)"), 10000);
  check(true, "signed in as alice (owner)");

  // create by clicking
  await page.getByTestId("c-template").selectOption("python-agent");
  await page.getByTestId("c-name").fill("dash1");
  await page.getByTestId("c-ttl").fill("2");
  await page.getByTestId("create").click();
  const row = page.locator('tr[data-name="dash1"]');
  await row.waitFor({ timeout: 60000 });
  await until("running", async () => (await row.getByTestId("state").textContent()) === "running", 60000);
  check(true, "the new environment is listed and running");
  const ttl1 = await row.locator("td.ttl").textContent();
  check(/^1h 5\dm \d+s$/.test(ttl1), "its TTL counts down from 2h (" + ttl1 + ")");
  await page.screenshot({ path: path.join(artifacts, "dashboard-created.png"), fullPage: true });

  // extend: the TTL goes from under 2h to about 24h
  await row.locator('button[data-action="extend"]').click();
  await until("the extension", async () => /^(23h|1d 0h) /.test(await row.locator("td.ttl").textContent()), 30000);
  check(true, "extend sets the TTL to 24h (" + (await row.locator("td.ttl").textContent()) + ")");

  // exec: output, then a denial with its violation and policy id
  await row.click();
  await until("the exec target", async () => (await page.getByTestId("x-env").textContent()) === "dash1", 5000);
  await page.getByTestId("x-cmd").fill("sh -c 'echo hello-from-the-dashboard; id -u'");
  await page.getByTestId("exec").click();
  await until("exec output", async () => (await page.getByTestId("x-out").textContent()).includes("[ok, exit 0]"), 60000);
  const out = await page.getByTestId("x-out").textContent();
  check(out.includes("hello-from-the-dashboard") && out.includes("65534"), "exec output appears (as uid 65534)");
  await page.getByTestId("x-cmd").fill("cat /etc/shadow");
  await page.getByTestId("exec").click();
  const v = page.getByTestId("violation");
  await v.first().waitFor({ timeout: 60000 });
  check((await v.first().textContent()).includes("FILE_READ /etc/shadow"), "the denial shows as a violation in the exec view");
  const denial = page.locator("#events li.denial");
  await until("the denial in the audit stream", async () => (await denial.count()) > 0, 30000);
  const dtext = await denial.first().textContent();
  check(dtext.includes("FILE_READ /etc/shadow") && dtext.includes("policy default-deny"),
    "the audit stream highlights the denial with its policy id");
  // the selected environment's own log pane (GET /sandboxes/{id}/logs)
  check((await page.getByTestId("l-env").textContent()) === "dash1", "the log pane follows the selection");
  const envLog = page.locator("#env-log li");
  await until("the environment's log", async () =>
    (await page.locator('#env-log li[data-type="ExecExited"]').count()) >= 2 &&
    (await page.locator("#env-log li.denial").count()) > 0, 30000);
  const types = await envLog.evaluateAll((lis) => lis.map((li) => li.dataset.type));
  check(types.includes("EnvironmentCreated") && types.includes("ExecStarted"),
    "the log pane shows the environment's history from its creation: " + types.join(","));
  check((await page.locator("#env-log li.denial").first().textContent()).includes("FILE_READ /etc/shadow"),
    "the log pane shows the denial of its exec");
  await page.screenshot({ path: path.join(artifacts, "dashboard-denial.png"), fullPage: true });

  // an observer sees alice's environment, and nothing that would change it
  const obs = await browser.newPage({ ignoreHTTPSErrors: true });
  await obs.goto(base + "/");
  await obs.getByTestId("token").fill(olgaToken);
  await obs.getByTestId("login").click();
  await until("the observer", async () => (await obs.getByTestId("who").textContent()).includes("olga (observer)"), 10000);
  const orow = obs.locator('tr[data-name="dash1"]');
  await orow.waitFor({ timeout: 10000 });
  check((await orow.locator("button").count()) === 0, "an observer sees the environment without extend/reset/delete");
  await orow.click();
  check(await obs.getByTestId("exec").isDisabled(), "an observer cannot run commands");
  await obs.close();

  // delete (two clicks) and see it go
  const del = row.locator('button[data-action="delete"]');
  await del.click();
  check((await del.textContent()) === "Confirm delete", "delete asks for a second click");
  await del.click();
  await until("the row to go", async () => (await page.locator('tr[data-name="dash1"]').count()) === 0, 60000);
  check(true, "the deleted environment is gone from the list");
  await page.screenshot({ path: path.join(artifacts, "dashboard-deleted.png"), fullPage: true });
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await until("the server to exit", async () => serverExited, 10000).catch(() => server.kill("SIGKILL"));
  // nothing of the environment may be left: no supervisor, no mount
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(state));
  if (mounts.length) {
    failed = true;
    console.error("FAILED: mounts left under the state dir:\n" + mounts.join("\n"));
  }
  const sup = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync("/proc/" + p + "/cmdline", "utf8").includes(state);
    } catch (e) {
      return false;
    }
  });
  if (sup.length) {
    failed = true;
    console.error("FAILED: processes left: " + sup.join(" "));
  }
  if (!failed) fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
