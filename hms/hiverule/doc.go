// Package hiverule owns Hive's rules about a table's kind that decide what happens to its data:
// whether a table is external, whether a drop may delete files, which directory a partition's
// data lives in. Every backend asks here rather than comparing table types itself, so the rule
// that keeps data Hive would keep is written once.
package hiverule
