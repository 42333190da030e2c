// Package presto speaks Trino's (and Presto's) side of the metastore: the view encoding.
//
// Trino does not store its views as Hive views. Its Hive connector writes a VIRTUAL_VIEW table
// whose original text is a base64 JSON ConnectorViewDefinition wrapped in a "/* Presto View: */"
// comment, and recognises such tables by two parameters. When Propolis answers a Trino engine
// with a masked or filtered table, it must hand back exactly that shape, or Trino would treat
// the view as a Hive view (and re-translate it) or refuse it. The layout here was read from
// Trino's source and checked against tables recorded from a real Trino 476 (testdata/).
package presto
