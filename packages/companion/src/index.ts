/**
 * @kbtf/companion — builds companion modules `<M>-btf.ko` (BTF of a module's global variables, split
 * on vmlinux BTF; companion contract v1, docs/design.md §2, docs/companions.md) from Debian's -dbg DWARF through pahole ≥ 1.28.
 *
 *   const results = await buildForKernel({ cache, kver, modules: ['ext4'], deps: true, vmlinux: true, out });
 *   formatSummary(results)                          // Markdown table: own BTF, pahole raw, companion
 *   buildCompanions(jobs, { kver, headers, vmlinuxBtf, pahole, outDir })  // explicit files
 *   await packageCompanions({ cache, kver, modules, deps: true, vmlinux: true, output, version })  // the .deb
 * A Debian 13 (+deb13) kernel is fetched and kbuilt through the trixie tree (suite.ts); an arm64
 * kernel on an amd64 host is cross-built against its headers unpacked in the cache (arch.ts, foreign.ts).
 * Errors: NotFoundError (missing headers, DWARF, packages), UnsupportedError (pahole too old),
 * BadDataError (build-id mismatch, a companion failing its check). Nothing is written on error.
 */
export * from './log.js';
export * from './pahole.js';
export * from './debian-cache.js';
export * from './stub.js';
export * from './prune.js';
export * from './anchors.js';
export * from './check.js';
export * from './build.js';
export * from './build-request.js';
export * from './batch.js';
export * from './softdep.js';
export * from './suite.js';
export * from './arch.js';
export * from './foreign.js';
export * from './package.js';
