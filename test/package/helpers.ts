/**
 * Helpers of the package tests: build the .deb (tools/package/build.mjs, from the apps/kbtf/dist
 * that `npm run build` made) into a temporary directory, extract it, and fetch the Debian packages
 * the tests run against (trixie's initramfs-tools and kdump-tools, bookworm's Node.js 18) into
 * build/test-debs with apt: a private apt configuration for trixie (the host's sources and state
 * are not touched), the host's own apt for bookworm. Nothing is installed on the host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../lab.js';

export const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const debCache = join(repoRoot, 'build', 'test-debs');

/** A fresh build of the package: { deb, dir }. */
export function buildDeb(): { deb: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-deb-'));
  const out = execFileSync(process.execPath, [join(repoRoot, 'tools/package/build.mjs'), '--output', dir], { cwd: dir, encoding: 'utf8' }).trim();
  const deb = join(dir, `kbtf_${version}_all.deb`);
  if (!existsSync(deb)) throw new Error(`package build wrote no ${deb} (${out})`);
  return { deb, dir };
}

/** dpkg-deb -x DEB into a new temporary directory (under /tmp: no node_modules above it). */
export function extract(deb: string, prefix = 'kbtf-x-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('dpkg-deb', ['-x', deb, dir]);
  return dir;
}

/** No node_modules in DIR or any directory above it. */
export function noNodeModulesAbove(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return false;
    if (d === dirname(d)) return true;
  }
}

function fetchDebs(key: string, fetch: (into: string) => void): string {
  const dir = join(debCache, key);
  if (existsSync(join(dir, '.done'))) return dir;
  rmSync(`${dir}.tmp`, { recursive: true, force: true });
  mkdirSync(`${dir}.tmp`, { recursive: true });
  fetch(`${dir}.tmp`);
  writeFileSync(join(`${dir}.tmp`, '.done'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(`${dir}.tmp`, dir);
  return dir;
}

/** trixie's .debs of PACKAGES, downloaded once with a private apt configuration. */
export function trixieDebs(key: string, packages: string[]): string {
  return fetchDebs(`trixie-${key}`, (into) => {
    const a = join(into, '.apt');
    for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(a, d), { recursive: true });
    writeFileSync(join(a, 'sources.list'), 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n');
    const o = ['-o', `Dir::Etc::SourceList=${a}/sources.list`, '-o', 'Dir::Etc::SourceParts=/dev/null', '-o', `Dir::State::Lists=${a}/lists`, '-o', `Dir::Cache=${a}/cache`, '-o', 'Dir::State::status=/dev/null', '-o', 'APT::Sandbox::User=root'];
    execFileSync('apt-get', [...o, '-qq', 'update'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('apt-get', [...o, '-qq', 'download', ...packages], { cwd: into, stdio: ['ignore', 'ignore', 'pipe'] });
    rmSync(a, { recursive: true, force: true });
  });
}

/** Extract every .deb of DIR into one tree. */
export function extractAll(dir: string): string {
  const root = mkdtempSync(join(tmpdir(), 'kbtf-debs-'));
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg-deb', ['-x', join(dir, f), root]);
  return root;
}

/**
 * Bookworm's Node.js 18 (nodejs, libnode108 and what they need beyond this host) extracted into a
 * tree; run it with runUnderTree (its externalized builtins live in /usr/share/nodejs).
 */
export function bookwormNode18(): string {
  const dir = fetchDebs('bookworm-node18', (into) => {
    const madison = execFileSync('apt-cache', ['madison', 'nodejs'], { encoding: 'utf8' });
    const v = /\|\s*(18\.[^\s|]+)\s*\|/.exec(madison)?.[1];
    if (!v) throw new Error(`no nodejs 18 in the host's apt sources (bookworm): ${madison}`);
    execFileSync('apt-get', ['-qq', '-o', 'APT::Sandbox::User=root', 'download', `nodejs=${v}`, 'libnode108', 'libc-ares2', 'node-acorn', 'node-cjs-module-lexer', 'node-undici'], { cwd: into, stdio: ['ignore', 'ignore', 'pipe'] });
  });
  return extractAll(dir);
}

/**
 * Run ARGV with TREE/usr/share laid over /usr/share (a private mount namespace: overlayfs, root
 * only) and TREE's libraries first: Debian's node finds its builtins under /usr/share/nodejs, the
 * initramfs-tools hook its hook-functions under /usr/share/initramfs-tools, as installed.
 */
export function underTree(tree: string, argv: string[], env: NodeJS.ProcessEnv = {}, libs = false): { code: number; stdout: string; stderr: string } {
  const script = `mount -t overlay overlay -o lowerdir="$0/usr/share:/usr/share" /usr/share && exec "$@"`;
  return run('unshare', ['-m', 'sh', '-c', script, tree, ...argv], { ...process.env, ...(libs ? { LD_LIBRARY_PATH: join(tree, 'usr/lib/x86_64-linux-gnu') } : {}), ...env });
}

/** Run a command; its exit code and output. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}
