import { describe, expect, it } from 'vitest';
import { Root } from './root-tree.js';
import { rootModprobeArgs } from './sync.js';
import { memTree } from './test-tree.js';

const K = '6.1.0-56-amd64';

describe('rootModprobeArgs', () => {
  it('points kmod at the tree: -d ROOT -S KVER -C ROOT/etc/modprobe.d', () => {
    const root = memTree({ '/etc/modprobe.d/kbtf.conf': 'softdep loop post: loop-btf\n', [`/lib/modules/${K}/modules.dep`]: '' });
    expect(rootModprobeArgs(root, K)).toEqual(['-d', '/tree', '-S', K, '-C', '/tree/etc/modprobe.d']);
  });
  it('leaves -C out when the tree has no modprobe.d directory (kmod would read the host\'s otherwise only by -C)', () => {
    expect(rootModprobeArgs(memTree({ [`/lib/modules/${K}/modules.dep`]: '' }), K)).toEqual(['-d', '/tree', '-S', K]);
    expect(rootModprobeArgs(memTree({ '/etc/modprobe.d': 'a file, not a directory' }), K)).toEqual(['-d', '/tree', '-S', K]);
  });
  it('follows an in-tree symlink to the directory', () => {
    const root = memTree({ '/usr/lib/modprobe.d/x.conf': '' }, { '/etc/modprobe.d': '/usr/lib/modprobe.d' });
    expect(rootModprobeArgs(root, K)).toEqual(['-d', '/tree', '-S', K, '-C', '/tree/etc/modprobe.d']);
  });
  it('is empty for the running system', () => {
    expect(rootModprobeArgs(new Root('/'), K)).toEqual([]);
  });
});
