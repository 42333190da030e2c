// Command gen writes the hms package's generated code from gohive's generated Hive Metastore
// bindings, so the 270-odd Thrift methods never have to be written by hand:
//
//   - zz_intercept_gen.go: a ThriftHiveMetastore that runs every call through the interceptor
//     chain, with each method's Thrift name and the exceptions its IDL declares;
//   - zz_unsupported_gen.go: the methods the Handler does not implement, answering
//     "unsupported", plus the list of their Thrift names so they can be left out of the
//     processor (clients then see UNKNOWN_METHOD and fall back, as they do with an older HMS).
//
// Run it with `go generate ./hms`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type method struct {
	goName     string
	thriftName string
	params     []param
	results    []param // excluding err
	exceptions []string
	pkg        string // qualifier of the package declaring it: hm or fb303
}

type param struct{ name, typ string }

func main() {
	dir := moduleDir("github.com/beltran/gohive")
	hmFile := filepath.Join(dir, "hive_metastore", "hive_metastore.go")
	fbFile := filepath.Join(dir, "gohivemeta", "fb303", "fb303.go")

	var methods []method
	methods = append(methods, parseService(fbFile, "fb303", "FacebookService")...)
	methods = append(methods, parseService(hmFile, "hm", "ThriftHiveMetastore")...)
	sort.Slice(methods, func(i, j int) bool { return methods[i].goName < methods[j].goName })

	out := flag.String("out", ".", "directory to write the generated files to")
	flag.Parse()
	implemented := handlerMethods(".")
	write(filepath.Join(*out, "zz_intercept_gen.go"), intercept(methods))
	write(filepath.Join(*out, "zz_unsupported_gen.go"), unsupported(methods, implemented))
}

func moduleDir(mod string) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		log.Fatalf("go list %s: %v", mod, err)
	}
	return strings.TrimSpace(string(out))
}

// parseService reads the service interface, the processor map (for Thrift names) and the
// result structs (for declared exceptions) of one generated file.
func parseService(path, qual, service string) []method {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		log.Fatal(err)
	}
	structs := map[string]*ast.StructType{}
	var iface *ast.InterfaceType
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, sp := range gd.Specs {
			ts, ok := sp.(*ast.TypeSpec)
			if !ok {
				continue
			}
			switch t := ts.Type.(type) {
			case *ast.StructType:
				structs[ts.Name.Name] = t
			case *ast.InterfaceType:
				if ts.Name.Name == service {
					iface = t
				}
			}
		}
	}
	if iface == nil {
		log.Fatalf("%s: no interface %s", path, service)
	}
	names := thriftNames(f, service)
	exported := map[string]bool{}
	for n := range structs {
		exported[n] = true
	}
	qualify := func(e ast.Expr) string { return typeString(fset, e, qual) }

	var out []method
	for _, fld := range iface.Methods.List {
		ft, ok := fld.Type.(*ast.FuncType)
		if !ok || len(fld.Names) == 0 {
			continue // embedded interface
		}
		m := method{goName: fld.Names[0].Name, pkg: qual}
		m.thriftName = names[m.goName]
		if m.thriftName == "" {
			log.Fatalf("%s.%s: no processor entry", service, m.goName)
		}
		for _, p := range ft.Params.List {
			for _, n := range p.Names {
				m.params = append(m.params, param{n.Name, qualify(p.Type)})
			}
		}
		for _, r := range ft.Results.List {
			for _, n := range r.Names {
				if n.Name == "err" {
					continue
				}
				m.results = append(m.results, param{n.Name, qualify(r.Type)})
			}
		}
		if rs, ok := structs[service+m.goName+"Result"]; ok {
			for _, rf := range rs.Fields.List {
				if len(rf.Names) == 0 || rf.Names[0].Name == "Success" {
					continue
				}
				if star, ok := rf.Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok {
						m.exceptions = append(m.exceptions, id.Name)
					}
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// thriftNames maps Go method names to Thrift names from the processor constructor's
// AddToProcessorMap("name", &xxxProcessorGoName{...}) calls.
func thriftNames(f *ast.File, service string) map[string]string {
	names := map[string]string{}
	prefix := strings.ToLower(service[:1]) + service[1:] + "Processor"
	// Processors are registered either as AddToProcessorMap("name", &p{...}) or as
	// processorMap["name"] = &p{...}, depending on the Thrift compiler's version.
	ast.Inspect(f, func(n ast.Node) bool {
		var key, val ast.Expr
		switch x := n.(type) {
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "AddToProcessorMap" || len(x.Args) != 2 {
				return true
			}
			key, val = x.Args[0], x.Args[1]
		case *ast.AssignStmt:
			if len(x.Lhs) != 1 || len(x.Rhs) != 1 {
				return true
			}
			ix, ok := x.Lhs[0].(*ast.IndexExpr)
			if !ok {
				return true
			}
			if sel, ok := ix.X.(*ast.SelectorExpr); !ok || sel.Sel.Name != "processorMap" {
				return true
			}
			key, val = ix.Index, x.Rhs[0]
		default:
			return true
		}
		lit, ok := key.(*ast.BasicLit)
		if !ok {
			return true
		}
		u, ok := val.(*ast.UnaryExpr)
		if !ok {
			return true
		}
		cl, ok := u.X.(*ast.CompositeLit)
		if !ok {
			return true
		}
		id, ok := cl.Type.(*ast.Ident)
		if !ok || !strings.HasPrefix(id.Name, prefix) {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		names[strings.TrimPrefix(id.Name, prefix)] = name
		return true
	})
	return names
}

// typeString prints a type expression, qualifying the package's own exported identifiers.
func typeString(fset *token.FileSet, e ast.Expr, qual string) string {
	e = qualifyExpr(e, qual)
	var b bytes.Buffer
	printer.Fprint(&b, fset, e)
	return b.String()
}

func qualifyExpr(e ast.Expr, qual string) ast.Expr {
	switch t := e.(type) {
	case *ast.Ident:
		if ast.IsExported(t.Name) {
			return &ast.SelectorExpr{X: ast.NewIdent(qual), Sel: ast.NewIdent(t.Name)}
		}
		return t
	case *ast.StarExpr:
		return &ast.StarExpr{X: qualifyExpr(t.X, qual)}
	case *ast.ArrayType:
		return &ast.ArrayType{Len: t.Len, Elt: qualifyExpr(t.Elt, qual)}
	case *ast.MapType:
		return &ast.MapType{Key: qualifyExpr(t.Key, qual), Value: qualifyExpr(t.Value, qual)}
	default:
		return e
	}
}

// handlerMethods lists the methods declared on *Handler in the package's hand-written files.
func handlerMethods(dir string) map[string]bool {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		n := fi.Name()
		return !strings.HasSuffix(n, "_test.go") && !strings.HasPrefix(n, "zz_")
	}, 0)
	if err != nil {
		log.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
					continue
				}
				if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok && id.Name == "Handler" {
						out[fd.Name.Name] = true
					}
				}
			}
		}
	}
	return out
}

func signature(m method) string {
	var ps []string
	for _, p := range m.params {
		ps = append(ps, p.name+" "+p.typ)
	}
	var rs []string
	for _, r := range m.results {
		rs = append(rs, r.name+" "+r.typ)
	}
	rs = append(rs, "err error")
	return fmt.Sprintf("%s(%s) (%s)", m.goName, strings.Join(ps, ", "), strings.Join(rs, ", "))
}

func args(m method, ctx string) string {
	var as []string
	for _, p := range m.params {
		if p.name == "ctx" {
			as = append(as, ctx)
			continue
		}
		as = append(as, p.name)
	}
	return strings.Join(as, ", ")
}

func resultNames(m method) string {
	var rs []string
	for _, r := range m.results {
		rs = append(rs, r.name)
	}
	rs = append(rs, "err")
	return strings.Join(rs, ", ")
}

const header = "// Code generated by hms/internal/gen from gohive's Hive Metastore bindings. DO NOT EDIT.\n\n"

func intercept(ms []method) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("package hms\n\nimport (\n\t\"context\"\n\n\thm \"github.com/beltran/gohive/hive_metastore\"\n\t\"github.com/beltran/gohive/gohivemeta/fb303\"\n)\n\n")
	b.WriteString("var _ hm.ThriftHiveMetastore = (*intercepted)(nil)\n\n")
	b.WriteString("// Every method's description, by Thrift name.\nvar methods = map[string]*Method{\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "\t%q: method%s,\n", m.thriftName, m.goName)
	}
	b.WriteString("}\n\nvar (\n")
	for _, m := range ms {
		var ex []string
		for _, e := range m.exceptions {
			ex = append(ex, "exc"+e)
		}
		exs := "0"
		if len(ex) > 0 {
			exs = strings.Join(ex, " | ")
		}
		fmt.Fprintf(&b, "\tmethod%s = &Method{Name: %q, Exceptions: %s}\n", m.goName, m.thriftName, exs)
	}
	b.WriteString(")\n\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "func (x *intercepted) %s {\n", signature(m))
		fmt.Fprintf(&b, "\terr = x.call(ctx, method%s, func(ctx context.Context) (err error) {\n", m.goName)
		fmt.Fprintf(&b, "\t\t%s = x.next.%s(%s)\n\t\treturn err\n\t})\n", resultNames(m), m.goName, args(m, "ctx"))
		// A nil list or map result goes on the wire as an unset result, which clients read as
		// "unknown result": an empty collection must be sent as one.
		for _, r := range m.results {
			if strings.HasPrefix(r.typ, "[]") || strings.HasPrefix(r.typ, "map[") {
				fmt.Fprintf(&b, "\tif err == nil && %s == nil {\n\t\t%s = %s{}\n\t}\n", r.name, r.name, r.typ)
			}
		}
		fmt.Fprintf(&b, "\treturn %s\n}\n\n", resultNames(m))
	}
	return b.Bytes()
}

func unsupported(ms []method, implemented map[string]bool) []byte {
	var b bytes.Buffer
	b.WriteString("// unimplemented lists, by Thrift name, the methods Handler leaves to the generated\n// fallbacks below; the processor leaves them out so clients see UNKNOWN_METHOD.\nvar unimplemented = []string{\n")
	for _, m := range ms {
		if !implemented[m.goName] {
			fmt.Fprintf(&b, "\t%q,\n", m.thriftName)
		}
	}
	b.WriteString("}\n\n")
	for _, m := range ms {
		if implemented[m.goName] {
			continue
		}
		fmt.Fprintf(&b, "func (h *Handler) %s {\n", signature(m))
		fmt.Fprintf(&b, "\terr = unsupportedMethod(%q)\n\treturn %s\n}\n\n", m.thriftName, resultNames(m))
	}
	imports := "\t\"context\"\n\n\thm \"github.com/beltran/gohive/hive_metastore\"\n"
	if bytes.Contains(b.Bytes(), []byte("fb303.")) {
		imports += "\t\"github.com/beltran/gohive/gohivemeta/fb303\"\n"
	}
	return append([]byte(header+"package hms\n\nimport (\n"+imports+")\n\n"), b.Bytes()...)
}

func write(name string, src []byte) {
	out, err := format.Source(src)
	if err != nil {
		os.WriteFile(name+".broken", src, 0o644)
		log.Fatalf("%s: %v", name, err)
	}
	if err := os.WriteFile(name, out, 0o644); err != nil {
		log.Fatal(err)
	}
}
