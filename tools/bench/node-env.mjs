// Shared by the benchmarks that time kbtf as a whole process (and run it as a shell does: launch).
//
// NODE_EXTRA_CA_CERTS makes Node 20 read and parse a CA bundle before it runs any JavaScript: on
// the development VM, where it is set for every shell, `node -e 0` takes ~61 ms with it and ~23 ms
// without. kbtf opens no TLS connection and neither a crash kernel's nor a build host's environment
// needs the variable, so the benches run their commands without it and say so.

import { readFileSync } from 'node:fs';

/** The CA bundle the environment names, if any. */
export const extraCerts = process.env.NODE_EXTRA_CA_CERTS;

/** This environment without NODE_EXTRA_CA_CERTS. */
export const cleanEnv = { ...process.env };
delete cleanEnv.NODE_EXTRA_CA_CERTS;

/** A line for the bench's header when the variable was dropped, else undefined. */
export function envNote(what) {
  return extraCerts ? `NODE_EXTRA_CA_CERTS is set (${extraCerts}): ${what} without it (Node parses the bundle at start-up)` : undefined;
}

/**
 * How a user's shell runs the launcher `bin` (apps/kbtf/bin/kbtf.js or a reference build's):
 * this Node with the node flags of its `#!/usr/bin/env -S node FLAGS` line, then `bin`. The benches
 * time kbtf as it is run, not as `node bin` (which skips those flags), and with the same Node
 * whatever PATH says.
 */
export function launch(bin) {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!m) throw new Error(`${bin}: not a node launcher: ${first}`);
  return [process.execPath, ...m[1].split(' ').filter(Boolean), bin];
}
