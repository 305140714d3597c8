#!/usr/bin/python3
# The reference values for kbtf's self-test lookups and `kbtf print` expressions: drgn (python3-drgn
# 0.0.22, Debian 12) reading the same dump with the kernel's DWARF (linux-image-KVER-dbg), which
# kbtf never uses. drgn 0.0.22 has no C expression parser, so each expression comes with the drgn
# Python that computes it; the value is str(object), drgn's own formatting.
#
#   /usr/bin/python3 test/verify/drgn-reference.py DUMP DBG_ROOT CASES.json > OUT.json
#
# DBG_ROOT: the extracted -dbg package (usr/lib/debug/boot/vmlinux-KVER and .../lib/modules/KVER).
# CASES.json: [{"expr": "ext4:old_bump_val", "address": "0x…"}, {"expr": "…", "py": "…"}, ...]: a
# case without "py" is a kernel global path (init_uts_ns.name.release) or MODULE:var, looked up by
# name; when another module has a global of that name (__this_module), the one at "address" (the
# address kbtf read) is taken, with the type drgn gives the name.
import glob
import json
import os
import sys

import drgn
from drgn import Object, cast, container_of, sizeof  # noqa: F401  (used by the cases' Python)
from drgn.helpers.linux.percpu import per_cpu, per_cpu_ptr  # noqa: F401

dump, root, cases_file = sys.argv[1:4]
vmlinux = glob.glob(os.path.join(root, 'usr/lib/debug/boot/vmlinux-*'))[0]
kver = os.path.basename(vmlinux)[len('vmlinux-'):]
mods = {}
for ko in glob.glob(os.path.join(root, 'usr/lib/debug/lib/modules', kver, '**/*.ko'), recursive=True):
    mods[os.path.basename(ko)[:-3].replace('-', '_')] = ko

prog = drgn.Program()
prog.set_core_dump(dump)
cases = json.load(open(cases_file))
wanted = {c['expr'].split(':')[0] for c in cases if ':' in c['expr'] and 'py' not in c}
for c in cases:
    wanted.update(c.get('modules', []))
paths = [vmlinux] + [mods[m] for m in sorted(wanted) if m in mods]
try:
    prog.load_debug_info(paths)
except drgn.MissingDebugInfoError:
    pass  # the modules we did not name


def obj(name, module=None):
    """A global by name (drgn's `filename` is a source file, so a module's global is found by name
    alone; its address is recorded, and the test checks it is the one kbtf read)."""
    return prog[name]


def member_path(o, path):
    for part in path.replace('[', '.[').split('.'):
        if part == '':
            continue
        o = o[int(part[1:-1])] if part.startswith('[') else o.member_(part)
    return o


out = []
for c in cases:
    expr = c['expr']
    try:
        if 'py' in c:
            v = eval(c['py'], {'prog': prog, 'obj': obj, 'Object': Object, 'cast': cast, 'container_of': container_of,
                               'sizeof': sizeof, 'per_cpu': per_cpu, 'per_cpu_ptr': per_cpu_ptr})
        elif ':' in expr:
            mod, rest = expr.split(':', 1)
            name, _, path = rest.partition('.')
            o = obj(name, mod)
            if c.get('address') and o.address_ is not None and o.address_ != int(c['address'], 16):
                o = Object(prog, o.type_, address=int(c['address'], 16))
            v = member_path(o, path)
        else:
            name, _, path = expr.partition('.')
            v = member_path(obj(name), path)
        if isinstance(v, int):  # sizeof() and friends give Python integers
            out.append({'expr': expr, 'value': str(v), 'address': None})
        else:
            out.append({'expr': expr, 'value': str(v), 'address': None if v.address_ is None else hex(v.address_)})
    except Exception as e:  # a reference that drgn cannot compute is recorded as such
        out.append({'expr': expr, 'error': f'{type(e).__name__}: {e}'})
json.dump({'tool': f'drgn {drgn.__version__}', 'dump': dump, 'kernel': kver, 'values': out}, sys.stdout, indent=1)
sys.stdout.write('\n')
