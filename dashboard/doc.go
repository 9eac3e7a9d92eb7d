// Package dashboard is the web dashboard the controller serves beside its
// API: server-rendered pages of the managed jobs (filtered, sorted and paged
// on the server, with a status histogram), one job (tasks, attempts, a
// timeline, logs, cancel), the worker pools, the engine's capacity and the
// jobs' cost. Pages work without JavaScript; an embedded script follows
// /events (server-sent job changes) to refresh just the rows and fragments
// that changed, and streams a job's log.
//
// It owns its HTML templates, CSS and script (embedded), the page and
// fragment URLs, and the security headers of every page. It reads the
// controller through Backend and sees no authentication: the API server
// mounts it behind its own.
package dashboard
