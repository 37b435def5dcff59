//go:build race

package harness

// raceEnabled makes the slardar binary under test a -race build when the
// tests themselves run with -race, so data races in the real process fail
// the suite too.
const raceEnabled = true
