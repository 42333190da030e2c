package engines

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Names lists the engines Render and Check know, in the order help text shows them.
var Names = []string{"hive", "spark", "trino", "presto", "pyiceberg"}

// Target is what an engine is pointed at.
type Target struct {
	// Endpoints are thrift://host:port URIs; several are tried in order by every engine that
	// accepts a list (Propolis replicas over one store).
	Endpoints []string
	// Catalog names the Trino/Presto catalog file and the PyIceberg catalog ("hive" and
	// "propolis" when empty).
	Catalog string
	// Warehouse, when set, is the default location of new databases for Spark and PyIceberg.
	Warehouse string
}

// ParseEndpoints splits a comma-separated list of thrift://host:port URIs and checks each one.
func ParseEndpoints(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, err := Address(e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errs.Invalid("no endpoint given: want thrift://host:port")
	}
	return out, nil
}

// Address returns the host:port of a thrift://host:port URI.
func Address(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "thrift" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", errs.Invalid("endpoint %q: want thrift://host:port", endpoint)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", errs.Invalid("endpoint %q: want thrift://host:port (port required; Propolis and Hive use 9083)", endpoint)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", errs.Invalid("endpoint %q: port %q is not a TCP port", endpoint, port)
	}
	return u.Host, nil
}

// Render returns the configuration that points engine at the target, exactly as it goes into
// the engine's file, with a first comment line naming the file.
func Render(engine string, t Target) (string, error) {
	if len(t.Endpoints) == 0 {
		return "", errs.Invalid("no endpoint given: want thrift://host:port")
	}
	for _, e := range t.Endpoints {
		if _, err := Address(e); err != nil {
			return "", err
		}
	}
	uris := strings.Join(t.Endpoints, ",")
	var b strings.Builder
	switch engine {
	case "hive":
		// Hive reads hive.metastore.uris; the property goes inside <configuration>.
		fmt.Fprintf(&b, "<!-- hive-site.xml (HiveServer2, Hive CLI, and any Hadoop tool that reads it): inside <configuration> -->\n")
		fmt.Fprintf(&b, "<property>\n  <name>hive.metastore.uris</name>\n  <value>%s</value>\n</property>\n", xmlEscape(uris))
	case "spark":
		fmt.Fprintf(&b, "# $SPARK_HOME/conf/spark-defaults.conf (or --conf key=value; pyspark: .config(key, value) before enableHiveSupport())\n")
		fmt.Fprintf(&b, "spark.sql.catalogImplementation    hive\n")
		fmt.Fprintf(&b, "spark.hadoop.hive.metastore.uris   %s\n", uris)
		if t.Warehouse != "" {
			fmt.Fprintf(&b, "spark.sql.warehouse.dir            %s\n", t.Warehouse)
		}
	case "trino", "presto":
		catalog := t.Catalog
		if catalog == "" {
			catalog = "hive"
		}
		if err := checkCatalog(catalog); err != nil {
			return "", err
		}
		// Trino's Hive connector is "hive"; PrestoDB still names it "hive-hadoop2".
		connector := "hive"
		if engine == "presto" {
			connector = "hive-hadoop2"
		}
		fmt.Fprintf(&b, "# etc/catalog/%s.properties (the catalog is %q in queries: %s.<schema>.<table>)\n", catalog, catalog, catalog)
		fmt.Fprintf(&b, "connector.name=%s\n", connector)
		fmt.Fprintf(&b, "hive.metastore.uri=%s\n", uris)
	case "pyiceberg":
		catalog := t.Catalog
		if catalog == "" {
			catalog = "propolis"
		}
		if err := checkCatalog(catalog); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "# ~/.pyiceberg.yaml (or $PYICEBERG_HOME/.pyiceberg.yaml); then load_catalog(%q)\n", catalog)
		fmt.Fprintf(&b, "catalog:\n  %s:\n    type: hive\n    uri: %s\n", catalog, yamlQuote(uris))
		if t.Warehouse != "" {
			fmt.Fprintf(&b, "    warehouse: %s\n", yamlQuote(t.Warehouse))
		}
	default:
		return "", errs.Invalid("unknown engine %q: want one of %s", engine, strings.Join(Names, ", "))
	}
	return b.String(), nil
}

func checkCatalog(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return errs.Invalid("catalog name %q: use lower-case letters, digits, '_' and '-'", name)
		}
	}
	if name == "" {
		return errs.Invalid("empty catalog name")
	}
	return nil
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// yamlQuote quotes a scalar only when YAML would not read it back as the same string (URIs
// stay plain, as users write them).
func yamlQuote(s string) string {
	if s == "" || strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.TrimSpace(s) != s ||
		strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@`") {
		return strconv.Quote(s)
	}
	return s
}

// Known reports whether Render and Check know the engine.
func Known(engine string) bool { return slices.Contains(Names, engine) }
