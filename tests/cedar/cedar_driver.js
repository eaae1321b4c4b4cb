// SPDX-License-Identifier: Apache-2.0
// Answers every request of cases.jsonl (gen.js) with the official Cedar
// implementation, in one process. Prints one JSON line per request:
// {"case", "req", "decision", "reasons": [sorted ids], "errors": [sorted ids]}
// or {"case", "parse_error": msg} when Cedar refuses the policy set.
// Usage: node cedar_driver.js cases.jsonl > expected.jsonl
'use strict';
const fs = require('fs');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

function entities(req) {
  const ents = [{ uid: { type: 'Component', id: req.principal }, attrs: {}, parents: [] }];
  if (req.action === 'NETWORK_CONNECT') {
    const i = req.target.lastIndexOf(':');
    ents.push({ uid: { type: 'Endpoint', id: req.target },
                attrs: { host: req.target.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: parseInt(req.target.slice(i + 1), 10) },
                parents: [] });
  } else {
    ents.push({ uid: { type: 'File', id: req.target }, attrs: { path: req.target }, parents: [] });
  }
  return ents;
}

function resourceUid(req) {
  return { type: req.action === 'NETWORK_CONNECT' ? 'Endpoint' : 'File', id: req.target };
}

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.length);
const out = [];
for (const line of lines) {
  const c = JSON.parse(line);
  c.requests.forEach((req, i) => {
    const ans = cedar.isAuthorized({
      principal: { type: 'Component', id: req.principal },
      action: { type: 'Action', id: req.action },
      resource: resourceUid(req),
      context: {},
      policies: c.policies,
      entities: entities(req),
    });
    if (ans.type !== 'success') {
      out.push(JSON.stringify({ case: c.id, req: i, parse_error: ans.errors.map((e) => e.message).join('; ') }));
      return;
    }
    const d = ans.response.diagnostics;
    out.push(JSON.stringify({
      case: c.id, req: i,
      decision: ans.response.decision === 'allow' ? 'Allow' : 'Deny',
      reasons: [...d.reason].sort(),
      errors: d.errors.map((e) => e.policyId).sort(),
    }));
  });
}
process.stdout.write(out.join('\n') + '\n');
