package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RawRequest builds one HTTP/1.1 request as bytes: the request line, a
// Host header (host) unless headers have one, the header lines as given,
// Content-Length for a body unless headers frame it themselves,
// Connection: close unless keepAlive, and the body.
func RawRequest(host, method, target string, headers []string, body string, keepAlive bool) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\n")
	hasHost, framed := false, false
	for _, h := range headers {
		name, _, _ := strings.Cut(h, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "host":
			hasHost = true
		case "content-length", "transfer-encoding":
			framed = true
		}
	}
	if !hasHost {
		b.WriteString("Host: " + host + "\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" && !framed {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	if !keepAlive {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// RawResponse is one answer read off a raw connection.
type RawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// Exchange writes raw to addr exactly as given and reads every response
// until the server closes the connection (or answers with Connection:
// close). Writing runs concurrently, so that an answer sent before the
// request was fully written (431, 413) is read. With halfClose the write
// side is shut after raw, to end a truncated body. 1xx answers are
// skipped.
func Exchange(addr, raw string, halfClose bool) ([]RawResponse, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	go func() {
		_, _ = io.WriteString(conn, raw)
		if halfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	method, _, _ := strings.Cut(raw, " ")
	br := bufio.NewReader(conn)
	var out []RawResponse
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || len(out) > 0 && isReset(err) {
				return out, nil
			}
			return out, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // 100 Continue: the answer follows
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil && isReset(err) && resp.Close {
			// net/http answers a malformed request and closes at once; the
			// reset stands for the end of a close-delimited body.
			err = nil
		}
		if err != nil {
			return out, fmt.Errorf("reading body of response %d: %w", len(out)+1, err)
		}
		out = append(out, RawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)})
		if resp.Close {
			return out, nil
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// SendRaw sends raw (one request, with Connection: close) to addr and
// returns the status and body of the answer; it fails t if none came.
func SendRaw(t testing.TB, addr, raw string) (int, string) {
	t.Helper()
	resps, err := Exchange(addr, raw, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(resps) == 0 {
		t.Fatalf("%s closed the connection without an answer", addr)
	}
	return resps[0].Status, resps[0].Body
}
