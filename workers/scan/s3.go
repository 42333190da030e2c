package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/propolis/propolis/internal/errs"
)

// S3Config configures the S3 storage. Zero values use the SDK's defaults (region and
// credentials from the environment's default chain).
type S3Config struct {
	Endpoint        string // e.g. http://127.0.0.1:9000 for an S3-compatible server
	Region          string
	PathStyle       bool // bucket in the path rather than the host name (most non-AWS servers)
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// S3 reads "s3://", "s3a://" and "s3n://" locations with ranged GetObject calls, so a Parquet
// reader fetches the footer and then only the column chunks it needs.
type S3 struct {
	client *s3.Client
}

// NewS3 builds the client. ctx is used only to load the default configuration.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errs.Invalid("s3 storage: static credentials need both an access key id and a secret access key")
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errs.Invalid("s3 storage: loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Ranged reads of Parquet must not be rejected for lacking a whole-object checksum.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client}, nil
}

// NewS3FromClient wraps an existing client.
func NewS3FromClient(c *s3.Client) *S3 { return &S3{client: c} }

func parseS3(location string) (scheme, bucket, key string, err error) {
	u, perr := url.Parse(location)
	if perr != nil {
		return "", "", "", errs.Invalid("location %q: %w", location, perr)
	}
	scheme = strings.ToLower(u.Scheme)
	if scheme != "s3" && scheme != "s3a" && scheme != "s3n" {
		return "", "", "", errs.Invalid("location %q is not an s3://, s3a:// or s3n:// URI", location)
	}
	if u.Host == "" {
		return "", "", "", errs.Invalid("location %q has no bucket", location)
	}
	return scheme, u.Host, strings.TrimPrefix(u.Path, "/"), nil
}

// s3Err gives an SDK error its kind; the message names the location, never credentials.
func s3Err(op, location string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Unavailable("%s %s: %w", op, location, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return errs.NotFound("%s %s: %s", op, location, api.ErrorCode())
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return errs.Denied("%s %s: %s", op, location, api.ErrorCode())
		case "PreconditionFailed":
			return errs.Unavailable("%s %s: the object changed while it was being read", op, location)
		}
		return errs.Unavailable("%s %s: %s: %s", op, location, api.ErrorCode(), api.ErrorMessage())
	}
	return errs.Unavailable("%s %s: %w", op, location, err)
}

func (s *S3) List(ctx context.Context, location string) ([]ObjectInfo, error) {
	scheme, bucket, key, err := parseS3(location)
	if err != nil {
		return nil, err
	}
	prefix := key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	base := fmt.Sprintf("%s://%s/", scheme, bucket)
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s3Err("list", location, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			name := path.Base(k)
			if k == prefix || strings.HasSuffix(k, "/") || hidden(name) {
				continue // directory markers and Hive's hidden files
			}
			out = append(out, ObjectInfo{
				Location: base + k, Size: aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag),
			})
		}
	}
	if len(out) == 0 && key != "" && !strings.HasSuffix(key, "/") {
		// The location may name a single file.
		if r, err := s.Open(ctx, location); err == nil {
			info := r.Info()
			r.Close()
			return []ObjectInfo{info}, nil
		}
	}
	sortInfos(out)
	return out, nil
}

func (s *S3) Open(ctx context.Context, location string) (Reader, error) {
	_, bucket, key, err := parseS3(location)
	if err != nil {
		return nil, err
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, errs.Invalid("open %s: not a file", location)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s3Err("open", location, err)
	}
	return &s3Reader{
		ctx: ctx, client: s.client, bucket: bucket, key: key,
		info: ObjectInfo{Location: location, Size: aws.ToInt64(head.ContentLength),
			ModTime: aws.ToTime(head.LastModified), ETag: aws.ToString(head.ETag)},
	}, nil
}

type s3Reader struct {
	ctx         context.Context
	client      *s3.Client
	bucket, key string
	info        ObjectInfo
}

func (r *s3Reader) Info() ObjectInfo { return r.info }
func (r *s3Reader) Close() error     { return nil }

func (r *s3Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errs.Invalid("read %s: negative offset %d", r.info.Location, off)
	}
	if off >= r.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), r.info.Size)
	in := &s3.GetObjectInput{
		Bucket: aws.String(r.bucket), Key: aws.String(r.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1)),
	}
	if r.info.ETag != "" {
		// A file replaced between reads must fail, not splice two versions.
		in.IfMatch = aws.String(r.info.ETag)
	}
	out, err := r.client.GetObject(r.ctx, in)
	if err != nil {
		return 0, s3Err("read", r.info.Location, err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p[:end-off])
	if err != nil {
		return n, s3Err("read", r.info.Location, err)
	}
	if end-off < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}
