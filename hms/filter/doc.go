// Package filter owns Hive's partition filter language: the strings clients send to
// get_partitions_by_filter, get_num_partitions_by_filter and friends (`ds >= '2024-01-01' AND
// hr IN (1, 2)`), parsed once and evaluated against each partition's values.
//
// The grammar follows Hive's metastore parser (Filter.g in Hive 3, PartitionFilter.g4 in Hive 4)
// so that every filter a real engine sends parses here too; a few harmless extensions make
// hand-written filters less surprising (see below). Evaluation follows what Hive's direct-SQL
// path does, because that is the answer engines are used to getting:
//
//   - Keys of integral type (tinyint, smallint, int, bigint) compare numerically, as Hive casts
//     the stored value to decimal(21,0). Likewise decimal/float/double keys compare numerically,
//     date keys as dates and timestamp keys as timestamps. Every other type (string, varchar,
//     char, boolean, ...) compares the stored text byte-wise.
//   - A stored value that is not valid for its key's type, and Hive's default partition
//     __HIVE_DEFAULT_PARTITION__ on a typed (non-string) key, is SQL NULL: every comparison with
//     it is unknown, NOT of unknown is unknown, and a partition is selected only when the whole
//     filter is true. On string keys the default partition is just text, so Spark's
//     `k = "__HIVE_DEFAULT_PARTITION__"` (its translation of IS NULL) selects it, as in Hive.
//     Comparing any key with the literal '__HIVE_DEFAULT_PARTITION__' compares raw text, as
//     Hive 4 does.
//   - LIKE is Hive's JDO semantics: the pattern becomes a regular expression ('%' -> '.*',
//     '_' -> '.', '\%' and '\_' literal, every other character passed through, so regex
//     metacharacters such as '.' keep their regex meaning) that must match the whole stored
//     value. Go's RE2 stands in for java.util.regex; Java-only constructs (backreferences,
//     lookaround) are rejected at parse time. LIKE always looks at the stored text. Hive 4's
//     direct SQL evaluates LIKE as SQL LIKE instead; for patterns without regex
//     metacharacters the two agree.
//   - A string literal compared with an integral key must spell an integer ('5' works, 'x' is
//     an error); an integer literal compared with a string key compares its decimal text, which
//     is what Hive does with hive.metastore.integral.jdo.pushdown enabled (without it Hive
//     refuses the filter).
//
// The empty filter matches every partition, as Hive's EMPTY_TREE does.
//
// Extensions over Hive's grammar: a general NOT prefix, `k IN (...)` without the parentheses
// Hive requires around k, `k NOT LIKE p`, any number of structs in a multi-column IN, the
// keywords DATE and TIMESTAMP usable as key names where no literal follows, and backslash
// escapes in string literals: \\, \' and \" stand for the character itself (Hive keeps the
// backslash); any other backslash sequence is kept as written so LIKE patterns such as '\d+'
// and '\_' mean what they mean in Hive.
package filter
