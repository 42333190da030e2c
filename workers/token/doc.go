// Package token owns the capability a worker location carries: a signed, expiring claim that
// one user may read one table, under one policy version, for one partition set. The metastore
// issues it when it rewrites a protected table's location onto the worker fleet; workers and
// the plan endpoint verify it before doing anything else. Tokens are signed with HMAC-SHA256
// under a key id, so keys rotate without invalidating tokens already handed out: verification
// accepts every configured key, signing uses the first.
package token
