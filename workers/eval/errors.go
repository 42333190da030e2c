package eval

import "github.com/propolis/propolis/internal/errs"

func unsupportedf(format string, args ...any) error {
	return errs.Unsupported("eval: "+format, args...)
}

func invalidf(format string, args ...any) error {
	return errs.Invalid("eval: "+format, args...)
}
