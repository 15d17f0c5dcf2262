//go:build race

package query

// raceEnabled shortens the randomized tests under the race detector.
const raceEnabled = true
