//go:build race

package oauth1

// The race detector changes escape analysis: allocation counts differ.
func init() { raceEnabled = true }
