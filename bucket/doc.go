// Package bucket is the job-files bucket: it uploads a job's local workdir
// and local file_mounts sources before the job launches, to a store (a
// local directory, S3 or GCS) with SkyPilot's layout under the job's
// prefix:
//
//	job-<runid>/workdir/...             the workdir (after .skyignore / .gitignore)
//	job-<runid>/local-file-mounts/<i>   the i-th local file mount (a file or a tree)
//	job-<runid>/tmp-files/...           what the node needs besides (file modes)
//
// and removes the prefix (and a bucket created for the job) once the job
// has ended. What is stored for each job is a Record, kept in Consul KV
// under skynomad/buckets/<name> when Consul is configured, else in the
// controller's store; writes are check-and-set, so two controllers never
// clean the same prefix.
//
// The node's side (fetching, mounting with rclone) is bucket/node, which
// imports no cloud SDK so the runner stays small.
package bucket
