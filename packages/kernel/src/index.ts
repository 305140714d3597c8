// @kbtf/kernel — see README.md and docs/architecture.md.
export {};
