package cache

import (
	"context"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// run polls the notification log until Close.
func (b *Backend) run() {
	defer close(b.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(b.cfg.PollInterval)
	defer tick.Stop()
	for {
		if b.poll(ctx) == modeTTL {
			b.log.Info("backend keeps no notification log: cache entries live until their TTL or a write through Propolis", "backend", b.cfg.Name, "ttl", b.cfg.TTL)
			return
		}
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

// poll catches up with the notification log once and returns the resulting mode.
func (b *Backend) poll(ctx context.Context) int32 {
	ctx, cancel := context.WithTimeout(ctx, max(30*time.Second, 5*b.cfg.PollInterval))
	defer cancel()
	err := b.catchUp(ctx)
	switch {
	case err == nil:
		if b.pollFailing {
			b.log.Info("notification log readable again", "backend", b.cfg.Name, "event", b.last)
			b.pollFailing = false
		}
	case errs.KindOf(err) == errs.KindUnsupported:
		b.mode.Store(modeTTL)
	case ctx.Err() == context.Canceled:
		// closing
	default:
		b.m.pollErrors.Inc()
		if !b.pollFailing {
			// Entries stay: each read that misses still goes upstream, and the TTL bounds
			// what a hit can miss; the log resumes where it stopped.
			b.log.Warn("cannot read the notification log; invalidation by events paused", "backend", b.cfg.Name, "err", err)
			b.pollFailing = true
		}
	}
	return b.mode.Load()
}

func (b *Backend) catchUp(ctx context.Context) error {
	cur, err := b.next.CurrentEventID(ctx)
	if err != nil {
		return err
	}
	if !b.haveCursor {
		// Values read from now on are at least as new as event cur; later events invalidate
		// them. Nothing read before this point was stored.
		b.last, b.haveCursor = cur, true
		b.mode.Store(modeEvents)
		return nil
	}
	if cur < b.last {
		b.log.Warn("notification log went backwards (metastore database replaced?): dropping the cache", "backend", b.cfg.Name, "was", b.last, "now", cur)
		b.store.dropAll("gap")
		b.last = cur
		return nil
	}
	for b.last < cur {
		evs, err := b.next.NextEvents(ctx, b.last, eventBatch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			// The log says events up to cur exist but none after last are left: purged.
			b.log.Warn("notification events purged before they were read: dropping the cache", "backend", b.cfg.Name, "last", b.last, "current", cur)
			b.store.dropAll("gap")
			b.last = cur
			return nil
		}
		if first := evs[0].EventId; first > b.last+1 {
			b.log.Warn("gap in the notification log: dropping the cache", "backend", b.cfg.Name, "last", b.last, "next", first)
			b.store.dropAll("gap")
		}
		for _, e := range evs {
			if e.EventId <= b.last {
				continue
			}
			b.apply(e)
			b.last = e.EventId
		}
	}
	return nil
}

// apply drops what one event may have changed. Events name the object by its old name; a rename
// (ALTER_TABLE) can also create a name in another database, so it drops every table listing.
func (b *Backend) apply(e *hm.NotificationEvent) {
	b.m.events.Inc()
	db, tbl := norm(e.GetDbName()), norm(e.GetTableName())
	switch {
	case db == "":
		b.store.dropAll("event")
	case tbl == "":
		b.store.dropDB("event", db)
	default:
		switch e.EventType {
		case "ADD_PARTITION", "ALTER_PARTITION", "DROP_PARTITION", "INSERT",
			"UPDATE_TABLE_COLUMN_STAT", "UPDATE_PARTITION_COLUMN_STAT",
			"DELETE_TABLE_COLUMN_STAT", "DELETE_PARTITION_COLUMN_STAT",
			"UPDATE_PARTITION_COLUMN_STAT_BATCH", "COMMIT_TXN", "ALLOC_WRITE_ID", "ACID_WRITE":
			b.store.dropTable("event", db, tbl, false, false)
		case "CREATE_TABLE", "DROP_TABLE":
			b.store.dropTable("event", db, tbl, true, false)
		default: // ALTER_TABLE and anything we do not know
			b.store.dropTable("event", db, tbl, true, true)
		}
	}
}
