// Package store keeps the policy in the catalog's own database, versioned, so that every
// Propolis replica over one MySQL (or one SQLite file) enforces the same policy without a
// second piece of infrastructure to run, back up or secure.
//
// Versions only grow: Apply never edits a row, so the history is the audit trail of who
// changed the policy and when, and `policy apply` can show a diff against what is in force.
// A body is validated with policy.Parse before it is stored: an invalid policy never reaches
// a replica. A stored body can still stop parsing (an older binary reading a newer file);
// Watch then keeps the policy already in force, and with none in force reports nil, which the
// caller treats as deny-all. Fail closed, never open.
package store
