package enforce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// AliasInfix joins a table's name and the caller's token in a raw-table alias:
// <table>__raw_<16 hex digits>.
const AliasInfix = "__raw_"

// DefinerSuffix names the raw table inside a Trino policy view: <table>__propolis_raw. Trino
// refuses a view that reads a table of its own name ("View is recursive"), whoever it runs as,
// so the view reads this name, which resolves to the raw table for the service principal (the
// view's definer) on a trusted profile and to nothing for anyone else.
const DefinerSuffix = "__propolis_raw"

// aliasTokenLen is the length of an alias token in hex digits (64 bits of the HMAC).
const aliasTokenLen = 16

// aliasToken binds an alias to one user, one table and one policy version, so an alias
// learned by someone else, for another table, or under an older policy resolves to nothing.
func aliasToken(key []byte, user, db, table string, version int64) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(db)))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(table)))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(version, 10)))
	return hex.EncodeToString(m.Sum(nil))[:aliasTokenLen]
}

// aliasSubject binds an alias to a caller on one engine profile: an alias issued to a user's
// Spark views does not open the raw table through Trino, nor the other way round.
func aliasSubject(user, profile string) string { return user + "\x00" + profile }

// aliasName is the raw-table alias a policy view names in its FROM.
func aliasName(key []byte, user, db, table string, version int64) string {
	return strings.ToLower(table) + AliasInfix + aliasToken(key, user, db, table, version)
}

// SplitAlias splits a name of the raw-table alias shape, <table>__raw_<16 lower-case hex
// digits>, into the table and the token. It says nothing about whether the token is valid:
// that is ResolveAlias.
func SplitAlias(name string) (table, token string, ok bool) {
	i := strings.LastIndex(name, AliasInfix)
	if i <= 0 {
		return "", "", false
	}
	table, token = name[:i], name[i+len(AliasInfix):]
	if len(token) != aliasTokenLen {
		return "", "", false
	}
	for _, c := range token {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	return table, token, true
}

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
