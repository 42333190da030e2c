package glue

import (
	"context"

	hm "github.com/beltran/gohive/hive_metastore"
)

// Glue has no metastore locks (Hive ACID's DbLockManager) and no notification log. Lock calls
// fail with Unsupported so a client never believes it holds a lock nobody enforces; the event
// calls answer "no events" so cache invalidation and replication simply see nothing to do.

const noLocks = "Glue has no metastore locks: the Glue Data Catalog does not implement Hive's lock manager (ACID transactions are not supported on a Glue backend)"

func (c *Client) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	return nil, unsupported(noLocks)
}

func (c *Client) CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error) {
	return nil, unsupported(noLocks)
}

func (c *Client) Unlock(ctx context.Context, lockID int64) error { return unsupported(noLocks) }

func (c *Client) Heartbeat(ctx context.Context, lockID int64) error { return unsupported(noLocks) }

func (c *Client) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	return nil, unsupported(noLocks)
}

// CurrentEventID is 0: Glue keeps no notification log.
func (c *Client) CurrentEventID(ctx context.Context) (int64, error) { return 0, nil }

// NextEvents is always empty: Glue keeps no notification log.
func (c *Client) NextEvents(ctx context.Context, lastID int64, max int) ([]*hm.NotificationEvent, error) {
	return []*hm.NotificationEvent{}, nil
}
