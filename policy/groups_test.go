package policy

import (
	"fmt"
	"testing"
)

func TestGroupsJoinsConnectionAndFile(t *testing.T) {
	p, err := Parse("groups.yaml", []byte("groups:\n  analysts: [alice]\n  finance: [frank]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  Principal
		want string
	}{
		{Principal{User: "alice", Groups: []string{"Staff"}}, "[analysts staff]"},
		{Principal{User: "frank"}, "[finance]"},
		{Principal{User: "nobody"}, "[]"},
	} {
		if got := fmt.Sprint(p.Groups(tc.who)); got != tc.want {
			t.Errorf("Groups(%v) = %s, want %s", tc.who, got, tc.want)
		}
	}
	var none *Policy
	if got := fmt.Sprint(none.Groups(Principal{User: "a", Groups: []string{"g"}})); got != "[g]" {
		t.Errorf("nil policy: %s", got)
	}
}
