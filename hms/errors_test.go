package hms

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// Every kind must map to a typed Hive exception for a method declaring only MetaException, and
// to the specific exception where one is declared.
func TestEveryKindIsMapped(t *testing.T) {
	full := excMetaException | excNoSuchObjectException | excAlreadyExistsException |
		excInvalidObjectException | excInvalidOperationException
	want := map[errs.Kind]struct{ meta, full any }{
		errs.KindUnknown:     {&hm.MetaException{}, &hm.MetaException{}},
		errs.KindNotFound:    {&hm.MetaException{}, &hm.NoSuchObjectException{}},
		errs.KindExists:      {&hm.MetaException{}, &hm.AlreadyExistsException{}},
		errs.KindDenied:      {&hm.MetaException{}, &hm.MetaException{}},
		errs.KindInvalid:     {&hm.MetaException{}, &hm.InvalidObjectException{}},
		errs.KindUnavailable: {&hm.MetaException{}, &hm.MetaException{}},
		errs.KindUnsupported: {&hm.MetaException{}, &hm.MetaException{}},
		errs.KindConflict:    {&hm.MetaException{}, &hm.InvalidOperationException{}},
	}
	for _, k := range errs.Kinds {
		w, ok := want[k]
		if !ok {
			t.Errorf("kind %v has no expected mapping: add it here and to ToThrift", k)
			continue
		}
		var err error = &errs.Error{Kind: k, Msg: "boom " + k.String()}
		if k == errs.KindUnknown {
			err = errors.New("boom")
		}
		wrapped := fmt.Errorf("context: %w", err)
		for _, tc := range []struct {
			declared excSet
			want     any
		}{{excMetaException, w.meta}, {full, w.full}} {
			got := ToThrift(wrapped, tc.declared)
			if reflect.TypeOf(got) != reflect.TypeOf(tc.want) {
				t.Errorf("kind %v with %b: got %T, want %T", k, tc.declared, got, tc.want)
			}
			if got.Error() == "" {
				t.Errorf("kind %v: empty message", k)
			}
		}
	}
}

func TestLockErrorsUseLockExceptions(t *testing.T) {
	got := ToThrift(errs.NotFound("no such lock: 5"), methodUnlock.Exceptions)
	if _, ok := got.(*hm.NoSuchLockException); !ok {
		t.Fatalf("unlock not found = %T, want NoSuchLockException", got)
	}
}

func TestHiveExceptionsPassThrough(t *testing.T) {
	e := &hm.NoSuchObjectException{Message: "upstream says no"}
	if got := ToThrift(e, methodGetTable.Exceptions); got != e {
		t.Fatalf("declared Hive exception was rewritten to %T", got)
	}
	// Not declared by get_all_databases: becomes a MetaException carrying the message.
	got := ToThrift(e, methodGetAllDatabases.Exceptions)
	if m, ok := got.(*hm.MetaException); !ok || m.Message == "" {
		t.Fatalf("undeclared exception mapped to %#v", got)
	}
}
