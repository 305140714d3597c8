// @kbtf/verify — see README.md and docs/architecture.md.
export {};
