package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tkEOF tokKind = iota
	tkLParen
	tkRParen
	tkComma
	tkMinus
	tkOp        // comparison operator; text holds its canonical spelling
	tkString    // quoted string; text holds the unescaped value
	tkInt       // unsigned digits
	tkDate      // bare yyyy-mm-dd
	tkTimestamp // bare yyyy-mm-dd hh:mm:ss
	tkIdent     // unquoted identifier or keyword; text as written
	tkQuoted    // `backquoted` identifier; text unquoted
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// keywords of the grammar; an unquoted identifier spelling one of them (in any case) is that
// keyword.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true, "LIKE": true,
	"STRUCT": true, "CONST": true, "DATE": true, "TIMESTAMP": true,
}

func (t token) isKeyword(kw string) bool {
	return t.kind == tkIdent && strings.EqualFold(t.text, kw)
}

func (t token) describe() string {
	switch t.kind {
	case tkEOF:
		return "end of input"
	case tkString:
		return "string " + quoteString(t.text)
	case tkIdent:
		if keywords[strings.ToUpper(t.text)] {
			return "keyword " + strings.ToUpper(t.text)
		}
		return fmt.Sprintf("%q", t.text)
	case tkQuoted:
		return quoteIdent(t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// syntaxError carries the byte offset of the problem; Parse adds the filter text.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.pos) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			toks = append(toks, token{tkLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tkRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tkComma, ",", i})
			i++
		case c == '-':
			toks = append(toks, token{tkMinus, "-", i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			op, n := lexOp(s[i:])
			switch op {
			case "":
				return nil, &syntaxError{i, fmt.Sprintf("unexpected character %q", c)}
			case "<=>":
				return nil, &syntaxError{i, "operator <=> is not supported in partition filters"}
			}
			toks = append(toks, token{tkOp, op, i})
			i += n
		case c == '\'' || c == '"':
			val, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tkString, val, i})
			i += n
		case c == '`':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, &syntaxError{i, "unterminated backquoted identifier"}
				}
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if b.Len() == 0 {
				return nil, &syntaxError{i, "empty backquoted identifier"}
			}
			toks = append(toks, token{tkQuoted, b.String(), i})
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			word := s[i:j]
			if n := dateLen(s[i:]); n > 0 {
				kind := tkDate
				if m := timestampLen(s[i:]); m > 0 {
					kind, n = tkTimestamp, m
				}
				toks = append(toks, token{kind, s[i : i+n], i})
				i += n
				continue
			}
			if strings.Trim(word, "0123456789") == "" {
				toks = append(toks, token{tkInt, word, i})
			} else {
				toks = append(toks, token{tkIdent, word, i})
			}
			i = j
		case c == '.':
			return nil, &syntaxError{i, "decimal literals are not supported in partition filters (quote the value)"}
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, &syntaxError{i, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{tkEOF, "", len(s)})
	return toks, nil
}

func lexOp(s string) (string, int) {
	two := ""
	if len(s) >= 2 {
		two = s[:2]
	}
	if len(s) >= 3 && s[:3] == "<=>" {
		return "<=>", 3
	}
	switch two {
	case "==":
		return "=", 2
	case "!=", "<>", "<=", ">=":
		return two, 2
	}
	switch s[0] {
	case '=', '<', '>':
		return s[:1], 1
	}
	return "", 0
}

// lexString reads a quoted string starting at s[start]. \\, \' and \" stand for the character;
// any other backslash pair is kept verbatim (see the package comment).
func lexString(s string, start int) (string, int, error) {
	q := s[start]
	var b strings.Builder
	for j := start + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == q:
			return b.String(), j + 1 - start, nil
		case c == '\\':
			if j+1 >= len(s) {
				return "", 0, &syntaxError{start, "unterminated string"}
			}
			n := s[j+1]
			if n != '\\' && n != '\'' && n != '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(n)
			j++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, &syntaxError{start, "unterminated string"}
}

// dateLen reports the length of a bare yyyy-mm-dd at the start of s that is not followed by
// more identifier characters, or 0.
func dateLen(s string) int {
	const layout = "dddd-dd-dd"
	if !matchShape(s, layout) {
		return 0
	}
	if len(s) > len(layout) && isIdentByte(s[len(layout)]) {
		return 0
	}
	return len(layout)
}

func timestampLen(s string) int {
	const layout = "dddd-dd-dd dd:dd:dd"
	if !matchShape(s, layout) {
		return 0
	}
	if len(s) > len(layout) && isIdentByte(s[len(layout)]) {
		return 0
	}
	return len(layout)
}

func matchShape(s, shape string) bool {
	if len(s) < len(shape) {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != shape[i] {
			return false
		}
	}
	return true
}
