// Package hiverule owns Hive's rules that every backend must follow alike: whether a table is
// external, whether a drop may delete files, which directory a partition's data lives in, what
// an alter keeps. Every backend asks here rather than comparing table types itself, so the rule
// that keeps data Hive would keep is written once.
package hiverule
