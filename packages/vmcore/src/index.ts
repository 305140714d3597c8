// @kbtf/vmcore — see README.md and docs/architecture.md.
export {};
