package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogEntries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "caddy.log")
	if err := os.WriteFile(file, []byte(`{"msg":"handled request"}`+"\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Written late, as Caddy's asynchronous log writer would.
	go func() {
		time.Sleep(200 * time.Millisecond)
		f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprintln(f, `{"msg":"token renewal failed","user":"alice"}`)
		fmt.Fprintln(f, `{"msg":"token renewal failed","user":"bob"}`)
		f.Close()
	}()
	got := LogEntries(t, file, "renewal failed")
	if len(got) != 2 || got[0]["user"] != "alice" || got[1]["user"] != "bob" {
		t.Errorf("LogEntries = %v", got)
	}
	if got := LogEntries(t, file, "never logged"); len(got) != 0 {
		t.Errorf("LogEntries of a message never logged = %v", got)
	}
}
