// Test helper: a root tree in memfs. Files map in-tree paths to text (or bytes); `links` maps a
// path to a symlink target ('/dev/null' masks); `exec` lists files made executable (0755).
import { Volume, createFsFromVolume } from 'memfs';
import { posix } from 'node:path';
import { Root, type FileSystem } from './root-tree.js';

export function memTree(files: Record<string, string | Uint8Array>, links: Record<string, string> = {}, dir = '/tree', exec: string[] = []): Root {
  const vol = new Volume();
  const fs = createFsFromVolume(vol);
  vol.mkdirSync(dir, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    vol.mkdirSync(posix.dirname(posix.join(dir, p)), { recursive: true });
    vol.writeFileSync(posix.join(dir, p), typeof content === 'string' ? content : Buffer.from(content));
  }
  for (const p of exec) vol.chmodSync(posix.join(dir, p), 0o755);
  for (const [p, target] of Object.entries(links)) {
    vol.mkdirSync(posix.dirname(posix.join(dir, p)), { recursive: true });
    vol.symlinkSync(target, posix.join(dir, p));
  }
  return new Root(dir, fs as unknown as FileSystem);
}
