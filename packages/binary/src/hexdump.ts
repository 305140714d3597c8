/**
 * The classic hex dump (`xxd`/`hexdump -C` layout with a 64-bit address column): 16 bytes a line
 * as two groups of eight, then the printable ASCII between bars (`.` for the rest).
 */

const BYTES_PER_LINE = 16;

/** `ADDRESS  xx xx … xx  xx … xx  |ascii|`, 16 bytes a line, the address as 16 hex digits. */
export function hexDump(address: bigint, bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += BYTES_PER_LINE) {
    const row = bytes.subarray(i, i + BYTES_PER_LINE);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(address + BigInt(i)).toString(16).padStart(16, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines;
}
