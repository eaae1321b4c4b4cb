// SPDX-License-Identifier: Apache-2.0
// Generates random policy sets inside omnibase's Cedar subset
// (docs/policy.md) and requests against them, from a fixed seed.
// Usage: node gen.js SEED NSETS > cases.jsonl
// Each line: {"id", "policies": {"staticPolicies": {...}}, "requests":
// [{"principal", "action", "target"}]}. Half the sets use only shapes the
// compiler handles (so that the compiled capability set can be compared too),
// half are wild (type errors, missing attributes, every operator).
'use strict';

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = parseInt(process.argv[2] || '1', 10);
const nsets = parseInt(process.argv[3] || '1000', 10);
const R = rng(seed);
const pick = (a) => a[Math.floor(R() * a.length)];
const chance = (p) => R() < p;
const int = (lo, hi) => lo + Math.floor(R() * (hi - lo + 1));

const PRINCIPALS = [
  '3f2a9c1e-0000-4000-8000-000000000001',
  '3f2a9c1e-0000-4000-8000-000000000002',
  '0b9d6c52-7a31-4e0f-9d1b-5c2e8f4a6b7d',
];
const ACTIONS = ['FILE_READ', 'FILE_WRITE', 'FILE_EXEC', 'NETWORK_CONNECT'];
const PATHS = [
  '/', '/data', '/data/x.txt', '/data/secret/key', '/data/secret', '/data/sub/dir/f.py',
  '/tmp/a', '/etc/passwd', '/usr/bin/python3', '/home/u/a*b', '/data/x.txtx', '/datax',
  '/data/ünï', '/usr/lib/x.so',
];
const HOSTS = ['10.0.0.5', 'example.com', 'api.example.com', '127.0.0.1', 'evil.org', '[::1]', '[2001:db8::5]'];
const bare = (h) => h.replace(/^\[(.*)\]$/, '$1'); // the host attribute of an IPv6 target
const PORTS = [22, 80, 443, 8080, 65535, 1];
const FRAGMENTS = [
  '/data', '/data/', '/secret', 'secret', '.txt', '/usr', '/tmp/', 'x', '/', '*', 'a',
  '.com', 'example', '10.0.0.', 'api.', '.py', 'ü',
];

const ent = (type, id) => ({ type, id });
const val = (v) => ({ Value: v });
const eVal = (type, id) => val({ __entity: ent(type, id) });
const vr = (v) => ({ Var: v });
const attr = (left, a) => ({ '.': { left, attr: a } });
const bin = (op, left, right) => ({ [op]: { left, right } });

function pattern() {
  const n = int(0, 4), out = [];
  for (let i = 0; i < n; i++)
    out.push(chance(0.35) ? 'Wildcard' : { Literal: pick(FRAGMENTS) });
  return out;
}

// A pattern that a capability target can express: an absolute path prefix,
// optionally followed by a wildcard and a suffix.
function pathPattern() {
  const p = pick(PATHS.filter((x) => x !== '/'));
  const r = R();
  if (r < 0.4) return [{ Literal: p }, 'Wildcard'];
  if (r < 0.6) return [{ Literal: p + '/' }, 'Wildcard'];
  if (r < 0.8) return [{ Literal: '/data/' }, 'Wildcard', { Literal: pick(['.txt', '/key', 'x']) }];
  return [{ Literal: p }];
}

function scopePrincipal() {
  const r = R();
  if (r < 0.4) return { op: 'All' };
  if (r < 0.7) return { op: '==', entity: ent('Component', pick(PRINCIPALS)) };
  if (r < 0.8) return { op: 'in', entity: ent('Component', pick(PRINCIPALS)) };
  if (r < 0.9) return { op: 'is', entity_type: 'Component' };
  if (r < 0.95)
    return { op: 'is', entity_type: 'Component', in: { entity: ent('Component', pick(PRINCIPALS)) } };
  return { op: '==', entity: ent('User', pick(PRINCIPALS)) };
}

function scopeAction(tame) {
  const r = R();
  if (r < 0.3 && !tame) return { op: 'All' };
  if (r < 0.7) return { op: '==', entity: ent('Action', pick(ACTIONS)) };
  if (r < 0.85) return { op: 'in', entities: [ent('Action', pick(ACTIONS)), ent('Action', pick(ACTIONS))] };
  return { op: 'in', entity: ent('Action', pick(ACTIONS)) };
}

function scopeResource(tame) {
  const r = R();
  if (r < 0.5) return { op: 'All' };
  if (r < 0.65) return { op: '==', entity: ent('File', pick(PATHS)) };
  if (r < 0.72) return { op: '==', entity: ent('Endpoint', pick(HOSTS) + ':' + pick(PORTS)) };
  if (r < 0.82) return { op: 'is', entity_type: pick(['File', 'Endpoint']) };
  if (r < 0.9 && !tame) return { op: 'in', entity: ent('File', pick(PATHS)) };
  if (!tame) return { op: 'is', entity_type: 'File', in: { entity: ent('File', pick(PATHS)) } };
  return { op: 'All' };
}

function value(depth) {
  const r = R();
  if (r < 0.2) return pick(PATHS);
  if (r < 0.3) return bare(pick(HOSTS));
  if (r < 0.45) return pick(PORTS);
  if (r < 0.55) return chance(0.5);
  if (r < 0.7) return { __entity: ent(pick(['File', 'Component', 'Action', 'Endpoint']),
                                   pick([...PATHS.slice(0, 3), ...PRINCIPALS, ...ACTIONS])) };
  if (depth > 0) {
    const n = int(0, 3), out = [];
    for (let i = 0; i < n; i++) out.push(value(depth - 1));
    return out;
  }
  return int(-5, 70000);
}

function anyExpr(depth) {
  const r = R();
  if (depth <= 0 || r < 0.3) {
    const q = R();
    if (q < 0.3) return val(value(1));
    if (q < 0.55) return vr(pick(['principal', 'action', 'resource', 'context']));
    if (q < 0.85) return attr(vr(pick(['resource', 'resource', 'principal', 'context'])),
                               pick(['path', 'host', 'port', 'owner']));
    return attr(eVal('File', pick(PATHS)), 'path');
  }
  if (r < 0.45) return { Set: [anyExpr(depth - 1), anyExpr(depth - 1)].slice(0, int(0, 2)) };
  if (r < 0.55) return attr(anyExpr(depth - 1), pick(['path', 'port']));
  return boolExpr(depth);
}

function boolExpr(depth) {
  const r = R();
  if (depth <= 0) {
    const q = R();
    if (q < 0.2) return val(chance(0.5));
    if (q < 0.5) return { has: { left: vr(pick(['resource', 'principal', 'context'])),
                                 attr: pick(['path', 'host', 'port', 'x']) } };
    if (q < 0.8) return { like: { left: attr(vr('resource'), pick(['path', 'host'])), pattern: pattern() } };
    return bin(pick(['<', '<=', '>', '>=']), attr(vr('resource'), 'port'), val(pick(PORTS)));
  }
  const ops = ['&&', '||', '!', '==', '!=', '<', '<=', '>', '>=', 'in', 'contains',
    'has', 'like', 'is', 'leaf'];
  const op = pick(ops);
  switch (op) {
    case '&&': case '||': return bin(op, boolExpr(depth - 1), boolExpr(depth - 1));
    case '!': return { '!': { arg: boolExpr(depth - 1) } };
    case '==': case '!=': return bin(op, anyExpr(depth - 1), anyExpr(depth - 1));
    case '<': case '<=': case '>': case '>=':
      return bin(op, chance(0.7) ? attr(vr('resource'), 'port') : anyExpr(depth - 1),
                 chance(0.8) ? val(pick(PORTS)) : anyExpr(depth - 1));
    case 'in': return bin('in', chance(0.7) ? vr(pick(['principal', 'resource', 'action'])) : anyExpr(depth - 1),
                          chance(0.5) ? eVal(pick(['File', 'Component', 'Action']), pick([...PATHS, ...PRINCIPALS, ...ACTIONS]))
                                      : anyExpr(depth - 1));
    case 'contains': return bin('contains', anyExpr(depth - 1), anyExpr(depth - 1));
    case 'has': return { has: { left: anyExpr(depth - 1), attr: pick(['path', 'host', 'port']) } };
    case 'like': return { like: { left: anyExpr(depth - 1), pattern: pattern() } };
    case 'is': return { is: { left: anyExpr(depth - 1), entity_type: pick(['File', 'Endpoint', 'Component', 'Action']) } };
    default: return boolExpr(0);
  }
}

// Conditions of the shapes the compiler turns into patterns and ranges.
function tameAtom(network) {
  if (!network) {
    const r = R();
    if (r < 0.6) return { like: { left: attr(vr('resource'), 'path'), pattern: pathPattern() } };
    if (r < 0.8) return bin('==', attr(vr('resource'), 'path'), val(pick(PATHS)));
    if (r < 0.9) return bin('==', vr('resource'), eVal('File', pick(PATHS)));
    return bin('==', vr('principal'), eVal('Component', pick(PRINCIPALS)));
  }
  const r = R();
  if (r < 0.35) return bin('==', attr(vr('resource'), 'host'), val(bare(pick(HOSTS))));
  if (r < 0.5) return { like: { left: attr(vr('resource'), 'host'),
                                pattern: ['Wildcard', { Literal: pick(['.example.com', '.org']) }] } };
  if (r < 0.85) return bin(pick(['<', '<=', '>', '>=', '==']), attr(vr('resource'), 'port'), val(pick(PORTS)));
  return bin('==', vr('resource'), eVal('Endpoint', pick(HOSTS) + ':' + pick(PORTS)));
}

function tameCondition(network) {
  const r = R();
  if (r < 0.5) return tameAtom(network);
  if (r < 0.75) return bin('||', tameAtom(network), tameAtom(network));
  if (network) return bin('&&', tameAtom(network), tameAtom(network));
  return bin('&&', tameAtom(network), { has: { left: vr('resource'), attr: 'path' } });
}

function policy(tame) {
  const p = {
    effect: chance(tame ? 0.6 : 0.5) ? 'permit' : 'forbid',
    principal: scopePrincipal(),
    action: scopeAction(tame),
    resource: tame ? { op: 'All' } : scopeResource(false),
    conditions: [],
  };
  if (tame) {
    const acts = p.action.op === 'in' && p.action.entities ? p.action.entities.map((e) => e.id)
      : [p.action.entity.id];
    const net = acts.includes('NETWORK_CONNECT');
    if (net && acts.some((a) => a !== 'NETWORK_CONNECT')) p.action = { op: '==', entity: ent('Action', 'NETWORK_CONNECT') };
    if (chance(0.8)) p.conditions.push({ kind: 'when', body: tameCondition(net) });
    if (chance(0.15)) p.resource = scopeResource(true);
  } else {
    const n = int(0, 2);
    for (let i = 0; i < n; i++)
      p.conditions.push({ kind: chance(0.7) ? 'when' : 'unless', body: boolExpr(int(0, 3)) });
  }
  return p;
}

function request() {
  const action = pick(ACTIONS);
  const target = action === 'NETWORK_CONNECT' ? pick(HOSTS) + ':' + pick(PORTS) : pick(PATHS);
  return { principal: pick(PRINCIPALS), action, target };
}

const out = [];
for (let k = 0; k < nsets; k++) {
  const tame = k % 2 === 0;
  const n = int(1, 4), sp = {};
  for (let i = 0; i < n; i++) sp[pick(['p', 'policy-', 'rule_']) + i] = policy(tame);
  const requests = [];
  for (let i = 0; i < 6; i++) requests.push(request());
  out.push(JSON.stringify({ id: k, tame, policies: { staticPolicies: sp }, requests }));
}
process.stdout.write(out.join('\n') + '\n');
