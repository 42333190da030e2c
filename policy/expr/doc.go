// Package expr is the one expression language behind every mask and row filter.
//
// A policy is written once and must mean the same thing in every engine that reads through
// Propolis. So a policy expression is parsed into a single tree, type-checked against the Hive
// schema of the table it applies to, and only then rendered per dialect (HiveQL/Spark SQL,
// Trino/Presto). Functions live in one explicit registry that says, per dialect, how each one
// is rendered, or that it cannot be: such an expression takes the worker path instead of being
// approximated, because a mask that differs between engines is a leak in one of them.
//
// Rendering is per caller: current_user() and is_member('g') become literals, so the view text
// an engine receives is already specialised to the user asking.
package expr
