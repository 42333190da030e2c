package hms

import (
	"context"
	"math/big"
	"sort"

	hm "github.com/beltran/gohive/hive_metastore"
)

// GetAggrStatsFor merges the column statistics of the named partitions into one set per
// column, as Hive's metastore answers the planner (HiveServer2's CBO asks for it on every
// partitioned table it plans): minimum of lows, maximum of highs, sums of null and value
// counts, the largest distinct-value count and column lengths. PartsFound counts the
// partitions that had statistics. Unlike Hive it does not extrapolate for partitions without
// statistics, and it drops bit vectors, which do not merge by these rules.
func (h *Handler) GetAggrStatsFor(ctx context.Context, req *hm.PartitionsStatsRequest) (*hm.AggrStats, error) {
	res, err := h.GetPartitionsStatisticsReq(ctx, req)
	if err != nil {
		return nil, err
	}
	merged := map[string]*hm.ColumnStatisticsObj{}
	var order []string
	found := int64(0)
	for _, objs := range res.PartStats {
		if len(objs) > 0 {
			found++
		}
		for _, o := range objs {
			if o == nil || o.StatsData == nil {
				continue
			}
			m, ok := merged[o.ColName]
			if !ok {
				c := &hm.ColumnStatisticsObj{ColName: o.ColName, ColType: o.ColType, StatsData: copyStatsData(o.StatsData)}
				merged[o.ColName] = c
				order = append(order, o.ColName)
				continue
			}
			mergeStatsData(m.StatsData, o.StatsData)
		}
	}
	sort.Strings(order)
	out := &hm.AggrStats{ColStats: make([]*hm.ColumnStatisticsObj, 0, len(order)), PartsFound: found}
	for _, c := range order {
		out.ColStats = append(out.ColStats, merged[c])
	}
	return out, nil
}

// copyStatsData copies d without bit vectors.
func copyStatsData(d *hm.ColumnStatisticsData) *hm.ColumnStatisticsData {
	out := &hm.ColumnStatisticsData{}
	switch {
	case d.BooleanStats != nil:
		c := *d.BooleanStats
		c.BitVectors = nil
		out.BooleanStats = &c
	case d.LongStats != nil:
		c := *d.LongStats
		c.BitVectors = nil
		out.LongStats = &c
	case d.DoubleStats != nil:
		c := *d.DoubleStats
		c.BitVectors = nil
		out.DoubleStats = &c
	case d.StringStats != nil:
		c := *d.StringStats
		c.BitVectors = nil
		out.StringStats = &c
	case d.BinaryStats != nil:
		c := *d.BinaryStats
		c.BitVectors = nil
		out.BinaryStats = &c
	case d.DecimalStats != nil:
		c := *d.DecimalStats
		c.BitVectors = nil
		out.DecimalStats = &c
	case d.DateStats != nil:
		c := *d.DateStats
		c.BitVectors = nil
		out.DateStats = &c
	case d.TimestampStats != nil:
		c := *d.TimestampStats
		c.BitVectors = nil
		out.TimestampStats = &c
	}
	return out
}

// mergeStatsData folds o into m, which has the same kind (a kind change is left as is).
func mergeStatsData(m, o *hm.ColumnStatisticsData) {
	switch {
	case m.BooleanStats != nil && o.BooleanStats != nil:
		m.BooleanStats.NumTrues += o.BooleanStats.NumTrues
		m.BooleanStats.NumFalses += o.BooleanStats.NumFalses
		m.BooleanStats.NumNulls += o.BooleanStats.NumNulls
	case m.LongStats != nil && o.LongStats != nil:
		a, b := m.LongStats, o.LongStats
		a.LowValue = pick(a.LowValue, b.LowValue, func(x, y int64) bool { return y < x })
		a.HighValue = pick(a.HighValue, b.HighValue, func(x, y int64) bool { return y > x })
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	case m.DoubleStats != nil && o.DoubleStats != nil:
		a, b := m.DoubleStats, o.DoubleStats
		a.LowValue = pick(a.LowValue, b.LowValue, func(x, y float64) bool { return y < x })
		a.HighValue = pick(a.HighValue, b.HighValue, func(x, y float64) bool { return y > x })
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	case m.StringStats != nil && o.StringStats != nil:
		a, b := m.StringStats, o.StringStats
		a.MaxColLen = max(a.MaxColLen, b.MaxColLen)
		a.AvgColLen = max(a.AvgColLen, b.AvgColLen)
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	case m.BinaryStats != nil && o.BinaryStats != nil:
		a, b := m.BinaryStats, o.BinaryStats
		a.MaxColLen = max(a.MaxColLen, b.MaxColLen)
		a.AvgColLen = max(a.AvgColLen, b.AvgColLen)
		a.NumNulls += b.NumNulls
	case m.DecimalStats != nil && o.DecimalStats != nil:
		a, b := m.DecimalStats, o.DecimalStats
		a.LowValue = pick(a.LowValue, b.LowValue, func(x, y hm.Decimal) bool { return decimalCmp(&y, &x) < 0 })
		a.HighValue = pick(a.HighValue, b.HighValue, func(x, y hm.Decimal) bool { return decimalCmp(&y, &x) > 0 })
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	case m.DateStats != nil && o.DateStats != nil:
		a, b := m.DateStats, o.DateStats
		a.LowValue = pick(a.LowValue, b.LowValue, func(x, y hm.Date) bool { return y.DaysSinceEpoch < x.DaysSinceEpoch })
		a.HighValue = pick(a.HighValue, b.HighValue, func(x, y hm.Date) bool { return y.DaysSinceEpoch > x.DaysSinceEpoch })
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	case m.TimestampStats != nil && o.TimestampStats != nil:
		a, b := m.TimestampStats, o.TimestampStats
		a.LowValue = pick(a.LowValue, b.LowValue, func(x, y hm.Timestamp) bool { return y.SecondsSinceEpoch < x.SecondsSinceEpoch })
		a.HighValue = pick(a.HighValue, b.HighValue, func(x, y hm.Timestamp) bool { return y.SecondsSinceEpoch > x.SecondsSinceEpoch })
		a.NumNulls += b.NumNulls
		a.NumDVs = max(a.NumDVs, b.NumDVs)
	}
}

// pick returns whichever of cur and next is set, or next when both are and better(cur, next).
func pick[T any](cur, next *T, better func(cur, next T) bool) *T {
	switch {
	case next == nil:
		return cur
	case cur == nil || better(*cur, *next):
		return next
	}
	return cur
}

// decimalCmp compares two Hive decimals (big-endian two's-complement unscaled, and a scale).
func decimalCmp(x, y *hm.Decimal) int {
	if x == nil || y == nil {
		return 0
	}
	a, b := signed(x.Unscaled), signed(y.Unscaled)
	// Bring both to the larger scale.
	switch {
	case x.Scale < y.Scale:
		a.Mul(a, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(y.Scale-x.Scale)), nil))
	case y.Scale < x.Scale:
		b.Mul(b, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale-y.Scale)), nil))
	}
	return a.Cmp(b)
}

func signed(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return v
}
