package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

// Parameter keys of the checkpoint (see doc.go).
const (
	paramPrefix = "propolis.migrate."
	paramRun    = paramPrefix + "run"
	paramState  = paramPrefix + "state"
	paramSource = paramPrefix + "source"
)

// clone deep-copies a Thrift struct through its own serialization, so no field is forgotten.
func clone[T any, P interface {
	*T
	thrift.TStruct
}](v P) P {
	if v == nil {
		return nil
	}
	ctx := context.Background()
	b, err := thrift.NewTSerializer().Write(ctx, v)
	if err != nil {
		panic(fmt.Sprintf("migrate: serialize %T: %v", v, err))
	}
	out := P(new(T))
	if err := thrift.NewTDeserializer().Read(ctx, out, b); err != nil {
		panic(fmt.Sprintf("migrate: deserialize %T: %v", v, err))
	}
	return out
}

// volatileParams are set by a metastore itself on every write; they never count as a difference.
func cleanParams(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "transient_lastDdlTime" || strings.HasPrefix(k, paramPrefix) {
			continue
		}
		out[k] = v
	}
	return out
}

// The canonical forms keep what the user defined and drop what each metastore assigns itself
// (times, ids, catalog, write ids, privileges, cached statistics objects).

func canonicalDatabase(db *hm.Database) *hm.Database {
	out := clone(db)
	out.Parameters = cleanParams(out.Parameters)
	out.Privileges, out.CatalogName, out.CreateTime, out.OwnerType = nil, nil, nil, nil
	out.Type, out.ConnectorName, out.RemoteDbname, out.ManagedLocationUri = nil, nil, nil, nil
	out.Name = strings.ToLower(out.Name)
	return out
}

func canonicalTable(t *hm.Table) *hm.Table {
	out := clone(t)
	out.Parameters = cleanParams(out.Parameters)
	out.CreateTime, out.LastAccessTime, out.Privileges, out.CatName = 0, 0, nil, nil
	out.OwnerType, out.WriteId, out.IsStatsCompliant, out.ColStats = 0, 0, nil, nil
	out.AccessType, out.RequiredReadCapabilities, out.RequiredWriteCapabilities, out.ID = nil, nil, nil, nil
	out.CreationMetadata, out.RewriteEnabled = nil, nil
	out.DbName, out.TableName = strings.ToLower(out.DbName), strings.ToLower(out.TableName)
	canonicalSD(out.Sd)
	return out
}

func canonicalPartition(p *hm.Partition) *hm.Partition {
	out := clone(p)
	out.Parameters = cleanParams(out.Parameters)
	out.CreateTime, out.LastAccessTime, out.Privileges, out.CatName = 0, 0, nil, nil
	out.WriteId, out.IsStatsCompliant, out.ColStats = 0, nil, nil
	out.DbName, out.TableName = strings.ToLower(out.DbName), strings.ToLower(out.TableName)
	canonicalSD(out.Sd)
	return out
}

func canonicalFunction(f *hm.Function) *hm.Function {
	out := clone(f)
	out.CreateTime, out.CatName = 0, nil
	out.DbName, out.FunctionName = strings.ToLower(out.DbName), strings.ToLower(out.FunctionName)
	return out
}

func canonicalSD(sd *hm.StorageDescriptor) {
	if sd == nil {
		return
	}
	if len(sd.Parameters) == 0 {
		sd.Parameters = nil
	}
	if sd.SerdeInfo != nil && len(sd.SerdeInfo.Parameters) == 0 {
		sd.SerdeInfo.Parameters = nil
	}
	if len(sd.BucketCols) == 0 {
		sd.BucketCols = nil
	}
	if len(sd.SortCols) == 0 {
		sd.SortCols = nil
	}
	if sd.SkewedInfo != nil && len(sd.SkewedInfo.SkewedColNames) == 0 && len(sd.SkewedInfo.SkewedColValues) == 0 {
		sd.SkewedInfo = nil
	}
	if sd.StoredAsSubDirectories != nil && !*sd.StoredAsSubDirectories {
		sd.StoredAsSubDirectories = nil
	}
	for _, c := range sd.Cols {
		c.Type = strings.ToLower(c.Type)
		c.Name = strings.ToLower(c.Name)
	}
}

// diff lists the fields in which got differs from want ("Sd.Location: want x, got y"), both
// already canonical. An empty result means equal.
func diff(want, got any) []string {
	var w, g any
	mustJSON(want, &w)
	mustJSON(got, &g)
	var out []string
	diffValue("", w, g, &out)
	return out
}

func mustJSON(v any, into *any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("migrate: %T to JSON: %v", v, err))
	}
	if err := json.Unmarshal(b, into); err != nil {
		panic(err)
	}
}

func diffValue(path string, w, g any, out *[]string) {
	wm, wok := w.(map[string]any)
	gm, gok := g.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValue(p, wm[k], gm[k], out)
		}
		return
	}
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(g)
	if string(wb) != string(gb) {
		*out = append(*out, fmt.Sprintf("%s: source %s, target %s", path, short(wb), short(gb)))
	}
}

func short(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
