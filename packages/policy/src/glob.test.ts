import { describe, expect, it } from 'vitest';
import { fnmatch } from './glob.js';

/** The regular-expression translation this matcher replaced: the reference for ordinary patterns. */
function viaRegExp(pattern: string, name: string): boolean {
  let src = '^';
  const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '\\' && i + 1 < pattern.length) src += esc(pattern[++i]);
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
    } else src += esc(c);
  }
  return new RegExp(src + '$', 's').test(name);
}

describe('fnmatch', () => {
  it('matches kmod and sysctl patterns', () => {
    expect(fnmatch('nf_*', 'nf_tables')).toBe(true);
    expect(fnmatch('nf_*', 'nfnetlink')).toBe(false);
    expect(fnmatch('crc32c?intel', 'crc32c_intel')).toBe(true);
    expect(fnmatch('pci:v00008086d*sv*sd*bc02sc00i*', 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00')).toBe(true);
    expect(fnmatch('[a-c]x', 'bx')).toBe(true);
    expect(fnmatch('[!a-c]x', 'bx')).toBe(false);
    expect(fnmatch('\\*', '*')).toBe(true);
    expect(fnmatch('\\*', 'a')).toBe(false);
    expect(fnmatch('[x', '[x')).toBe(true);
    expect(fnmatch('net.ipv4.conf.*.rp_filter', 'net.ipv4.conf.eth0.rp_filter')).toBe(true);
    expect(fnmatch('', '')).toBe(true);
    expect(fnmatch('*', '')).toBe(true);
  });

  it('agrees with the regular-expression translation on 20,000 random patterns', () => {
    let seed = 99;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const alphabet = ['a', 'b', 'c', '_', '-', '*', '?', '[', ']', '!', '\\'];
    for (let k = 0; k < 20_000; k++) {
      const pattern = Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join('');
      const name = Array.from({ length: rand(8) }, () => alphabet[rand(5)]).join('');
      expect(fnmatch(pattern, name), `${pattern} ~ ${name}`).toBe(viaRegExp(pattern, name));
    }
  });

  it('30,000 "*?" pairs: no regular expression, no error, bounded work', () => {
    const pattern = '*?'.repeat(30_000);
    expect(fnmatch(pattern, 'ext4')).toBe(false);
    expect(fnmatch(pattern.slice(0, 8), 'ext4')).toBe(true);
  });
});
