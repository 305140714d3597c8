/**
 * fnmatch(3) without flags, as kmod matches config names against module names and systemd-sysctl
 * matches glob keys: `*`, `?`, `[...]` with ranges and `!`/`^` negation, `\` escapes.
 *
 * Matched directly, never through a regular expression built from the pattern: patterns come from
 * files and command lines (`btf_companions.exclude=` with 30,000 `*?` pairs made `new RegExp`
 * throw). The classic two-index walk with one remembered `*`: O(pattern × name) at worst, and
 * names are module names (≤ 55 characters) or sysctl keys.
 */
export function fnmatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    if (p < pattern.length) {
      if (pattern[p] === '*') {
        starP = p++;
        starN = n;
        continue;
      }
      const next = matchOne(pattern, p, name[n]);
      if (next >= 0) {
        p = next;
        n++;
        continue;
      }
    }
    // Mismatch: let the last `*` swallow one more character, or fail.
    if (starP < 0) return false;
    p = starP + 1;
    n = ++starN;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** If the pattern element at `p` matches `ch`, the index after that element; else -1. */
function matchOne(pattern: string, p: number, ch: string): number {
  const c = pattern[p];
  if (c === '?') return p + 1;
  if (c === '\\' && p + 1 < pattern.length) return pattern[p + 1] === ch ? p + 2 : -1;
  if (c === '[') {
    // A `]` right after `[` (or `[!`) is a member; with no closing `]` the `[` is literal.
    const end = pattern.indexOf(']', p + 2);
    if (end >= 0) {
      let body = pattern.slice(p + 1, end);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      return inClass(body, ch) !== neg ? end + 1 : -1;
    }
  }
  return c === ch ? p + 1 : -1;
}

function inClass(body: string, ch: string): boolean {
  for (let k = 0; k < body.length; k++) {
    if (k + 2 < body.length && body[k + 1] === '-') {
      if (body[k] <= ch && ch <= body[k + 2]) return true;
      k += 2;
    } else if (body[k] === ch) return true;
  }
  return false;
}

export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}
