// @kbtf/policy — see README.md and docs/architecture.md.
export {};
