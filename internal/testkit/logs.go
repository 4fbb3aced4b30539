package testkit

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// LogEntries returns the entries of Caddy's JSON log file whose msg
// contains msg. Caddy writes its log asynchronously: it reads the file
// again every 50ms until at least one entry matches, for up to 2s, and
// then returns what it found (nothing, if none came).
func LogEntries(t testing.TB, file, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(2 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		out = out[:0]
		for _, line := range bytes.Split(data, []byte("\n")) {
			var e map[string]any
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			if m, _ := e["msg"].(string); strings.Contains(m, msg) {
				out = append(out, e)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}
