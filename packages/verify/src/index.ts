// @kbtf/verify — the completeness check of a vmcore, as a library (docs/verify.md).
export * from './report.js';
export { SELF_TEST_LOOKUPS, verifyDump, type VerifyOptions } from './verify.js';
export { resolveCompanionVars, excludedDetail, type VarTarget, type VarsOutcome } from './vars.js';
export { lookup } from './lookup.js';
export { dumpSettings, virtualFs } from './dump-policy.js';
export { renderReport, renderSummary } from './render.js';
export { verifyMany, verifyOne, type DumpOutcome } from './pool.js';
