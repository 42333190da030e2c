package embedded

import (
	"context"
	"database/sql"
	"encoding/json"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// Event types, as Hive's MessageBuilder names them.
const (
	evCreateDatabase = "CREATE_DATABASE"
	evAlterDatabase  = "ALTER_DATABASE"
	evDropDatabase   = "DROP_DATABASE"
	evCreateTable    = "CREATE_TABLE"
	evAlterTable     = "ALTER_TABLE"
	evDropTable      = "DROP_TABLE"
	evAddPartition   = "ADD_PARTITION"
	evAlterPartition = "ALTER_PARTITION"
	evDropPartition  = "DROP_PARTITION"
	evCreateFunction = "CREATE_FUNCTION"
	evDropFunction   = "DROP_FUNCTION"
	evUpdateTblStats = "UPDATE_TABLE_COLUMN_STAT"
	evUpdatePrtStats = "UPDATE_PARTITION_COLUMN_STAT"
	evDeleteTblStats = "DELETE_TABLE_COLUMN_STAT"
	evDeletePrtStats = "DELETE_PARTITION_COLUMN_STAT"
	messageFormat    = "json-0.2"
)

// eventMsg is the small JSON body; consumers that need the objects fetch them by name.
type eventMsg struct {
	DB         string   `json:"db,omitempty"`
	Table      string   `json:"table,omitempty"`
	Function   string   `json:"function,omitempty"`
	Partitions []string `json:"partitions,omitempty"`
	NewDB      string   `json:"newDb,omitempty"`
	NewTable   string   `json:"newTable,omitempty"`
	Timestamp  int64    `json:"timestamp"`
}

// event appends one notification inside tx, so it exists exactly when the write committed.
func (s *Store) event(ctx context.Context, tx *sql.Tx, typ string, m eventMsg) error {
	id, err := s.nextVal(ctx, tx, "event")
	if err != nil {
		return err
	}
	m.Timestamp = s.now().Unix()
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `INSERT INTO events (id, time, type, db, tbl, message, format) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, m.Timestamp, typ, m.DB, m.Table, string(body), messageFormat)
	return err
}

func (s *Store) CurrentEventID(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT next_val FROM sequences WHERE name = 'event'`).Scan(&n); err != nil {
		return 0, s.storeErr(err)
	}
	return n, nil
}

func (s *Store) NextEvents(ctx context.Context, lastID int64, max int) (_ []*hm.NotificationEvent, err error) {
	if max <= 0 {
		return nil, errs.Invalid("max events must be positive, got %d", max)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, type, db, tbl, message, format FROM events
		WHERE id > ? ORDER BY id LIMIT ?`, lastID, max)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	var out []*hm.NotificationEvent
	for rows.Next() {
		var (
			e       hm.NotificationEvent
			t       int64
			db, tbl string
			format  string
		)
		if err := rows.Scan(&e.EventId, &t, &e.EventType, &db, &tbl, &e.Message, &format); err != nil {
			return nil, s.storeErr(err)
		}
		e.EventTime = int32(t)
		e.DbName, e.TableName, e.MessageFormat = &db, &tbl, &format
		if tbl == "" {
			e.TableName = nil
		}
		cat := "hive"
		e.CatName = &cat
		out = append(out, &e)
	}
	return out, s.storeErr(rows.Err())
}
