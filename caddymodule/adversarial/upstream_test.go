package adversarial

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// upstream is the stand-in product. It logs every request it receives with
// the bytes as they came off the wire, so that header names are seen exactly
// as the proxy wrote them (net/http would canonicalise them).
type upstream struct {
	srv  *httptest.Server
	addr string
	mu   sync.Mutex
	log  []seen
}

// seen is one request that reached the upstream.
type seen struct {
	Method  string
	URI     string // the request-target, as received
	Proto   string
	Head    string      // request line and header lines, exactly as received
	Fields  [][2]string // header name (exactly as received) and value, in order
	Header  http.Header // as net/http parsed it
	Trailer http.Header
	Body    []byte
}

// teeConn keeps a copy of everything read from the connection.
type teeConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// take returns and forgets what was read so far. The proxy never pipelines,
// so in a handler, after the body was read to its end, that is exactly the
// current request.
func (c *teeConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

type teeListener struct{ net.Listener }

func (l teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c}, nil
}

type connKey struct{}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{addr: ln.Addr().String()}
	u.srv = &httptest.Server{
		Listener: teeListener{ln},
		Config: &http.Server{
			Handler: http.HandlerFunc(u.serve),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, connKey{}, c)
			},
		},
	}
	u.srv.Start()
	return u, nil
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var raw []byte
	if c, ok := r.Context().Value(connKey{}).(*teeConn); ok {
		raw = c.take()
	}
	s := seen{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Header: r.Header.Clone(),
		Trailer: r.Trailer.Clone(), Body: body}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	s.Head = string(head)
	lines := strings.Split(s.Head, "\r\n")
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		s.Fields = append(s.Fields, [2]string{name, strings.TrimSpace(value)})
	}
	u.mu.Lock()
	u.log = append(u.log, s)
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "yes")
	_, _ = io.WriteString(w, "ok")
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.log)
}

// since returns the requests logged after the first n.
func (u *upstream) since(n int) []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.log[n:]...)
}

func (u *upstream) close() { u.srv.Close() }
