#!/usr/bin/env bash
# bash tools/lab/fixture.sh LABOUT FIXTUREDIR   (run by `lab.sh --fixture`)
# Copies the small committed fixture out of a lab output directory: the makedumpfile -c -d 31 dump
# (mkd-zlib.kdump, renamed dump.kdump: the README's command), the ground truth with kallsyms
# gzip'ed, and a manifest without host paths. Layout: docs/lab.md.
set -euo pipefail
SRC=${1:?usage: fixture.sh LABOUT FIXTUREDIR}
DST=${2:?usage: fixture.sh LABOUT FIXTUREDIR}
LIMIT=$((20 * 1024 * 1024))

rm -rf "$DST"
mkdir -p "$DST"
cp "$SRC/mkd-zlib.kdump" "$DST/dump.kdump"
cp "$SRC/proc-modules.txt" "$SRC/vmcoreinfo.txt" "$DST/"
gzip -n -9 -c "$SRC/kallsyms.txt" > "$DST/kallsyms.txt.gz"

node - "$SRC" "$DST" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [src, dst] = process.argv.slice(2);
const truth = JSON.parse(fs.readFileSync(path.join(src, 'truth.json'), 'utf8'));
truth.kallsyms.file = 'kallsyms.txt.gz';
truth.kallsyms.compressed = 'gzip';
fs.writeFileSync(path.join(dst, 'truth.json'), JSON.stringify(truth, null, 2) + '\n');

const m = JSON.parse(fs.readFileSync(path.join(src, 'manifest.json'), 'utf8'));
const fixture = {
  schema: m.schema,
  key: m.key,
  fixture: true,
  regenerate: 'bash tools/lab/lab.sh --fixture',
  kernel: {
    kver: m.kernel.kver,
    package: m.kernel.package,
    dbg_package: `linux-image-${m.kernel.kver}-dbg`,
  },
  guest: m.guest,
  truth: 'truth.json',
  kallsyms: 'kallsyms.txt.gz',
  proc_modules: 'proc-modules.txt',
  vmcoreinfo: 'vmcoreinfo.txt',
  dumps: m.dumps.filter((d) => d.file === 'mkd-zlib.kdump').map((d) => ({ ...d, file: 'dump.kdump', lab_file: d.file })),
  created: m.created,
};
fs.writeFileSync(path.join(dst, 'manifest.json'), JSON.stringify(fixture, null, 2) + '\n');
EOF

total=$(du -sb "$(dirname "$DST")" | cut -f1)
echo "fixture: $DST ($(du -sh "$DST" | cut -f1)); all of $(dirname "$DST"): $total bytes" >&2
[ "$total" -lt "$LIMIT" ] || { echo "fixture: committed fixtures exceed 20 MB" >&2; exit 1; }
