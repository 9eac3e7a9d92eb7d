// Package server serves the managed-jobs controller's HTTP API (jobs/api
// wire types) over a unix socket (local) or TCP (cluster), and takes the
// controller's single-instance lock.
//
// Answers are JSON; a client sending "Accept: application/x-gob" to the
// queue endpoint gets an api.QueueResponseGob in gob instead (jobs/client
// does, so that a 10,000-job queue decodes fast).
// Errors are JSON api.Error bodies with 400, 401, 404, 409, 501 or 503.
// Logs stream as text/plain, flushed as they come; an error after the
// stream started is reported in the X-Skynomad-Error trailer.
package server
