/**
 * fnmatch(3) without flags, as kmod matches config names against module names and systemd-sysctl
 * matches glob keys: `*`, `?`, `[...]` with ranges and `!`/`^` negation, `\` escapes.
 */
export function fnmatch(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}

const cache = new Map<string, RegExp>();

export function globToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re) return re;
  let src = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '\\' && i + 1 < pattern.length) src += escape(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        src += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      src += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else src += escape(c);
  }
  re = new RegExp(src + '$', 's');
  cache.set(pattern, re);
  return re;
}

export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
