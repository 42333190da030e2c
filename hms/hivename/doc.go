// Package hivename spells names the way Hive does: partition names ("k1=v1/k2=v2" with Hive's
// path escaping), the listing patterns of get_databases/get_tables/get_table_meta, and the
// rule for valid database and table names.
//
// Every function here mirrors a specific piece of Hive so that names Propolis writes are
// byte-for-byte the names an HMS would have written; a partition name that differs by one
// escape is a different partition to every engine. The Hive source each follows is named on
// the function.
package hivename
