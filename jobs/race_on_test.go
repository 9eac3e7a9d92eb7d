//go:build race

package jobs

// raceEnabled shrinks the big data sets: the race detector makes SQLite
// (transpiled C) some ten times slower.
const raceEnabled = true
