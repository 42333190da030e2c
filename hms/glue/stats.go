package glue

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

const day = 24 * time.Hour

// statsToGlue converts one Hive statistics object. ok is false for kinds Glue cannot hold
// (timestamp statistics): those are skipped, see doc.go.
func statsToGlue(o *hm.ColumnStatisticsObj, analyzed time.Time) (types.ColumnStatistics, bool, error) {
	out := types.ColumnStatistics{ColumnName: aws.String(norm(o.ColName)), ColumnType: aws.String(o.ColType), AnalyzedTime: &analyzed}
	d := o.StatsData
	if d == nil {
		return out, false, errs.Invalid("column statistics for %s have no data", o.ColName)
	}
	g := &types.ColumnStatisticsData{}
	switch {
	case d.LongStats != nil:
		s := d.LongStats
		g.Type = types.ColumnStatisticsTypeLong
		g.LongColumnStatisticsData = &types.LongColumnStatisticsData{
			NumberOfDistinctValues: s.NumDVs, NumberOfNulls: s.NumNulls,
			MinimumValue: derefOr(s.LowValue, 0), MaximumValue: derefOr(s.HighValue, 0)}
	case d.DoubleStats != nil:
		s := d.DoubleStats
		g.Type = types.ColumnStatisticsTypeDouble
		g.DoubleColumnStatisticsData = &types.DoubleColumnStatisticsData{
			NumberOfDistinctValues: s.NumDVs, NumberOfNulls: s.NumNulls,
			MinimumValue: derefOr(s.LowValue, 0), MaximumValue: derefOr(s.HighValue, 0)}
	case d.StringStats != nil:
		s := d.StringStats
		g.Type = types.ColumnStatisticsTypeString
		g.StringColumnStatisticsData = &types.StringColumnStatisticsData{
			AverageLength: s.AvgColLen, MaximumLength: s.MaxColLen, NumberOfDistinctValues: s.NumDVs, NumberOfNulls: s.NumNulls}
	case d.BooleanStats != nil:
		s := d.BooleanStats
		g.Type = types.ColumnStatisticsTypeBoolean
		g.BooleanColumnStatisticsData = &types.BooleanColumnStatisticsData{NumberOfTrues: s.NumTrues, NumberOfFalses: s.NumFalses, NumberOfNulls: s.NumNulls}
	case d.BinaryStats != nil:
		s := d.BinaryStats
		g.Type = types.ColumnStatisticsTypeBinary
		g.BinaryColumnStatisticsData = &types.BinaryColumnStatisticsData{AverageLength: s.AvgColLen, MaximumLength: s.MaxColLen, NumberOfNulls: s.NumNulls}
	case d.DecimalStats != nil:
		s := d.DecimalStats
		g.Type = types.ColumnStatisticsTypeDecimal
		g.DecimalColumnStatisticsData = &types.DecimalColumnStatisticsData{NumberOfDistinctValues: s.NumDVs, NumberOfNulls: s.NumNulls,
			MinimumValue: decToGlue(s.LowValue), MaximumValue: decToGlue(s.HighValue)}
	case d.DateStats != nil:
		s := d.DateStats
		g.Type = types.ColumnStatisticsTypeDate
		g.DateColumnStatisticsData = &types.DateColumnStatisticsData{NumberOfDistinctValues: s.NumDVs, NumberOfNulls: s.NumNulls,
			MinimumValue: dateToGlue(s.LowValue), MaximumValue: dateToGlue(s.HighValue)}
	default:
		return out, false, nil
	}
	out.StatisticsData = g
	return out, true, nil
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func decToGlue(d *hm.Decimal) *types.DecimalNumber {
	if d == nil {
		return nil
	}
	return &types.DecimalNumber{Scale: int32(d.Scale), UnscaledValue: d.Unscaled}
}

func decFromGlue(d *types.DecimalNumber) *hm.Decimal {
	if d == nil {
		return nil
	}
	return &hm.Decimal{Scale: int16(d.Scale), Unscaled: d.UnscaledValue}
}

func dateToGlue(d *hm.Date) *time.Time {
	if d == nil {
		return nil
	}
	t := time.Unix(0, 0).UTC().Add(time.Duration(d.DaysSinceEpoch) * day)
	return &t
}

func dateFromGlue(t *time.Time) *hm.Date {
	if t == nil {
		return nil
	}
	u := t.UTC()
	days := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).Unix() / int64(day/time.Second)
	return &hm.Date{DaysSinceEpoch: days}
}

func statsFromGlue(g *types.ColumnStatistics) *hm.ColumnStatisticsObj {
	o := &hm.ColumnStatisticsObj{ColName: norm(aws.ToString(g.ColumnName)), ColType: aws.ToString(g.ColumnType), StatsData: &hm.ColumnStatisticsData{}}
	d := g.StatisticsData
	if d == nil {
		return nil
	}
	switch {
	case d.LongColumnStatisticsData != nil:
		s := d.LongColumnStatisticsData
		o.StatsData.LongStats = &hm.LongColumnStatsData{LowValue: aws.Int64(s.MinimumValue), HighValue: aws.Int64(s.MaximumValue), NumNulls: s.NumberOfNulls, NumDVs: s.NumberOfDistinctValues}
	case d.DoubleColumnStatisticsData != nil:
		s := d.DoubleColumnStatisticsData
		o.StatsData.DoubleStats = &hm.DoubleColumnStatsData{LowValue: aws.Float64(s.MinimumValue), HighValue: aws.Float64(s.MaximumValue), NumNulls: s.NumberOfNulls, NumDVs: s.NumberOfDistinctValues}
	case d.StringColumnStatisticsData != nil:
		s := d.StringColumnStatisticsData
		o.StatsData.StringStats = &hm.StringColumnStatsData{MaxColLen: s.MaximumLength, AvgColLen: s.AverageLength, NumNulls: s.NumberOfNulls, NumDVs: s.NumberOfDistinctValues}
	case d.BooleanColumnStatisticsData != nil:
		s := d.BooleanColumnStatisticsData
		o.StatsData.BooleanStats = &hm.BooleanColumnStatsData{NumTrues: s.NumberOfTrues, NumFalses: s.NumberOfFalses, NumNulls: s.NumberOfNulls}
	case d.BinaryColumnStatisticsData != nil:
		s := d.BinaryColumnStatisticsData
		o.StatsData.BinaryStats = &hm.BinaryColumnStatsData{MaxColLen: s.MaximumLength, AvgColLen: s.AverageLength, NumNulls: s.NumberOfNulls}
	case d.DecimalColumnStatisticsData != nil:
		s := d.DecimalColumnStatisticsData
		o.StatsData.DecimalStats = &hm.DecimalColumnStatsData{LowValue: decFromGlue(s.MinimumValue), HighValue: decFromGlue(s.MaximumValue), NumNulls: s.NumberOfNulls, NumDVs: s.NumberOfDistinctValues}
	case d.DateColumnStatisticsData != nil:
		s := d.DateColumnStatisticsData
		o.StatsData.DateStats = &hm.DateColumnStatsData{LowValue: dateFromGlue(s.MinimumValue), HighValue: dateFromGlue(s.MaximumValue), NumNulls: s.NumberOfNulls, NumDVs: s.NumberOfDistinctValues}
	default:
		return nil
	}
	return o
}

// partValues turns a partition name into values in the table's key order.
func (c *Client) partValues(ctx context.Context, db, tbl, name string) ([]string, error) {
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	ks, vs, err := hivename.ParsePartName(name)
	if err != nil {
		return nil, err
	}
	byKey := map[string]string{}
	for i, k := range ks {
		byKey[norm(k)] = vs[i]
	}
	if len(ks) != len(t.PartitionKeys) {
		return nil, errs.Invalid("partition name %q does not match the partition keys of %s.%s", name, t.DbName, t.TableName)
	}
	out := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		v, ok := byKey[norm(k.Name)]
		if !ok {
			return nil, errs.Invalid("partition name %q has no value for key %s", name, k.Name)
		}
		out[i] = v
	}
	return out, nil
}

func (c *Client) noStats() error {
	if c.cfg.DisableColumnStatistics {
		return errs.Unsupported("glue backend %q is configured without column statistics (disable_column_statistics)", c.name)
	}
	return nil
}

func (c *Client) UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error {
	if err := c.noStats(); err != nil {
		return err
	}
	if stats == nil || stats.StatsDesc == nil {
		return errs.Invalid("column statistics without a description")
	}
	desc := stats.StatsDesc
	db, tbl := norm(desc.DbName), norm(desc.TableName)
	if desc.IsTblLevel {
		if _, err := c.GetTable(ctx, db, tbl); err != nil {
			return err
		}
		return c.putTableStats(ctx, db, tbl, stats.StatsObj, desc.LastAnalyzed)
	}
	if desc.PartName == nil || *desc.PartName == "" {
		return errs.Invalid("partition column statistics for %s.%s without a partition name", db, tbl)
	}
	values, err := c.partValues(ctx, db, tbl, *desc.PartName)
	if err != nil {
		return err
	}
	list, err := c.toGlueStats(stats.StatsObj, desc.LastAnalyzed)
	if err != nil {
		return err
	}
	for start := 0; start < len(list); start += maxStatsUpdate {
		chunk := list[start:min(start+maxStatsUpdate, len(list))]
		var out *glue.UpdateColumnStatisticsForPartitionOutput
		err := c.call(ctx, "update column statistics of "+db+"."+tbl+" partition "+*desc.PartName, func(ctx context.Context) (err error) {
			out, err = c.g.UpdateColumnStatisticsForPartition(ctx, &glue.UpdateColumnStatisticsForPartitionInput{
				CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: values, ColumnStatisticsList: chunk})
			return err
		})
		if err != nil {
			return err
		}
		if err := c.statsErrors("update column statistics of "+db+"."+tbl, out.Errors); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) toGlueStats(objs []*hm.ColumnStatisticsObj, lastAnalyzed *int64) ([]types.ColumnStatistics, error) {
	analyzed := time.Now().UTC().Truncate(time.Second)
	if lastAnalyzed != nil && *lastAnalyzed > 0 {
		analyzed = time.Unix(*lastAnalyzed, 0).UTC()
	}
	var list []types.ColumnStatistics
	for _, o := range objs {
		if o == nil {
			continue
		}
		g, ok, err := statsToGlue(o, analyzed)
		if err != nil {
			return nil, err
		}
		if !ok {
			c.log.Debug("column statistics of a kind Glue cannot hold are not stored", "column", o.ColName, "type", o.ColType)
			continue
		}
		list = append(list, g)
	}
	return list, nil
}

func (c *Client) statsErrors(op string, errsOut []types.ColumnStatisticsError) error {
	for _, e := range errsOut {
		col := ""
		if e.ColumnStatistics != nil {
			col = aws.ToString(e.ColumnStatistics.ColumnName)
		}
		d := e.Error
		if d == nil {
			d = &types.ErrorDetail{}
		}
		return c.entryError(op, []string{"column " + col}, d)
	}
	return nil
}

func (c *Client) putTableStats(ctx context.Context, db, tbl string, objs []*hm.ColumnStatisticsObj, lastAnalyzed *int64) error {
	if err := c.noStats(); err != nil {
		return err
	}
	list, err := c.toGlueStats(objs, lastAnalyzed)
	if err != nil {
		return err
	}
	for start := 0; start < len(list); start += maxStatsUpdate {
		chunk := list[start:min(start+maxStatsUpdate, len(list))]
		var out *glue.UpdateColumnStatisticsForTableOutput
		err := c.call(ctx, "update column statistics of "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.UpdateColumnStatisticsForTable(ctx, &glue.UpdateColumnStatisticsForTableInput{
				CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), ColumnStatisticsList: chunk})
			return err
		})
		if err != nil {
			return err
		}
		if err := c.statsErrors("update column statistics of "+db+"."+tbl, out.Errors); err != nil {
			return err
		}
	}
	return nil
}

// orderStats returns the objects in the order of cols, each column once.
func orderStats(got []types.ColumnStatistics, cols []string) []*hm.ColumnStatisticsObj {
	by := map[string]*hm.ColumnStatisticsObj{}
	for i := range got {
		if o := statsFromGlue(&got[i]); o != nil {
			by[o.ColName] = o
		}
	}
	out := []*hm.ColumnStatisticsObj{}
	for _, c := range cols {
		if o, ok := by[norm(c)]; ok {
			out = append(out, o)
			delete(by, norm(c))
		}
	}
	return out
}

func dedupCols(cols []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, c := range cols {
		if n := norm(c); n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// TableColumnStatistics asks Glue 100 columns a call; columns without statistics come back as
// per-column errors and are simply absent, as in Hive.
func (c *Client) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	db, tbl = norm(db), norm(tbl)
	cols = dedupCols(cols)
	if c.cfg.DisableColumnStatistics {
		_, err := c.GetTable(ctx, db, tbl)
		return []*hm.ColumnStatisticsObj{}, err
	}
	var got []types.ColumnStatistics
	for start := 0; start < len(cols); start += maxStatsColumns {
		chunk := cols[start:min(start+maxStatsColumns, len(cols))]
		var out *glue.GetColumnStatisticsForTableOutput
		err := c.call(ctx, "get column statistics of "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.GetColumnStatisticsForTable(ctx, &glue.GetColumnStatisticsForTableInput{
				CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), ColumnNames: chunk})
			return err
		})
		if err != nil {
			if errs.KindOf(err) == errs.KindNotFound {
				return nil, errs.NotFound("%s.%s table not found", db, tbl)
			}
			return nil, err
		}
		got = append(got, out.ColumnStatisticsList...)
	}
	return orderStats(got, cols), nil
}

func (c *Client) PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error) {
	db, tbl = norm(db), norm(tbl)
	cols = dedupCols(cols)
	res := map[string][]*hm.ColumnStatisticsObj{}
	if c.cfg.DisableColumnStatistics {
		_, err := c.GetTable(ctx, db, tbl)
		return res, err
	}
	if len(partNames) == 0 || len(cols) == 0 {
		return res, nil
	}
	for _, name := range partNames {
		values, err := c.partValues(ctx, db, tbl, name)
		if err != nil {
			return nil, err
		}
		var got []types.ColumnStatistics
		missing := false
		for start := 0; start < len(cols) && !missing; start += maxStatsColumns {
			chunk := cols[start:min(start+maxStatsColumns, len(cols))]
			var out *glue.GetColumnStatisticsForPartitionOutput
			err := c.call(ctx, "get column statistics of "+db+"."+tbl+" partition "+name, func(ctx context.Context) (err error) {
				out, err = c.g.GetColumnStatisticsForPartition(ctx, &glue.GetColumnStatisticsForPartitionInput{
					CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: values, ColumnNames: chunk})
				return err
			})
			if errs.KindOf(err) == errs.KindNotFound {
				missing = true // no such partition: absent from the answer, as in Hive
				break
			}
			if err != nil {
				return nil, err
			}
			got = append(got, out.ColumnStatisticsList...)
		}
		if objs := orderStats(got, cols); !missing && len(objs) > 0 {
			res[name] = objs
		}
	}
	return res, nil
}

// DeleteColumnStatistics deletes one column's statistics, or every column's (Glue deletes
// one column a call).
func (c *Client) DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error {
	if err := c.noStats(); err != nil {
		return err
	}
	db, tbl = norm(db), norm(tbl)
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return err
	}
	var values []string
	if partName != "" {
		if values, err = c.partValues(ctx, db, tbl, partName); err != nil {
			return err
		}
	}
	cols := []string{norm(col)}
	if col == "" {
		cols = colNames(t.Sd.Cols)
		if partName == "" {
			// Table-level statistics may exist for partition keys too.
			cols = append(cols, colNames(t.PartitionKeys)...)
		}
	}
	for _, cn := range cols {
		op := "delete column statistics of " + db + "." + tbl + " column " + cn
		err := c.call(ctx, op, func(ctx context.Context) error {
			if partName == "" {
				_, err := c.g.DeleteColumnStatisticsForTable(ctx, &glue.DeleteColumnStatisticsForTableInput{
					CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), ColumnName: aws.String(cn)})
				return err
			}
			_, err := c.g.DeleteColumnStatisticsForPartition(ctx, &glue.DeleteColumnStatisticsForPartitionInput{
				CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: values, ColumnName: aws.String(cn)})
			return err
		})
		if err != nil && !(col == "" && errs.KindOf(err) == errs.KindNotFound) {
			return err
		}
	}
	return nil
}
