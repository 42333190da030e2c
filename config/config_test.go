package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestGood loads every testdata/good/*.yaml and compares the resolved configuration with the
// .golden next to it (the working directory written as $CWD).
func TestGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(string(out), cwd, "$CWD")
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("resolved config differs from %s (run with -update to accept):\n%s", golden, got)
			}
			// What `propolis config check` prints must load back to the same configuration.
			again, err := Parse("resolved", out)
			if err != nil {
				t.Fatalf("resolved config does not load: %v\n%s", err, out)
			}
			again.source = c.source
			again.Store.DSN = c.Store.DSN              // the printed DSN hides a MySQL password
			for i := range again.Federation.Backends { // and Glue secrets are hidden too
				if i < len(c.Federation.Backends) {
					again.Federation.Backends[i].Glue.SecretAccessKey = c.Federation.Backends[i].Glue.SecretAccessKey
				}
			}
			if !reflect.DeepEqual(normalize(c), normalize(again)) {
				t.Errorf("resolved config loads differently:\n%+v\n%+v", c, again)
			}
		})
	}
}

// normalize treats a nil and an empty config_values map alike.
func normalize(c *Config) *Config {
	cp := *c
	if len(cp.Metastore.ConfigValues) == 0 {
		cp.Metastore.ConfigValues = nil
	}
	return &cp
}

// TestBad loads every testdata/bad/*.yaml; each must fail, with every line of the .err next to
// it appearing in the error.
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wantData, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel("testdata", f)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(rel, data)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("error kind %v, want invalid", errs.KindOf(err))
			}
			for _, want := range strings.Split(strings.TrimSpace(string(wantData)), "\n") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if c.Store.Driver != "sqlite" || c.Listen != DefaultListen {
		t.Errorf("example.yaml should show the defaults, got driver %q listen %q", c.Store.Driver, c.Listen)
	}
	// Every field of the schema is documented in the example.
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range fieldPaths(reflect.TypeOf(Config{}), "") {
		key := path[strings.LastIndex(path, ".")+1:]
		if !strings.Contains(string(data), key+":") {
			t.Errorf("example.yaml does not document %s", path)
		}
	}
}

func fieldPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || tag == "" {
			continue
		}
		p := join(prefix, tag)
		out = append(out, p)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			out = append(out, fieldPaths(f.Type, p)...)
		}
	}
	return out
}

func TestDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	want := filepath.Join(cwd, ".propolis")
	if c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	if c.Warehouse != "file://"+want+"/warehouse" {
		t.Errorf("Warehouse = %q", c.Warehouse)
	}
	if c.Store.DSN != filepath.Join(want, "catalog.db") {
		t.Errorf("Store.DSN = %q", c.Store.DSN)
	}
	if c.Thrift.MaxMessageBytes != 104857600 || c.Thrift.MaxConnections != 1000 ||
		c.Thrift.IdleTimeout != 10*time.Minute || c.Thrift.ReadTimeout != time.Minute ||
		c.Thrift.WriteTimeout != time.Minute || c.Locks.Timeout != 300*time.Second ||
		c.Thrift.MaxConnectionsPerSource != 200 || c.Thrift.ConnectionWait != 10*time.Second ||
		c.Thrift.HandshakeTimeout != 10*time.Second {
		t.Errorf("thrift/locks defaults wrong: %+v %+v", c.Thrift, c.Locks)
	}
	if c.Admin.Listen != "127.0.0.1:9084" || c.Listen != "127.0.0.1:9083" || !c.Metastore.TrustSetUGI {
		t.Errorf("defaults wrong: %+v", c)
	}
	if got := c.EffectiveConfigValues()[WarehouseDirKey]; got != c.Warehouse {
		t.Errorf("effective %s = %q, want the warehouse", WarehouseDirKey, got)
	}
	if !reflect.DeepEqual(Default(), c) {
		t.Errorf("Load(\"\") and Default() differ")
	}
}

func TestRedactDSN(t *testing.T) {
	c, err := Parse("m.yaml", []byte("store:\n  driver: mysql\n  dsn: u:s3cret@tcp(db:3306)/hive\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "u:xxxxx@tcp(db:3306)/hive") {
		t.Errorf("marshalled config leaks or loses the DSN:\n%s", out)
	}
	if c.Store.DSN != "u:s3cret@tcp(db:3306)/hive" {
		t.Errorf("marshalling changed the DSN to %q", c.Store.DSN)
	}
	if got := RedactDSN("sqlite", "/x/catalog.db"); got != "/x/catalog.db" {
		t.Errorf("RedactDSN(sqlite) = %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if errs.KindOf(err) != errs.KindNotFound || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load(missing) = %v, want not found naming the file", err)
	}
}

// TestReapplyDefaults is what the command line does with --data-dir: derived paths follow the
// new directory once cleared, explicit ones stay.
func TestReapplyDefaults(t *testing.T) {
	c, err := Parse("x.yaml", []byte("data_dir: /a\nwarehouse: s3://b/w\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = "/other"
	c.Store.DSN = ""
	if err := c.ApplyDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Store.DSN != "/other/catalog.db" || c.Warehouse != "s3://b/w" {
		t.Errorf("after override: dsn %q warehouse %q", c.Store.DSN, c.Warehouse)
	}
	c.Warehouse = "/abs/wh/"
	if err := c.ApplyDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Warehouse != "file:///abs/wh" {
		t.Errorf("absolute path warehouse became %q", c.Warehouse)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	// The explicit config value wins over the derived one.
	c.Metastore.ConfigValues = map[string]string{WarehouseDirKey: "s3://x/y", "k": "v"}
	got := c.EffectiveConfigValues()
	if got[WarehouseDirKey] != "s3://x/y" || got["k"] != "v" {
		t.Errorf("EffectiveConfigValues = %v", got)
	}
}

func TestValidateWithoutSource(t *testing.T) {
	c := Default()
	c.Thrift.MaxConnections = 0
	c.Log.Format = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := "thrift.max_connections: must be > 0\nlog.format: must be text or json, not \"xml\""
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"104857600", 104857600, true},
		{"100MiB", 100 << 20, true},
		{"100 MiB", 100 << 20, true},
		{"1GiB", 1 << 30, true},
		{"1gib", 1 << 30, true},
		{"512KiB", 512 << 10, true},
		{"512k", 512 << 10, true},
		{"100MB", 100_000_000, true},
		{"7B", 7, true},
		{"-1", -1, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"100 parsecs", 0, false},
		{"9999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzParse: no input makes Parse panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "listen: x", "thrift:\n  max_message_bytes: 1MiB\n", "a: &a [*a]", "metastore:\n  config_values: {a: b}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse("fuzz.yaml", data)
	})
}
