// SPDX-License-Identifier: Apache-2.0
// The cedar-wasm side of bench_policy.sh: for each policies-N.json and
// requests-N.txt written by `bench_policy --emit DIR`, times the policy set's
// parse (preparsePolicySet, median of 7) and statefulIsAuthorized on the
// pre-parsed set for every request (median and p99 of per-call times).
// Usage: node bench_policy_cedar.js CEDAR_WASM_DIR DIR N...
'use strict';
const fs = require('fs');
const path = require('path');
const cedar = require(path.join(process.argv[2], 'nodejs'));
const dir = process.argv[3];
const P1 = '3f2a9c1e-0000-4000-8000-000000000001';

function entities(kind, target) {
  const ents = [{ uid: { type: 'Component', id: P1 }, attrs: {}, parents: [] }];
  if (kind === 'NETWORK_CONNECT') {
    const i = target.lastIndexOf(':');
    ents.push({ uid: { type: 'Endpoint', id: target },
                attrs: { host: target.slice(0, i), port: parseInt(target.slice(i + 1), 10) }, parents: [] });
  } else {
    ents.push({ uid: { type: 'File', id: target }, attrs: { path: target }, parents: [] });
  }
  return ents;
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
console.log(`# cedar-wasm ${cedar.getCedarVersion()}: policies parse_ms stateful_med_ns p99_ns allowed`);
for (const n of process.argv.slice(4)) {
  const policies = JSON.parse(fs.readFileSync(path.join(dir, `policies-${n}.json`), 'utf8'));
  const parse = [];
  for (let k = 0; k < 7; k++) {
    const t0 = process.hrtime.bigint();
    const r = cedar.preparsePolicySet(`set-${n}`, policies);
    parse.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.type !== 'success') throw new Error(JSON.stringify(r.errors));
  }
  parse.sort((a, b) => a - b);
  const calls = fs.readFileSync(path.join(dir, `requests-${n}.txt`), 'utf8').split('\n').filter((l) => l)
    .map((l) => {
      const [kind, target] = l.split(' ');
      return {
        principal: { type: 'Component', id: P1 },
        action: { type: 'Action', id: kind },
        resource: { type: kind === 'NETWORK_CONNECT' ? 'Endpoint' : 'File', id: target },
        context: {},
        preparsedPolicySetId: `set-${n}`,
        entities: entities(kind, target),
      };
    });
  const t = [];
  let allowed = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (const call of calls) {
      const t0 = process.hrtime.bigint();
      const r = cedar.statefulIsAuthorized(call);
      const dt = Number(process.hrtime.bigint() - t0);
      if (r.type !== 'success') throw new Error(JSON.stringify(r.errors));
      if (pass) { t.push(dt); allowed += r.response.decision === 'allow'; }
    }
  }
  t.sort((a, b) => a - b);
  console.log(`${n} ${parse[3].toFixed(3)} ${pct(t, 0.5)} ${pct(t, 0.99)} ${allowed}`);
}
