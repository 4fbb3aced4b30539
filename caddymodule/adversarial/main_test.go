// Package adversarial sends hostile requests, as raw bytes, to the real
// applink binary in front of a recording upstream, and checks that each gets
// its documented answer and that nothing else reaches the upstream.
//
// TestMain builds ./cmd/applink once, starts it on free ports (its admin
// endpoint and the proxy), with data and config directories of its own,
// and stops it at the end.
package adversarial

import (
	"bytes"
	"crypto/rsa"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// The binary's ports: free ones, taken when the test binary starts.
var (
	freePorts = testkit.FreePorts(3)
	adminPort = freePorts[0]
	proxyPort = freePorts[1]
	otherPort = freePorts[2] // not the proxy's: "tampered port"
	proxyAddr = "127.0.0.1:" + strconv.Itoa(proxyPort)
	hostHdr   = "localhost:" + strconv.Itoa(proxyPort)
	evilHost  = "evil.example:" + strconv.Itoa(proxyPort)
	proxyBase = "http://" + hostHdr // base_url: what clients sign against
	realm     = `OAuth realm="` + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(proxyBase) + `"`
)

const (
	bambooKey     = "bamboo:93f2"  // 2LO as svc-bamboo + impersonation
	confluenceKey = "confluence:1" // 2LO as svc-confluence, no impersonation
	bitbucketKey  = "bitbucket:7"  // impersonation only
	ciKey         = "ci-bot"       // HMAC-SHA1, 2LO as svc-ci
	ciSecret      = "adversarial-ci-secret"
)

var (
	consumerKey *rsa.PrivateKey // every RSA consumer's key
	strangerKey *rsa.PrivateKey // nobody's key
	up          *upstream
	proxyLog    = &testproc.LogBuffer{}
	proxyStart  time.Time // when the proxy (and its nonce store) started
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversarial:", err)
		if proxyLog.Len() > 0 {
			fmt.Fprintf(os.Stderr, "proxy log:\n%s\n", proxyLog.String())
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	for _, addr := range []string{proxyAddr, "127.0.0.1:" + strconv.Itoa(adminPort)} {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return 0, fmt.Errorf("%s is already in use; this suite needs it", addr)
		}
	}
	tmp, err := os.MkdirTemp("", "applink-adversarial")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	bin := filepath.Join(tmp, "applink")
	if err := testproc.BuildApplink(bin); err != nil {
		return 0, err
	}

	keys, err := testkit.WriteKeyPair(tmp, "consumer")
	if err != nil {
		return 0, err
	}
	consumerKey = keys.Key
	pubFile := keys.PubFile
	if strangerKey, err = rsakey.Generate(2048); err != nil {
		return 0, err
	}
	pubDER, err := rsakey.ConsumerInfoString(&consumerKey.PublicKey)
	if err != nil {
		return 0, err
	}

	up, err = startUpstream()
	if err != nil {
		return 0, err
	}
	defer up.close()

	tmpl, err := template.ParseFiles("testdata/Caddyfile.tmpl")
	if err != nil {
		return 0, err
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, map[string]any{
		"AdminPort": adminPort, "Port": proxyPort, "BaseURL": proxyBase,
		"PubFile": pubFile, "PubDER": pubDER, "Upstream": up.addr,
	}); err != nil {
		return 0, err
	}
	cfgFile := filepath.Join(tmp, "Caddyfile")
	if err := os.WriteFile(cfgFile, cfg.Bytes(), 0o600); err != nil {
		return 0, err
	}

	for _, d := range []string{"data", "config"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return 0, err
		}
	}
	proxy := exec.Command(bin, "run", "--config", cfgFile, "--adapter", "caddyfile")
	proxy.Dir = tmp
	proxy.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(tmp, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "config"),
		"ADVERSARIAL_CI_SECRET="+ciSecret)
	proxy.Stdout = proxyLog
	proxy.Stderr = proxyLog
	proxyStart = time.Now()
	p, err := testproc.Start(proxy)
	if err != nil {
		return 0, err
	}
	defer p.Stop(syscall.SIGINT, 10*time.Second)
	// Ready when the admin API and the proxy port answer.
	adminURL := fmt.Sprintf("http://localhost:%d/config/", adminPort)
	if err := p.Await(30*time.Second, func() bool { return testproc.Answers(adminURL) && testproc.Listening(proxyAddr) }); err != nil {
		return 0, fmt.Errorf("applink on %s: %w", proxyAddr, err)
	}
	// The in-memory nonce store refuses timestamps of the second it started
	// in and before: wait for the next whole second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	return m.Run(), nil
}

// logSince returns what b logged after offset, cut to the last 40 lines.
func logSince(b *testproc.LogBuffer, offset int) string {
	s := b.String()
	if offset > len(s) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s[offset:], "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
