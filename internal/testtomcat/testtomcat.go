//go:build linux

package testtomcat

import (
	"bufio"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// JarDir is where Debian's libtomcat9-java puts Tomcat's jars.
const JarDir = "/usr/share/java"

// Jars are the Tomcat jars an embedded Tomcat needs.
var Jars = []string{"catalina", "coyote", "util", "util-scan", "juli", "api", "servlet-api", "jaspic-api", "annotations-api"}

// Packages names the Debian packages the oracle needs, for skip messages.
const Packages = "libtomcat9-java default-jdk-headless"

// Consumer is a consumer whose signatures the oracle checks, as the
// product would: with its RSA public key (RSA-SHA1) or its shared secret
// (HMAC-SHA1, with an empty token secret).
type Consumer struct {
	Key       string
	PublicKey *rsa.PublicKey
	Secret    string
}

// Options say how to set up Tomcat.
type Options struct {
	Consumers []Consumer
	// ContextPath is the web application's context path ("" or "/jira").
	ContextPath string
	// ProxyName and ProxyPort, when set, are the connector's proxyName and
	// proxyPort (and Scheme its scheme): what getRequestURL reports
	// instead of the Host header, as for a Jira behind a reverse proxy.
	ProxyName string
	ProxyPort int
	Scheme    string
	// NoEncodingFilter leaves out Jira's encoding filter: a request that
	// declares no charset is then read as ISO-8859-1, the query included.
	NoEncodingFilter bool
}

// Server is a running Tomcat with the oracle servlet.
type Server struct {
	Port int
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port

	dir   string
	proc  *testproc.Proc
	stdin io.WriteCloser
	log   *testproc.LogBuffer
	once  sync.Once
}

// tools finds java and javac.
func tools() (java, javac string, err error) {
	if java, err = exec.LookPath("java"); err != nil {
		return "", "", err
	}
	if javac, err = exec.LookPath("javac"); err != nil {
		return "", "", err
	}
	return java, javac, nil
}

func classpath() []string {
	cp := make([]string, len(Jars))
	for i, j := range Jars {
		cp[i] = filepath.Join(JarDir, "tomcat9-"+j+".jar")
	}
	return cp
}

// Available reports why the oracle cannot be run here, or nil.
func Available() error {
	if _, _, err := tools(); err != nil {
		return err
	}
	for _, j := range classpath() {
		if _, err := os.Stat(j); err != nil {
			return err
		}
	}
	return nil
}

// Missing skips t because Tomcat or the JDK is not installed, or fails it
// when APPLINK_REQUIRE_INTEROP=1 (CI installs everything).
func Missing(t testing.TB, err error) {
	t.Helper()
	testpeer.Require(t, Packages, err)
}

// Shared is one server for a whole test binary, started on first use.
// TestMain should call Stop.
type Shared struct {
	Options Options

	peer testpeer.Once[*Server]
}

// Need returns the running server, starting it on first use; without
// Tomcat or a JDK it skips t (see Missing), and it fails t if Tomcat does
// not start.
func (s *Shared) Need(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		Missing(t, err)
	}
	srv, err := s.peer.Get(func() (*Server, error) { return Start(s.Options) })
	if err != nil {
		t.Fatalf("starting Tomcat: %v", err)
	}
	return srv
}

// Stop stops the server if it was started.
func (s *Shared) Stop() {
	if srv, ok := s.peer.Started(); ok {
		srv.Stop()
	}
}

// Start compiles the oracle (unless a compiled copy is cached) and starts
// Tomcat. It retries a few times, as a free port can be taken before
// Tomcat binds it.
func Start(opts Options) (*Server, error) {
	classes, err := compile()
	if err != nil {
		return nil, err
	}
	return testproc.OnFreePorts(func() (*Server, error) { return startOnce(opts, classes) })
}

// source is the oracle's Java source, next to this file.
func source() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "java", "Oracle.java")
}

var compileOnce = sync.OnceValues(compileClasses)

func compile() (string, error) { return compileOnce() }

// compileClasses compiles Oracle.java into a directory of the user's cache
// named by the hash of the source and of the JDK, and returns it. Two test
// binaries compiling at once each compile into a directory of their own
// and rename it into place; the loser of the race uses the winner's.
func compileClasses() (string, error) {
	java, javac, err := tools()
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile(source())
	if err != nil {
		return "", err
	}
	ver, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("java -version: %v\n%s", err, ver)
	}
	h := sha256.New()
	h.Write(src)
	h.Write(ver)
	h.Write([]byte(strings.Join(classpath(), ":")))
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "caddy-applink", "testtomcat")
	dir := filepath.Join(root, sum)
	if _, err := os.Stat(filepath.Join(dir, "Oracle.class")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-cp", strings.Join(classpath(), ":"),
		"-d", tmp, source()).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("javac Oracle.java: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "Oracle.class")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}

// config is the oracle's configuration file: "key value" lines, consumers
// as "rsa|hmac <base64 key> <base64 DER or secret>".
func config(opts Options, port int, dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbasedir %s\n", port, dir)
	if opts.ContextPath != "" {
		fmt.Fprintf(&b, "contextPath %s\n", opts.ContextPath)
	}
	if opts.ProxyName != "" {
		scheme := opts.Scheme
		if scheme == "" {
			scheme = "http"
		}
		fmt.Fprintf(&b, "proxyName %s\nproxyPort %d\nscheme %s\n", opts.ProxyName, opts.ProxyPort, scheme)
	}
	if opts.NoEncodingFilter {
		b.WriteString("encodingFilter false\n")
	}
	enc := base64.StdEncoding.EncodeToString
	for _, c := range opts.Consumers {
		if c.PublicKey != nil {
			der, err := x509.MarshalPKIXPublicKey(c.PublicKey)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "rsa %s %s\n", enc([]byte(c.Key)), enc(der))
		}
		if c.Secret != "" {
			fmt.Fprintf(&b, "hmac %s %s\n", enc([]byte(c.Key)), enc([]byte(c.Secret)))
		}
	}
	return b.String(), nil
}

func startOnce(opts Options, classes string) (*Server, error) {
	java, _, err := tools()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	port, err := testproc.FreePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	cfg, err := config(opts, port, dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	cfgPath := filepath.Join(dir, "oracle.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	s := &Server{
		Port: port,
		URL:  "http://127.0.0.1:" + strconv.Itoa(port),
		Addr: "127.0.0.1:" + strconv.Itoa(port),
		dir:  dir,
		log:  &testproc.LogBuffer{Max: 256 << 10},
	}
	// C1 only and a small heap: the oracle starts in about a second and
	// serves tests, not load.
	cmd := exec.Command(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xmx256m", "-Djava.awt.headless=true",
		"-cp", strings.Join(append([]string{classes}, classpath()...), ":"), "Oracle", cfgPath)
	cmd.Dir = dir
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		cleanup()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.proc, err = testproc.Start(cmd); err != nil {
		cleanup()
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- sc.Text()
			}
			_, _ = s.log.Write([]byte(sc.Text() + "\n"))
		}
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.proc.Done():
		s.Stop()
		return nil, fmt.Errorf("Tomcat %w: %s", testproc.ErrExited, s.log.String())
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, errors.New("Tomcat not ready after 30s: " + s.log.String())
	}
}

// dirPrefix names Tomcat's directories: the test process's pid follows.
const dirPrefix = "applink-tomcat-"

// removeStale removes the directories of test processes that are gone: a
// fuzzing worker is killed at the end, and cannot remove its own.
func removeStale() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*-*"))
	for _, m := range matches {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(m), dirPrefix), "-", 2)[0])
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(m)
		}
	}
}

// Stop ends Tomcat (closing its stdin; killing its process group if it
// has not exited within 5s) and removes its directory. It may be called
// repeatedly.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.stdin.Close()
		s.proc.Stop(0, 5*time.Second)
		_ = os.RemoveAll(s.dir)
	})
}

// Log is what Tomcat has written so far (capped at 256 KiB).
func (s *Server) Log() string { return s.log.String() }

// Send writes raw (one HTTP/1.1 request, as bytes, with Connection:
// close) to Tomcat and returns the status of its answer and, when the
// servlet answered (not Tomcat itself, for a request it refused), what
// the servlet parsed.
func (s *Server) Send(raw string) (int, *Parsed, error) {
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	method, _, _ := strings.Cut(raw, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.Header.Get("X-Oracle") != "tomcat" {
		return resp.StatusCode, nil, nil
	}
	p, err := Decode(string(body))
	return resp.StatusCode, p, err
}

// Parsed is the oracle's answer: what Tomcat parsed from one request, and
// what net.oauth would make of it.
type Parsed struct {
	Method            string   `json:"method"`
	RequestURI        string   `json:"requestURI"`
	RequestURL        string   `json:"requestURL"`
	QueryString       *string  `json:"queryString"`
	ContentType       *string  `json:"contentType"`
	CharacterEncoding *string  `json:"characterEncoding"`
	Params            []Values `json:"params"` // getParameterMap(), in its order
	// ParseFailed and ParseFailedReason are Tomcat's request attributes
	// for a parameter it skipped (NO_NAME for "&=x", URL_DECODING, ...).
	ParseFailed       *string     `json:"parseFailed"`
	ParseFailedReason *string     `json:"parseFailedReason"`
	Headers           [][2]string `json:"headers"` // every value, names as Tomcat reports them (lower case)
	Body              string      `json:"body"`    // what was left of the body after parsing, as ISO-8859-1
	// getParameter of the names the product reads an identity from.
	XOAuthRequestorID *string  `json:"xoauthRequestorId"`
	UserID            *string  `json:"userId"`
	OSUsername        *string  `json:"osUsername"`
	OAuth             NetOAuth `json:"oauth"`
}

// Values is one entry of getParameterMap.
type Values struct {
	Name   string
	Values []string
}

// UnmarshalJSON reads ["name", ["value", ...]].
func (v *Values) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 2 {
		return fmt.Errorf("parameter entry of %d elements", len(raw))
	}
	if err := json.Unmarshal(raw[0], &v.Name); err != nil {
		return err
	}
	return json.Unmarshal(raw[1], &v.Values)
}

// NetOAuth is net.oauth's reading of the request.
type NetOAuth struct {
	// Params is the message's parameter list: the Authorization header's
	// (realm excluded), then getParameterMap's.
	Params     [][2]string `json:"params"`
	FromHeader string      `json:"fromHeader"` // how many of Params came from the header
	BaseString *string     `json:"baseString"`
	Error      *string     `json:"error"` // an exception net.oauth would throw
	// Problem is the verdict: "" for a valid message, "none" for a request
	// without oauth_* parameters, "error" for an exception, else the
	// oauth_problem.
	Problem string `json:"problem"`
}

// Decode parses the oracle's JSON answer.
func Decode(body string) (*Parsed, error) {
	var p Parsed
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return nil, fmt.Errorf("oracle answer: %w: %.500s", err, body)
	}
	return &p, nil
}

// Names is every parameter name of getParameterMap.
func (p *Parsed) Names() []string {
	out := make([]string, len(p.Params))
	for i, v := range p.Params {
		out[i] = v.Name
	}
	return out
}

// Param is getParameterValues(name): nil when absent.
func (p *Parsed) Param(name string) []string {
	for _, v := range p.Params {
		if v.Name == name {
			return v.Values
		}
	}
	return nil
}

// Header is getHeaders(name): every value, the name compared as Tomcat
// does (ignoring case).
func (p *Parsed) Header(name string) []string {
	var out []string
	for _, h := range p.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// Base is net.oauth's base string, "" when it could not build one.
func (p *Parsed) Base() string {
	if p.OAuth.BaseString == nil {
		return ""
	}
	return *p.OAuth.BaseString
}
