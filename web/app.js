// SPDX-License-Identifier: Apache-2.0
// The omnibase dashboard (docs/server.md): plain JS over the REST API of the
// server that serves it. No external network, no framework. A bearer token,
// when the server asks for one (TCP), lives in this page's memory only: it is
// sent as an Authorization header (never a cookie), so another site cannot
// make the browser act for the user.
"use strict";

const state = { token: null, me: null, envs: [], selected: null, templates: {}, lastSeq: 0 };

function $(id) { return document.getElementById(id); }

function say(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.className = kind || "info";
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { s.textContent = ""; s.className = ""; }, kind === "error" ? 8000 : 3000);
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) {
    $("login").hidden = false;
    throw new Error("sign in with an API token");
  }
  if (!res.ok) {
    const msg = data && data.error ? data.error.code + ": " + data.error.message : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function countdown(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (s <= 0) return "expired";
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

// ---- environments ----

async function refresh() {
  try {
    const data = await api("GET", "/sandboxes");
    state.envs = data.environments;
    render();
  } catch (e) {
    say(e.message, "error");
  }
}

function action(label, cls, fn) {
  return el("button", { class: cls, "data-action": label.toLowerCase(), onclick: (ev) => { ev.stopPropagation(); fn(ev.target); } }, label);
}

async function act(env, verb, method, path, body, done) {
  try {
    await api(method, path, body);
    say(verb + " " + (env.name || env.id));
    if (done) done();
  } catch (e) {
    say(verb + ": " + e.message, "error");
  }
  refresh();
}

// Delete takes two clicks; the armed state lives here, not in the button,
// because a refresh rebuilds the rows (it lasts 10 s).
function armedDelete(env, base) {
  const armed = state.armed && state.armed.id === env.id && Date.now() < state.armed.until;
  const b = action(armed ? "Confirm delete" : "Delete", "danger", () => {
    if (state.armed && state.armed.id === env.id && Date.now() < state.armed.until) {
      state.armed = null;
      act(env, "deleted", "DELETE", base, undefined, () => { if (state.selected === env.id) select(null); });
    } else {
      state.armed = { id: env.id, until: Date.now() + 10000 };
      render();
    }
  });
  b.dataset.action = "delete";
  return b;
}

function render() {
  const rows = $("env-rows");
  rows.replaceChildren();
  $("env-empty").hidden = state.envs.length > 0;
  const writable = state.me && state.me.role !== "observer";
  for (const env of state.envs) {
    const base = "/sandboxes/" + encodeURIComponent(env.id);
    const buttons = el("td", {});
    if (writable) {
      buttons.append(
        action("Extend", "plain", () => act(env, "extended", "POST", base + "/extend", { ttl: "24h" })),
        " ",
        action("Reset", "plain", () => act(env, "reset", "POST", base + "/reset", {})),
        " ",
        armedDelete(env, base));
    }
    const tr = el("tr", { "data-env": env.id, "data-name": env.name || "", onclick: () => select(env.id) },
      el("td", {}, env.name || "-"), el("td", {}, env.id),
      el("td", { class: "state-" + env.state, "data-testid": "state" }, env.state + (env.reason ? " (" + env.reason + ")" : "")),
      el("td", {}, env.owner), el("td", {}, env.template),
      el("td", { class: "ttl", "data-expires": env.expires_at }, countdown(env.expires_at)),
      el("td", {}, env.seed || "-"), el("td", {}, (env.feature_flags || []).join(", ") || "-"),
      buttons);
    if (env.id === state.selected) tr.classList.add("selected");
    rows.append(tr);
  }
}

function select(id) {
  const changed = state.selected !== id;
  state.selected = id;
  const env = state.envs.find((e) => e.id === id);
  if (changed) followEnvLog(env);
  $("x-env").textContent = env ? (env.name || env.id) : "(select an environment)";
  $("x-run").disabled = !env || !state.me || state.me.role === "observer";
  render();
}

setInterval(() => {
  for (const td of document.querySelectorAll("td.ttl")) td.textContent = countdown(td.dataset.expires);
}, 1000);

// ---- create ----

async function loadTemplates() {
  const data = await api("GET", "/templates");
  const sel = $("c-template");
  sel.replaceChildren();
  for (const t of data.templates) {
    state.templates[t.name] = t;
    sel.append(el("option", { value: t.name }, t.name));
  }
  showFlags();
}

function showFlags() {
  const t = state.templates[$("c-template").value];
  const box = $("c-flags");
  box.replaceChildren(el("legend", {}, "Feature flags"));
  const flags = t && t.feature_flags ? t.feature_flags.available || [] : [];
  for (const f of flags)
    box.append(el("label", {}, el("input", { type: "checkbox", value: f, "data-flag": f }), " " + f));
  if (!flags.length) box.append(el("span", { class: "muted" }, "none offered"));
}

async function create(ev) {
  ev.preventDefault();
  const body = { template: $("c-template").value };
  if ($("c-name").value) body.name = $("c-name").value;
  if ($("c-owner").value) body.owner = $("c-owner").value;
  if ($("c-ttl").value) body.ttl_hours = Number($("c-ttl").value);
  if ($("c-seed").value) body.seed_profile = $("c-seed").value;
  const flags = [...document.querySelectorAll("#c-flags input:checked")].map((i) => i.value);
  if (flags.length) body.feature_flags = flags;
  const button = ev.submitter || document.querySelector("#create-form button");
  button.disabled = true;
  say("creating...");
  try {
    const env = await api("POST", "/sandboxes", body);
    say("created " + (env.name || env.id));
    await refresh();
    select(env.id);
  } catch (e) {
    say("create: " + e.message, "error");
  } finally {
    button.disabled = false;
  }
}

// ---- exec ----

// A command line split like a shell would for simple quoting ('...', "...").
function split(line) {
  const out = [];
  let cur = null, quote = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null; else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch; cur = cur || "";
    } else if (/\s/.test(ch)) {
      if (cur !== null) { out.push(cur); cur = null; }
    } else {
      cur = (cur || "") + ch;
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

async function exec(ev) {
  ev.preventDefault();
  const argv = split($("x-cmd").value);
  if (!state.selected || !argv.length) return;
  const out = $("x-out");
  out.replaceChildren("running " + argv.join(" ") + " ...");
  try {
    const r = await api("POST", "/sandboxes/" + encodeURIComponent(state.selected) + "/exec", { argv });
    out.replaceChildren(r.stdout, el("span", { class: "err" }, r.stderr),
      "\n[" + r.status + ", exit " + r.exit_code + "]");
    for (const v of r.violations || [])
      out.append(el("span", { class: "err", "data-testid": "violation" },
        "\nSandboxViolationError: " + v.capability + " " + v.target + " (" + v.syscall + ", policy " + v.policy_id + ")"));
  } catch (e) {
    out.replaceChildren(el("span", { class: "err" }, e.message));
  }
}

// ---- the audit stream and an environment's log (Server-Sent Events read
// with fetch, so that the Authorization header goes along; resumed with
// Last-Event-ID after a reconnect) ----

function eventLine(id, type, ev) {
  const denial = type === "CapabilityDenied";
  const parts = [ev.time ? ev.time.slice(11, 19) : "", type, ev.env_id || ev.sandbox_id || ""];
  if (denial) parts.push(ev.capability + " " + ev.target, "policy " + ev.policy_id);
  else if (ev.exec_id) parts.push(ev.exec_id + (ev.command ? " " + ev.command : "") + (ev.status ? " " + ev.status : ""));
  return el("li", { class: denial ? "denial" : "", "data-type": type, "data-seq": id }, parts.join("  "));
}

function append(list, li) {
  list.append(li);
  while (list.children.length > 500) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}

function showEvent(id, type, data) {
  let ev;
  try { ev = JSON.parse(data); } catch (e) { return; }
  append($("events"), eventLine(id, type, ev));
  if (/^Environment|^Snapshot|^Exec/.test(type)) refreshSoon();
}

function refreshSoon() {
  clearTimeout(refreshSoon.t);
  refreshSoon.t = setTimeout(refresh, 200);
}

// Reads the stream at path until it ends or signal aborts; on(id, type, data)
// for each event; cursor.seq is the last id seen (sent back as Last-Event-ID).
async function sse(path, cursor, on, signal) {
  const headers = { "Accept": "text/event-stream" };
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  if (cursor.seq) headers["Last-Event-ID"] = String(cursor.seq);
  const res = await fetch(path, { headers, signal });
  if (!res.ok || !res.body) throw new Error(path + ": " + res.status);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let id = null, type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (id) cursor.seq = Number(id);
      if (data) on(id, type, data);
    }
  }
}

// Follows path for as long as signal allows, reconnecting after a pause.
async function follow(path, cursor, on, signal) {
  while (!(signal && signal.aborted)) {
    try {
      await sse(path, cursor, on, signal);
    } catch (e) {
      // fall through: reconnect after a pause (or stop, when aborted)
    }
    if (signal && signal.aborted) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function stream() {
  const cursor = { seq: 0 };
  follow("/events", cursor, showEvent, null);
}

// The selected environment's own log (GET /sandboxes/{id}/logs): its
// lifecycle, execs, secrets' names, denials; replaced on each selection.
function followEnvLog(env) {
  if (state.envLog) state.envLog.abort();
  const list = $("env-log");
  list.replaceChildren();
  $("l-env").textContent = env ? (env.name || env.id) : "(select an environment)";
  if (!env) return;
  state.envLog = new AbortController();
  follow("/sandboxes/" + encodeURIComponent(env.id) + "/logs", { seq: 0 }, (id, type, data) => {
    let ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    append(list, eventLine(id, type, ev));
  }, state.envLog.signal);
}

// ---- start ----

async function start() {
  try {
    const h = await api("GET", "/healthz");
    state.me = h.caller || null;
    $("who").textContent = state.me ? state.me.name + " (" + state.me.role + ")" : "";
    $("login").hidden = true;
    await loadTemplates();
    await refresh();
    stream();
  } catch (e) {
    say(e.message, "error");
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = $("token").value;
  $("token").value = "";
  start();
});
$("create-form").addEventListener("submit", create);
$("exec-form").addEventListener("submit", exec);
$("c-template").addEventListener("change", showFlags);
setInterval(refresh, 5000);
start();
