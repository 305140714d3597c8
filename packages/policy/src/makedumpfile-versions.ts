/**
 * Which kernels a makedumpfile release supports. makedumpfile compiles in the newest kernel it was
 * tested with (makedumpfile.h `#define LATEST_VERSION KERNEL_VERSION(x, y, z)`); on a dump of a
 * newer kernel, get_kernel_version() prints "The kernel version is not supported." and "The
 * makedumpfile operation may be incomplete." and goes on with its knowledge of older kernels' page
 * flags and structures, so `-d` levels that exclude by page type (cache, user, free) may drop
 * kernel pages. The comparison is KERNEL_VERSION(maj, min, rel) of the release string read with
 * strtol: `6.12.117+deb13-amd64` is 6.12.117, newer than 6.11.4.
 *
 * The table: LATEST_VERSION at each release tag of github.com/makedumpfile/makedumpfile
 * (Released-1-5-0 … Released-1-6-7, then 1.6.8 … 1.7.9; read from makedumpfile.h at each tag).
 * A distribution may patch LATEST_VERSION; Debian 13's 1.7.6-1 does not (it prints the message on
 * 6.12.117, and Debian 12's 1.7.2 on 6.1 and 6.12: the lab's mkd.log files).
 */
export const MAKEDUMPFILE_LATEST_VERSION: readonly (readonly [release: string, latestKernel: string])[] = [
  ['1.5.0', '3.4.8'],
  ['1.5.1', '3.6.7'],
  ['1.5.2', '3.6.7'],
  ['1.5.3', '3.6.7'],
  ['1.5.4', '3.9.6'],
  ['1.5.5', '3.11.3'],
  ['1.5.6', '3.13.6'],
  ['1.5.7', '3.16.1'],
  ['1.5.8', '3.19.0'],
  ['1.5.9', '4.1.0'],
  ['1.6.0', '4.5.3'],
  ['1.6.1', '4.8.1'],
  ['1.6.2', '4.11.7'],
  ['1.6.3', '4.14.8'],
  ['1.6.4', '4.17.0'],
  ['1.6.5', '4.19.4'],
  ['1.6.6', '5.1.9'],
  ['1.6.7', '5.4.8'],
  ['1.6.8', '5.9.4'],
  ['1.6.9', '5.12.1'],
  ['1.7.0', '5.15.0'],
  ['1.7.1', '5.17.1'],
  ['1.7.2', '6.0.1'],
  ['1.7.3', '6.3.0'],
  ['1.7.4', '6.6.0'],
  ['1.7.5', '6.8.4'],
  ['1.7.6', '6.11.4'],
  ['1.7.7', '6.14.2'],
  ['1.7.8', '6.17.4'],
  ['1.7.9', '7.0.0'],
];

export interface MakedumpfileSupport {
  /** The table's release the version is taken as (itself, or the release it follows). */
  release?: string;
  /** Its LATEST_VERSION. */
  latestKernel?: string;
  /** The kernel is at most LATEST_VERSION; undefined when the version is newer than the table and the kernel newer than the table's last entry. */
  supported?: boolean;
}

/** `a.b.c` (more components ignored, missing ones 0) as numbers. */
function triple(v: string): [number, number, number] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : [0, 0, 0];
}

function compare(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * A kernel release as makedumpfile's get_kernel_version() reads it: three strtol calls, each
 * starting one character after the previous number (`7.0-rc1` is 7.0.0).
 */
export function kernelVersionOf(release: string): [number, number, number] {
  const m = /^(\d+)\D?(\d+)?\D?(\d+)?/.exec(release);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : [0, 0, 0];
}

/** Does makedumpfile `version` (upstream, `1.7.6`) support `kernel` (a release string)? */
export function makedumpfileLatest(version: string, kernel: string): MakedumpfileSupport {
  const v = triple(version);
  const k = kernelVersionOf(kernel);
  let entry: readonly [string, string] | undefined;
  for (const e of MAKEDUMPFILE_LATEST_VERSION) if (compare(triple(e[0]), v) <= 0) entry = e;
  const last = MAKEDUMPFILE_LATEST_VERSION[MAKEDUMPFILE_LATEST_VERSION.length - 1];
  if (!entry) return { supported: false };
  // A release newer than the table (1.8.0, or 1.7.10) supports at least what the last one did.
  const beyond = compare(v, triple(last[0])) > 0;
  const supported = compare(k, triple(entry[1])) <= 0;
  if (beyond && !supported) return { release: entry[0], latestKernel: entry[1], supported: undefined };
  return { release: entry[0], latestKernel: entry[1], supported };
}

/** The first release of the table whose LATEST_VERSION covers `kernel`; undefined when none does. */
export function firstSupporting(kernel: string): readonly [string, string] | undefined {
  const k = kernelVersionOf(kernel);
  return MAKEDUMPFILE_LATEST_VERSION.find((e) => compare(k, triple(e[1])) <= 0);
}
