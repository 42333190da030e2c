package glue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

var _ hms.Backend = (*Client)(nil)

// Config configures one Glue Data Catalog backend.
type Config struct {
	// Name names the backend in errors and logs ("glue" when empty).
	Name string
	// Region is the AWS region (required unless the default chain provides one).
	Region string
	// Endpoint overrides the Glue endpoint, e.g. a moto server (http://127.0.0.1:5000).
	Endpoint string
	// CatalogID is the AWS account id of the catalog; empty means the caller's account.
	CatalogID string
	// Static credentials; when AccessKeyID is empty the SDK's default chain is used
	// (environment, shared config, SSO, IMDS, ...).
	AccessKeyID, SecretAccessKey, SessionToken string
	// CallTimeout bounds each Glue API call (each page of a listing). Zero means 30s.
	CallTimeout time.Duration
	// MaxAttempts is the SDK's retry budget per call (throttling, 5xx, network). Zero means
	// the SDK default (3).
	MaxAttempts int
	// PageSize caps MaxResults of paginated calls. Zero means Glue's maximum for each call;
	// tests set it small to exercise pagination.
	PageSize int32
	// Warehouse is the root under which a database created without a location gets
	// <warehouse>/<name>.db, as Hive does. Empty leaves such databases without a location.
	Warehouse string
	// DisableFilterPushdown evaluates every partition filter in Propolis instead of sending
	// it to Glue as an Expression first.
	DisableFilterPushdown bool
	// DisableFunctions declares that the catalog has no user-defined-function API (moto's
	// emulator lacks it): function calls fail with Unsupported and DropDatabase does not look
	// for functions before refusing a non-cascade drop. Real Glue has the API.
	DisableFunctions bool
	// DisableColumnStatistics declares that the catalog has no column statistics API (moto's
	// emulator lacks it): reads return no statistics, which engines treat as "not analyzed",
	// and writes fail with Unsupported. Real Glue has the API.
	DisableColumnStatistics bool
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient *http.Client
}

// Client is a hms.Backend over one AWS Glue Data Catalog.
type Client struct {
	cfg  Config
	name string
	g    *glue.Client
	log  *slog.Logger
}

// Glue's documented per-call limits.
const (
	maxDatabasesPage  = 100
	maxTablesPage     = 100
	maxPartitionsPage = 1000
	maxFunctionsPage  = 100
	batchGetParts     = 1000
	batchCreateParts  = 100
	batchUpdateParts  = 100
	batchDeleteParts  = 25
	maxStatsColumns   = 100 // GetColumnStatisticsFor*: ColumnNames
	maxStatsUpdate    = 25  // UpdateColumnStatisticsFor*: ColumnStatisticsList
	getTablesParallel = 8
)

// New builds the client. It does not contact Glue: call Ping for that.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.Name
	if name == "" {
		name = "glue"
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.PageSize < 0 {
		return nil, errs.Invalid("glue backend %q: page size must not be negative", name)
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errs.Invalid("glue backend %q: static credentials need both an access key id and a secret access key", name)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errs.Invalid("glue backend %q: loading AWS configuration: %w", name, err)
	}
	if awsCfg.Region == "" {
		return nil, errs.Invalid("glue backend %q: no region configured (set region, or AWS_REGION)", name)
	}
	g := glue.NewFromConfig(awsCfg, func(o *glue.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Client{cfg: cfg, name: name, g: g, log: log.With("backend", name)}, nil
}

// Name is the backend's name.
func (c *Client) Name() string { return c.name }

// Ping checks that Glue answers with the configured credentials (one GetDatabases call).
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, "ping", func(ctx context.Context) error {
		_, err := c.g.GetDatabases(ctx, &glue.GetDatabasesInput{CatalogId: c.catalog(), MaxResults: aws.Int32(1)})
		return err
	})
}

func (c *Client) catalog() *string {
	if c.cfg.CatalogID == "" {
		return nil
	}
	return aws.String(c.cfg.CatalogID)
}

func (c *Client) page(max int32) *int32 {
	if c.cfg.PageSize > 0 && c.cfg.PageSize < max {
		return aws.Int32(c.cfg.PageSize)
	}
	return aws.Int32(max)
}

// call runs one Glue API call under the per-call timeout and classifies its error. op says
// what was being done ("get table db.t") for the message.
func (c *Client) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The caller gave up (client disconnected, its own deadline): not the backend's fault.
		return errs.Unavailable("glue backend %q: %s: %w", c.name, op, ctx.Err())
	}
	return c.classify(op, err)
}

// countAttempts is an SDK option counting the attempts of one call. The SDK's retryer resends a
// request whose connection failed, and the first attempt may have been applied: a create that
// was retried and then answers "already exists" may have found what its own first attempt
// made (see createdEarlier).
func countAttempts(n *int) func(*glue.Options) {
	return func(o *glue.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("propolisCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					*n++
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
}

// createdEarlier says whether an object a retried create found existing is the one it asked
// for, made since the call was sent (Glue keeps creation times in seconds): then the first
// attempt created it and only its response was lost.
func createdEarlier(sent time.Time, same bool, created int64) bool {
	return same && created >= sent.Unix()-1
}

// classify maps an SDK error to an errs kind. Only the modeled exception types (errors.As)
// and the SDK's transport error types decide the kind; no message text is inspected.
func (c *Client) classify(op string, err error) error {
	msg := func() string {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorMessage() != "" {
			return ae.ErrorMessage()
		}
		return err.Error()
	}
	var (
		notFound    *types.EntityNotFoundException
		exists      *types.AlreadyExistsException
		invalid     *types.InvalidInputException
		denied      *types.AccessDeniedException
		conflict    *types.ConcurrentModificationException
		limit       *types.ResourceNumberLimitExceededException
		opTimeout   *types.OperationTimeoutException
		internal    *types.InternalServiceException
		notReady    *types.ResourceNotReadyException
		encryption  *types.GlueEncryptionException
		federation  *types.FederationSourceException
		fedRetry    *types.FederationSourceRetryableException
		sendErr     *smithyhttp.RequestSendError
		maxAttempts *retry.MaxAttemptsError
		respErr     *awshttp.ResponseError
		netErr      net.Error
	)
	switch {
	case errors.As(err, &notFound):
		return &errs.Error{Kind: errs.KindNotFound, Msg: fmt.Sprintf("%s: %s", op, msg()), Err: err}
	case errors.As(err, &exists):
		return &errs.Error{Kind: errs.KindExists, Msg: fmt.Sprintf("%s: %s", op, msg()), Err: err}
	case errors.As(err, &invalid):
		return &errs.Error{Kind: errs.KindInvalid, Msg: fmt.Sprintf("%s: Glue rejected the request: %s", op, msg()), Err: err}
	case errors.As(err, &denied):
		return &errs.Error{Kind: errs.KindDenied, Msg: fmt.Sprintf("%s: glue backend %q denied access: %s", op, c.name, msg()), Err: err}
	case errors.As(err, &conflict):
		return &errs.Error{Kind: errs.KindConflict, Msg: fmt.Sprintf("%s: concurrent modification in glue backend %q: %s", op, c.name, msg()), Err: err}
	case errors.As(err, &limit):
		return &errs.Error{Kind: errs.KindInvalid, Msg: fmt.Sprintf("%s: glue backend %q resource limit exceeded: %s", op, c.name, msg()), Err: err}
	case errors.As(err, &encryption):
		return &errs.Error{Kind: errs.KindDenied, Msg: fmt.Sprintf("%s: glue backend %q encryption error: %s", op, c.name, msg()), Err: err}
	case errors.As(err, &opTimeout), errors.As(err, &internal), errors.As(err, &notReady),
		errors.As(err, &federation), errors.As(err, &fedRetry):
		return c.unavailable(op, err)
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary:
		return c.unavailable(op, err)
	case errors.As(err, &sendErr), errors.As(err, &maxAttempts), errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return c.unavailable(op, err)
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
		return c.unavailable(op, err)
	}
	return &errs.Error{Kind: errs.KindUnknown, Msg: fmt.Sprintf("%s: glue backend %q: %s", op, c.name, msg()), Err: err}
}

func (c *Client) unavailable(op string, err error) error {
	return &errs.Error{Kind: errs.KindUnavailable, Msg: fmt.Sprintf("glue backend %q is unavailable: %s: %v", c.name, op, err), Err: err}
}

// norm lower-cases a name as Hive does.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func unsupported(what string) error {
	return errs.Unsupported("%s", what)
}
