// @kbtf/btf — see README.md and docs/architecture.md.
export {};
