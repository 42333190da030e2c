// Package eval evaluates checked policy expressions (policy/expr) over Arrow record batches: the
// worker's half of enforcement. It owns the vectorized kernels for every operator and function
// of the expression language, computing what the native renderers make Spark 3.5 and Trino 476
// compute, the worker-only functions no engine may run (tokenize, encrypt, fpe_digits,
// dp_noise, keyed by a Keyring), the lookup-join row filter (x IN (SELECT ...)), and the
// plan.Transform that filters, masks and projects each batch a worker serves.
//
// Everything is deterministic for a given key set, noise secret and source position, so that
// re-encoding a file gives identical bytes (the S3 endpoint's sizes and ranges rely on it).
package eval
