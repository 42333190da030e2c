// Package s3api is the worker's S3-compatible read endpoint: an http.Handler serving the part
// of the S3 API that unmodified engine S3 clients use to read a table (Spark's s3a with the
// AWS SDK v1, Trino's native S3 file system with the AWS SDK v2, any SDK): ListObjectsV2 and
// ListObjects, HeadBucket, GetBucketLocation, HeadObject and ranged GetObject. Everything else
// is answered NotImplemented.
//
// Keys resolve through a Catalog; the capability to read is a token inside the key, checked
// by the Catalog, so request signatures are accepted without being verified. Error kinds
// (internal/errs) become S3 error codes in one place, toS3.
package s3api
