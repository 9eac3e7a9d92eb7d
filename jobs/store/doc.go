// Package store keeps the managed-jobs controller's durable state in SQLite
// (modernc.org/sqlite, WAL mode): jobs, their tasks, every launch attempt,
// and a small key/value table for engine cursors.
//
// One writer connection serializes writes; a small pool of read-only
// connections serves queries (`jobs queue`) without waiting behind writes.
// Each Save is one transaction, so a status change and its attempt row land
// together. The database survives a crash of the process (kill -9): WAL with
// synchronous=NORMAL loses at most the last transactions not yet synced,
// never consistency.
package store
