// Package node is the job-files bucket on the node: the runner reads the
// Files its engine hands it (SKYNOMAD_FILES) and, before setup, calls
// Fetch, which downloads the workdir and the local file mounts from the
// job-files bucket, copies COPY buckets and mounts MOUNT / MOUNT_CACHED
// buckets; when the task ends it calls Mounts.Unmount. It imports no cloud
// SDK: a file:// store or bucket is read directly (a file:// MOUNT is a
// symbolic link to the directory), s3:// and gs:// go through rclone.
//
// # rclone
//
// rclone (1.60 or later) runs with the task's environment, less
// AWS_CA_BUNDLE and RCLONE_*, plus two remotes defined there
// (RCLONE_CONFIG_SKYNOMADS3_*, RCLONE_CONFIG_SKYNOMADGCS_*) and
// --config /dev/null, so no rclone.conf is read and no credential appears
// on a command line:
//
//	s3   env_auth (AWS_ACCESS_KEY_ID, ..., or the instance role); region
//	     AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; endpoint
//	     AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, with provider Other
//	     and path-style requests (provider AWS without one)
//	gcs  STORAGE_EMULATOR_HOST: its JSON API, anonymously; else the
//	     service account key in SKYNOMAD_GCS_CREDENTIALS_JSON; else
//	     Application Default Credentials
//
// Downloads are `rclone copyto`. A mount is `rclone mount` run as a child
// in its own process group (SIGTERM if the runner dies), with a 5 s
// directory cache: MOUNT with --vfs-cache-mode minimal (a written file is
// in the bucket once closed); MOUNT_CACHED with --vfs-cache-mode writes
// and a 1 s write-back, and rclone's remote control on loopback (with a
// random password) so Unmount can wait until every write is uploaded.
// CredentialEnv lists what an engine delivers to the node for all this.
//
// # Cleaning up after a killed runner
//
// A runner killed with SIGKILL cannot Unmount. Its rclone processes get
// SIGTERM from the kernel and exit, but rclone 1.60 races its own exit
// against its unmount on SIGTERM and often leaves the mount behind, dead
// ("transport endpoint is not connected"); writes MOUNT_CACHED had not
// uploaded are lost. The next Fetch at the same path unmounts a dead
// mount by itself; an engine ends whatever is left when an attempt ends
// with Sweep(MountPaths(files, options)).
package node
