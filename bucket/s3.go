package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// s3Store is a store in an S3 bucket (or an S3-compatible store's, when a
// custom endpoint is configured).
type s3Store struct {
	u URL
	c *s3.Client
	// region is the bucket's region once a response said it differs from
	// the client's; every call then uses it.
	region atomic.Pointer[string]
	// checksums: the client sends CRC32 checksums (AWS itself); off for
	// S3-compatible stores unless AWS_REQUEST_CHECKSUM_CALCULATION says.
	checksums bool
	// Objects larger than multipartAt that can be read at offsets go up
	// in parts of partSize (more if they would be over 10,000 parts):
	// PutObject takes at most 5 GiB.
	multipartAt, partSize int64
	// deleteBatch is the most keys of one DeleteObjects (S3: 1,000).
	deleteBatch int
}

var _ Store = (*s3Store)(nil)

func newS3Store(ctx context.Context, u URL, o Options) (*s3Store, error) {
	var cfg aws.Config
	if o.AWS != nil {
		cfg = o.AWS.Copy()
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, wrap(u, "open", "", ErrNotConfigured, err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &s3Store{u: u, multipartAt: 256 << 20, partSize: 64 << 20, deleteBatch: 1000}
	s.c = s3.NewFromConfig(cfg, func(so *s3.Options) {
		// The SDK has read AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL by now.
		if so.BaseEndpoint != nil {
			so.UsePathStyle = true
			if cfg.RequestChecksumCalculation == 0 {
				so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			}
			if cfg.ResponseChecksumValidation == 0 {
				so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			}
		}
		s.checksums = so.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired
	})
	return s, nil
}

func (s *s3Store) URL() URL { return s.u }

// call runs fn with the per-call options of the bucket's region; when the
// response says the bucket is in another region, it runs fn again there.
func (s *s3Store) call(fn func(opts ...func(*s3.Options)) error) error {
	opts := func() []func(*s3.Options) {
		r := s.region.Load()
		if r == nil {
			return nil
		}
		return []func(*s3.Options){func(o *s3.Options) { o.Region = *r }}
	}
	err := fn(opts()...)
	if r := bucketRegion(err); r != "" && r != s.currentRegion() {
		s.region.Store(&r)
		err = fn(opts()...)
	}
	return err
}

func (s *s3Store) currentRegion() string {
	if r := s.region.Load(); r != nil {
		return *r
	}
	return s.c.Options().Region
}

// bucketRegion returns the region an S3 error response names for the
// bucket (a 301 to another region's bucket carries it), or "".
func bucketRegion(err error) string {
	var re *smithyhttp.ResponseError
	if err == nil || !errors.As(err, &re) || re.Response == nil {
		return ""
	}
	switch re.Response.StatusCode {
	case http.StatusMovedPermanently, http.StatusBadRequest:
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// fail classifies an S3 error; on a bucket operation (bucketOp) a bare
// 404 means there is no bucket.
func (s *s3Store) fail(op, key string, err error, bucketOp bool) error {
	return wrap(s.u, op, key, s3Kind(err, bucketOp), err)
}

func s3Kind(err error, bucketOp bool) error {
	if err == nil {
		return nil
	}
	if noAWSCredentials(err) {
		return ErrNotConfigured
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return ErrNoBucket
		case "NoSuchKey":
			return ErrNotFound
		case "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId",
			"SignatureDoesNotMatch", "AccountProblem":
			return ErrDenied
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		switch re.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return ErrDenied
		case http.StatusNotFound:
			if bucketOp {
				return ErrNoBucket
			}
			return ErrNotFound
		}
	}
	return nil
}

// noAWSCredentials reports whether err says the SDK found no credentials.
// The SDK has no error type for it, only these messages.
func noAWSCredentials(err error) bool {
	msg := err.Error()
	for _, m := range []string{
		"failed to retrieve credentials",
		"failed to refresh cached credentials",
		"no EC2 IMDS role found",
		"get identity:",
	} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

func (s *s3Store) Ensure(ctx context.Context, create bool) (bool, error) {
	err := s.call(func(opts ...func(*s3.Options)) error {
		_, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.u.Bucket}, opts...)
		return err
	})
	if err == nil {
		return false, nil
	}
	if kind := s3Kind(err, true); kind != ErrNoBucket || !create {
		return false, wrap(s.u, "ensure", "", kind, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.u.Bucket}
	if r := s.currentRegion(); r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r),
		}
	}
	err = s.call(func(opts ...func(*s3.Options)) error {
		_, err := s.c.CreateBucket(ctx, in, opts...)
		return err
	})
	var owned *types.BucketAlreadyOwnedByYou
	switch {
	case errors.As(err, &owned):
		return false, nil
	case err != nil:
		var taken *types.BucketAlreadyExists
		if errors.As(err, &taken) {
			return false, wrap(s.u, "create", "", nil, fmt.Errorf("%w: the name is taken by another account; bucket names are global, choose another", err))
		}
		return false, s.fail("create", "", err, true)
	}
	return true, nil
}

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return wrap(s.u, "put", "", nil, err)
	}
	if ra, ok := r.(io.ReaderAt); ok && size > s.multipartAt {
		return s.putParts(ctx, key, ra, size)
	}
	seeker, _ := r.(io.Seeker)
	var start int64
	if seeker != nil {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	in := &s3.PutObjectInput{Bucket: &s.u.Bucket, Key: aws.String(s.u.Key(key)), Body: r}
	if size >= 0 {
		in.ContentLength = &size
	}
	err := s.call(func(opts ...func(*s3.Options)) error {
		if seeker != nil {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return err
			}
		}
		_, err := s.c.PutObject(ctx, in, opts...)
		return err
	})
	return s.fail("put", key, err, false)
}

// putParts stores size bytes of r as a multipart upload, one part at a
// time, aborting the upload on failure.
func (s *s3Store) putParts(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	const maxParts = 10000
	part := max(s.partSize, (size+maxParts-1)/maxParts)
	okey := aws.String(s.u.Key(key))
	create := &s3.CreateMultipartUploadInput{Bucket: &s.u.Bucket, Key: okey}
	if s.checksums {
		create.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	var id *string
	err := s.call(func(opts ...func(*s3.Options)) error {
		out, err := s.c.CreateMultipartUpload(ctx, create, opts...)
		if err == nil {
			id = out.UploadId
		}
		return err
	})
	if err != nil {
		return s.fail("put", key, err, false)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size && err == nil; n, off = n+1, off+part {
		in := &s3.UploadPartInput{
			Bucket: &s.u.Bucket, Key: okey, UploadId: id, PartNumber: aws.Int32(n),
			Body: io.NewSectionReader(r, off, min(part, size-off)), ContentLength: aws.Int64(min(part, size-off)),
		}
		if s.checksums {
			in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
		}
		err = s.call(func(opts ...func(*s3.Options)) error {
			if _, err := in.Body.(io.Seeker).Seek(0, io.SeekStart); err != nil {
				return err
			}
			out, err := s.c.UploadPart(ctx, in, opts...)
			if err == nil {
				parts = append(parts, types.CompletedPart{PartNumber: in.PartNumber, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			}
			return err
		})
	}
	if err == nil {
		err = s.call(func(opts ...func(*s3.Options)) error {
			_, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: &s.u.Bucket, Key: okey, UploadId: id,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			}, opts...)
			return err
		})
	}
	if err != nil {
		abort := &s3.AbortMultipartUploadInput{Bucket: &s.u.Bucket, Key: okey, UploadId: id}
		s.call(func(opts ...func(*s3.Options)) error {
			_, err := s.c.AbortMultipartUpload(context.WithoutCancel(ctx), abort, opts...)
			return err
		})
		return s.fail("put", key, err, false)
	}
	return nil
}

func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, wrap(s.u, "get", "", nil, err)
	}
	var body io.ReadCloser
	err := s.call(func(opts ...func(*s3.Options)) error {
		out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.u.Bucket, Key: aws.String(s.u.Key(key))}, opts...)
		if err == nil {
			body = out.Body
		}
		return err
	})
	if err != nil {
		return nil, s.fail("get", key, err, false)
	}
	return body, nil
}

func (s *s3Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	in := &s3.ListObjectsV2Input{Bucket: &s.u.Bucket, Prefix: aws.String(s.u.Key(prefix))}
	for {
		var out *s3.ListObjectsV2Output
		err := s.call(func(opts ...func(*s3.Options)) error {
			var err error
			out, err = s.c.ListObjectsV2(ctx, in, opts...)
			return err
		})
		if err != nil {
			return nil, s.fail("list", prefix, err, true)
		}
		for _, o := range out.Contents {
			objs = append(objs, Object{Key: s.u.rel(aws.ToString(o.Key)), Size: aws.ToInt64(o.Size)})
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func (s *s3Store) Copy(ctx context.Context, from, to string) error {
	for _, k := range []string{from, to} {
		if err := checkKey(k); err != nil {
			return wrap(s.u, "copy", "", nil, err)
		}
	}
	if from == to { // S3 refuses to copy an object onto itself
		err := s.call(func(opts ...func(*s3.Options)) error {
			_, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.u.Bucket, Key: aws.String(s.u.Key(from))}, opts...)
			return err
		})
		return s.fail("copy", from, err, false)
	}
	in := &s3.CopyObjectInput{Bucket: &s.u.Bucket, Key: aws.String(s.u.Key(to)), CopySource: aws.String(s.copySource(from))}
	err := s.call(func(opts ...func(*s3.Options)) error {
		_, err := s.c.CopyObject(ctx, in, opts...)
		return err
	})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRequest" && strings.Contains(ae.ErrorMessage(), "copy source is larger") {
		return wrap(s.u, "copy", from, nil, fmt.Errorf("%w: %w", errors.ErrUnsupported, err))
	}
	return s.fail("copy", from, err, false)
}

// copySource is CopyObject's x-amz-copy-source of key: bucket/key,
// percent-encoded ("+" too, which some stores read as a space).
func (s *s3Store) copySource(key string) string {
	segs := strings.Split(s.u.Key(key), "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.QueryEscape(seg), "+", "%20")
	}
	return s.u.Bucket + "/" + strings.Join(segs, "/")
}

func (s *s3Store) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return wrap(s.u, "delete", "", nil, err)
		}
	}
	for batch := range slices.Chunk(keys, s.deleteBatch) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(s.u.Key(k))}
		}
		in := &s3.DeleteObjectsInput{Bucket: &s.u.Bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}
		var out *s3.DeleteObjectsOutput
		err := s.call(func(opts ...func(*s3.Options)) error {
			var err error
			out, err = s.c.DeleteObjects(ctx, in, opts...)
			return err
		})
		if err != nil {
			return s.fail("delete", batch[0], err, false)
		}
		for _, e := range out.Errors {
			code := aws.ToString(e.Code)
			if code == "NoSuchKey" {
				continue
			}
			err := fmt.Errorf("%s: %s", code, aws.ToString(e.Message))
			var kind error
			if code == "AccessDenied" {
				kind = ErrDenied
			}
			return wrap(s.u, "delete", s.u.rel(aws.ToString(e.Key)), kind, err)
		}
	}
	return nil
}

func (s *s3Store) DeleteBucket(ctx context.Context) error {
	err := s.call(func(opts ...func(*s3.Options)) error {
		_, err := s.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &s.u.Bucket}, opts...)
		return err
	})
	return s.fail("delete bucket", "", err, true)
}
