package cache

import (
	"reflect"
	"sync"
)

// deepCopy returns a copy of v sharing nothing mutable with it. It copies any tree of Go values
// (the Thrift structs here are trees: pointers, slices, maps, no cycles, no interfaces), so a
// field added by a newer gohive is copied without anyone remembering to.
//
// Why reflection and not a Thrift round trip: a round trip re-parses every field and allocates
// every string again, while a shallow struct copy plus a walk of only the pointer, slice and map
// fields shares the immutable strings and scalars. BenchmarkCopy measures the difference.
func deepCopy[T any](v *T) *T {
	if v == nil {
		return nil
	}
	out := new(T)
	copyInto(reflect.ValueOf(out).Elem(), reflect.ValueOf(v).Elem())
	return out
}

// plan lists, per struct type, the fields a shallow copy would leave shared.
var plans sync.Map // reflect.Type -> []int

func deepFields(t reflect.Type) []int {
	if p, ok := plans.Load(t); ok {
		return p.([]int)
	}
	var idx []int
	for i := range t.NumField() {
		if needsDeep(t.Field(i).Type) {
			idx = append(idx, i)
		}
	}
	plans.Store(t, idx)
	return idx
}

func needsDeep(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Array:
		return needsDeep(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if needsDeep(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// copyInto sets dst (settable, same type) to a deep copy of src.
func copyInto(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyInto(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Struct:
		dst.Set(src) // scalars and strings; strings are immutable, sharing them is safe
		for _, i := range deepFields(src.Type()) {
			f := dst.Field(i)
			f.SetZero()
			copyInto(f, src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := src.Len()
		s := reflect.MakeSlice(src.Type(), n, n)
		if !needsDeep(src.Type().Elem()) {
			reflect.Copy(s, src)
		} else {
			for i := range n {
				copyInto(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		if m, ok := src.Interface().(map[string]string); ok { // the common case, without reflection
			c := make(map[string]string, len(m))
			for k, v := range m {
				c[k] = v
			}
			dst.Set(reflect.ValueOf(c))
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		deepVal := needsDeep(src.Type().Elem())
		iter := src.MapRange()
		for iter.Next() {
			v := iter.Value()
			if deepVal {
				c := reflect.New(v.Type()).Elem()
				copyInto(c, v)
				v = c
			}
			m.SetMapIndex(iter.Key(), v) // keys: strings and scalars in Thrift maps
		}
		dst.Set(m)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		c := reflect.New(src.Elem().Type()).Elem()
		copyInto(c, src.Elem())
		dst.Set(c)
	case reflect.Array:
		for i := range src.Len() {
			copyInto(dst.Index(i), src.Index(i))
		}
	default:
		dst.Set(src)
	}
}
