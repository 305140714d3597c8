/**
 * VMCOREINFO: the text the kernel leaves for dump tools (kernel/crash_core.c, 6.1), one
 * `KEY=value` per line:
 *   OSRELEASE=6.1.0-56-amd64        BUILD-ID=<hex>         PAGESIZE=4096 (decimal)
 *   SYMBOL(name)=ffffffff82a1b000 (hex, no 0x)             OFFSET(type.member)=24 (decimal)
 *   SIZE(type)=1234 (decimal)       LENGTH(name)=4 (decimal)
 *   NUMBER(name)=-27262976 (signed decimal; arm64 prints a few, e.g. kimage_voffset, as 0x hex)
 *   KERNELOFFSET=2c000000 (hex, no 0x: the KASLR slide)   CRASHTIME=1700000000 (decimal)
 * Unknown lines are kept in `other`; malformed values are kept there too rather than thrown on,
 * because a dump with one odd line is still worth reading.
 */
import type { VmcoreInfo } from './contract.js';

const KEYED = /^(SYMBOL|OFFSET|SIZE|LENGTH|NUMBER)\((.+)\)$/;

export function parseVmcoreInfo(raw: string): VmcoreInfo {
  const info: VmcoreInfo = {
    raw,
    symbols: new Map(),
    offsets: new Map(),
    sizes: new Map(),
    lengths: new Map(),
    numbers: new Map(),
    other: new Map(),
  };
  for (const line of raw.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (!parseLine(info, key, value)) info.other.set(key, value);
  }
  return info;
}

/** Store one line in its typed slot; false when it belongs in `other`. */
function parseLine(info: VmcoreInfo, key: string, value: string): boolean {
  const m = KEYED.exec(key);
  if (m) {
    const [, kind, name] = m;
    switch (kind) {
      case 'SYMBOL':
        return setIf(info.symbols, name, parseHex(value));
      case 'OFFSET':
        return setIf(info.offsets, name, parseDecimalNumber(value));
      case 'SIZE':
        return setIf(info.sizes, name, parseDecimalNumber(value));
      case 'LENGTH':
        return setIf(info.lengths, name, parseDecimalNumber(value));
      case 'NUMBER': {
        const n = /^-?0x/i.test(value) ? parseSignedHex(value) : parseSignedDecimal(value);
        if (n !== undefined && name === 'phys_base') info.physBase = n;
        return setIf(info.numbers, name, n);
      }
    }
  }
  switch (key) {
    case 'OSRELEASE':
      info.osRelease = value;
      return true;
    case 'BUILD-ID':
      info.buildId = value;
      return true;
    case 'PAGESIZE': {
      const n = parseDecimalNumber(value);
      if (n === undefined) return false;
      info.pageSize = n;
      return true;
    }
    case 'KERNELOFFSET': {
      const n = parseHex(value);
      if (n === undefined) return false;
      info.kernelOffset = n;
      return true;
    }
  }
  return false;
}

function setIf<V>(map: Map<string, V>, key: string, value: V | undefined): boolean {
  if (value === undefined) return false;
  map.set(key, value);
  return true;
}

function parseHex(s: string): bigint | undefined {
  const t = s.replace(/^0x/i, '');
  return /^[0-9a-f]{1,16}$/i.test(t) ? BigInt(`0x${t}`) : undefined;
}

function parseSignedHex(s: string): bigint | undefined {
  const neg = s.startsWith('-');
  const v = parseHex(neg ? s.slice(1) : s);
  return v === undefined ? undefined : neg ? -v : v;
}

function parseSignedDecimal(s: string): bigint | undefined {
  return /^-?[0-9]{1,20}$/.test(s) ? BigInt(s) : undefined;
}

function parseDecimalNumber(s: string): number | undefined {
  if (!/^[0-9]{1,15}$/.test(s)) return undefined;
  return Number(s);
}
