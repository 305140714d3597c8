#!/usr/bin/env node
// Minimal QMP client (no dependencies): node qmp.mjs SOCKET 'JSON-COMMAND' ['JSON-COMMAND' ...]
// Negotiates capabilities, runs each command in order, prints each "return" as one JSON line and
// exits 1 on the first "error" (printed to stderr). dump-guest-memory runs synchronously
// (detach=false), so a command returns only when the file is complete.
import net from 'node:net';

const [socketPath, ...commands] = process.argv.slice(2);
if (!socketPath || commands.length === 0) {
  console.error('usage: qmp.mjs SOCKET JSON-COMMAND...');
  process.exit(2);
}

const sock = net.createConnection(socketPath);
let buf = '';
const waiters = [];
const pending = [];

sock.setEncoding('utf8');
sock.on('data', (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (!line) continue;
    const msg = JSON.parse(line);
    if (msg.event) continue; // asynchronous events (STOP, DUMP_COMPLETED, ...) are not replies
    if (waiters.length) waiters.shift()(msg);
    else pending.push(msg);
  }
});
let quitting = false;
sock.on('error', (e) => {
  if (quitting) process.exit(0); // QEMU may drop the connection while it quits
  console.error(`qmp: ${socketPath}: ${e.message}`);
  process.exit(1);
});
sock.on('close', () => {
  if (quitting) process.exit(0);
  if (waiters.length) {
    console.error('qmp: connection closed by QEMU');
    process.exit(1);
  }
});

function next() {
  return new Promise((resolve) => {
    if (pending.length) resolve(pending.shift());
    else waiters.push(resolve);
  });
}

async function run(cmd) {
  sock.write(JSON.stringify(cmd) + '\n');
  const reply = await next();
  if (reply.error) {
    console.error(`qmp: ${cmd.execute}: ${reply.error.class}: ${reply.error.desc}`);
    process.exit(1);
  }
  return reply.return;
}

const greeting = await next();
if (!greeting.QMP) {
  console.error('qmp: no greeting');
  process.exit(1);
}
await run({ execute: 'qmp_capabilities' });
for (const text of commands) {
  const cmd = JSON.parse(text);
  if (cmd.execute === 'quit') quitting = true;
  const result = await run(cmd);
  console.log(JSON.stringify(result));
}
sock.end();
