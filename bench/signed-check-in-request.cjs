'use strict';
// autocannon's setupRequest for signed agent check-ins (bench/signed-check-ins.ts): every
// request comes from the next enrolled agent, from that agent's own address, signed afresh
// as the agents sign (src/admin/agent-auth.ts, deploy/agent/lgwan-agent.sh): HMAC-SHA256 keyed
// with the secret over "lgwan-checkin-v1\n<id>\n<unix seconds>\n<nonce>\n<sha256 hex of the
// body>", a new random nonce each time. CommonJS because autocannon's worker threads require()
// it by path; signed-check-ins.ts checks its signature against checkInSignature before a run.
const { createHash, createHmac, randomBytes } = require('node:crypto');
const { readFileSync } = require('node:fs');

/** @type {Map<string, { agentId: string, secret: string, address: string, body: string, bodySha256: string }[]>} */
const loaded = new Map();
let next = -1;

function agentsOf(file) {
  let agents = loaded.get(file);
  if (!agents) {
    agents = JSON.parse(readFileSync(file, 'utf8')).map((agent) => ({ ...agent, bodySha256: createHash('sha256').update(agent.body).digest('hex') }));
    loaded.set(file, agents);
    // Each worker thread starts somewhere else in the list.
    next = Math.floor(Math.random() * agents.length);
  }
  return agents;
}

/** @param {{ agentsFile: string, now?: () => number, nonce?: () => string }} context */
module.exports = function signCheckIn(request, context) {
  const agents = agentsOf(context.agentsFile);
  next = (next + 1) % agents.length;
  const agent = agents[next];
  const timestamp = String(Math.floor((context.now ? context.now() : Date.now()) / 1000));
  const nonce = context.nonce ? context.nonce() : randomBytes(16).toString('hex');
  const signature = createHmac('sha256', agent.secret).update(`lgwan-checkin-v1\n${agent.agentId}\n${timestamp}\n${nonce}\n${agent.bodySha256}`).digest('hex');
  request.method = 'POST';
  request.body = agent.body;
  request.headers = {
    ...request.headers,
    'content-type': 'application/json',
    'x-forwarded-for': agent.address,
    'x-lgwan-agent': agent.agentId,
    'x-lgwan-timestamp': timestamp,
    'x-lgwan-nonce': nonce,
    'x-lgwan-signature': signature,
  };
  return request;
};
