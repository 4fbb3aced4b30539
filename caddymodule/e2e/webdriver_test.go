//go:build linux

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// A minimal W3C WebDriver client for Debian's chromedriver, on plain
// net/http and JSON: enough to drive headless Chromium through the login,
// approval and token pages as a user would.

const (
	chromiumBin     = "/usr/bin/chromium"
	chromedriverBin = "/usr/bin/chromedriver"
	// The W3C key of an element reference.
	elementKey = "element-6066-11e4-a52e-4f735466cecf"
)

func requireChromium(t *testing.T) {
	t.Helper()
	for _, p := range []string{chromiumBin, chromedriverBin} {
		if _, err := os.Stat(p); err != nil {
			pkg := "chromium"
			if p == chromedriverBin {
				pkg = "chromium-driver"
			}
			missing(t, pkg, err)
		}
	}
}

// chromedriver is a running chromedriver and the browser profile it uses.
type chromedriver struct {
	t       *testing.T
	proc    *testproc.Proc
	url     string
	profile string
	log     *testproc.LogBuffer
	client  *http.Client
}

// startChromedriver starts chromedriver on a free port in a process group
// of its own, waits until it is ready, and registers its end (the browser
// session, chromedriver's process group, and any Chromium process left
// with this test's profile) as a cleanup.
func startChromedriver(t *testing.T) *chromedriver {
	t.Helper()
	d, err := testproc.OnFreePorts(func() (*chromedriver, error) { return startChromedriverOnce(t) })
	if err != nil {
		t.Fatalf("starting chromedriver: %v", err)
	}
	return d
}

func startChromedriverOnce(t *testing.T) (*chromedriver, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	d := &chromedriver{
		t:       t,
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		profile: t.TempDir(),
		log:     &testproc.LogBuffer{Max: 64 << 10},
		client:  &http.Client{Timeout: 30 * time.Second},
	}
	cmd := exec.Command(chromedriverBin, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = d.log, d.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if d.proc, err = testproc.Start(cmd); err != nil {
		return nil, err
	}
	err = d.proc.Await(10*time.Second, func() bool {
		var status struct {
			Value struct {
				Ready bool `json:"ready"`
			} `json:"value"`
		}
		return d.call(http.MethodGet, "/status", nil, &status) == nil && status.Value.Ready
	})
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("chromedriver: %v: %s", err, d.log.String())
	}
	t.Cleanup(d.stop)
	return d, nil
}

// stop ends chromedriver's process group, then any Chromium process still
// running with this test's profile (they are identified by the profile
// directory on their command line: only processes this test started).
func (d *chromedriver) stop() {
	d.proc.Stop(syscall.SIGTERM, 3*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesWith(d.profile)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			d.t.Errorf("Chromium processes left running: %v", left)
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesWith returns the live processes whose command line contains s.
func processesWith(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// Field 3, after the parenthesised name: Z is a zombie, already dead.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// wdError is an error answer of the WebDriver protocol.
type wdError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *wdError) Error() string {
	return fmt.Sprintf("webdriver %d %s: %s", e.Status, e.Code, e.Message)
}

// call sends one WebDriver command and decodes the answer into out.
func (d *chromedriver) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.url+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Value wdError `json:"value"`
		}
		_ = json.Unmarshal(data, &e)
		e.Value.Status = resp.StatusCode
		if e.Value.Code == "" {
			e.Value.Message = string(data)
		}
		return &e.Value
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// browser is one WebDriver session: a headless Chromium window.
type browser struct {
	t  *testing.T
	d  *chromedriver
	id string
}

// newBrowser opens headless Chromium with a fresh profile.
func (d *chromedriver) newBrowser(t *testing.T) *browser {
	t.Helper()
	caps := map[string]any{
		"capabilities": map[string]any{
			"alwaysMatch": map[string]any{
				"browserName":       "chrome",
				"pageLoadStrategy":  "normal",
				"goog:loggingPrefs": map[string]string{"browser": "ALL"},
				"timeouts":          map[string]int{"pageLoad": 15000, "script": 5000, "implicit": 0},
				"goog:chromeOptions": map[string]any{
					"binary": chromiumBin,
					"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
						"--disable-background-networking", "--disable-component-update", "--disable-sync",
						"--disable-dev-shm-usage", "--window-size=1000,900", "--user-data-dir=" + d.profile},
				},
			},
		},
	}
	var out struct {
		Value struct {
			SessionID string `json:"sessionId"`
		} `json:"value"`
	}
	if err := d.call(http.MethodPost, "/session", caps, &out); err != nil {
		t.Fatalf("new WebDriver session: %v\nchromedriver log:\n%s", err, d.log.String())
	}
	b := &browser{t: t, d: d, id: out.Value.SessionID}
	t.Cleanup(func() { _ = d.call(http.MethodDelete, "/session/"+b.id, nil, nil) })
	return b
}

func (b *browser) call(method, path string, in, out any) error {
	return b.d.call(method, "/session/"+b.id+path, in, out)
}

func (b *browser) must(err error, what string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to u (and waits for the page to load).
func (b *browser) open(u string) {
	b.t.Helper()
	b.must(b.call(http.MethodPost, "/url", map[string]string{"url": u}, nil), "navigate to "+u)
}

// getString GETs the session's path and returns its string value; what
// names it in a failure.
func (b *browser) getString(path, what string) string {
	b.t.Helper()
	var out struct {
		Value string `json:"value"`
	}
	b.must(b.call(http.MethodGet, path, nil, &out), what)
	return out.Value
}

func (b *browser) currentURL() string {
	b.t.Helper()
	return b.getString("/url", "current URL")
}

func (b *browser) source() string {
	b.t.Helper()
	return b.getString("/source", "page source")
}

// findAll returns the elements matching a CSS selector, now.
func (b *browser) findAll(css string) ([]string, error) {
	var out struct {
		Value []map[string]string `json:"value"`
	}
	if err := b.call(http.MethodPost, "/elements", map[string]string{"using": "css selector", "value": css}, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Value))
	for i, e := range out.Value {
		ids[i] = e[elementKey]
	}
	return ids, nil
}

// waitFor waits (at most timeout) for an element matching css and returns
// the first one.
func (b *browser) waitFor(css string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids, err := b.findAll(css)
		if err == nil && len(ids) > 0 {
			return ids[0]
		}
		var we *wdError
		if err != nil && !(errors.As(err, &we) && we.Code == "no such element") && time.Now().After(deadline) {
			b.t.Fatalf("waiting for %q: %v", css, err)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %q after %s on %s; console: %v\n%s", css, timeout, b.currentURL(), b.console(), b.source())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitURL waits (at most timeout) until the current URL satisfies ok.
func (b *browser) waitURL(what string, ok func(string) bool, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		u := b.currentURL()
		if ok(u) {
			return u
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: still at %s after %s; console: %v\n%s", what, u, timeout, b.console(), b.source())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (b *browser) typeInto(elem, text string) {
	b.t.Helper()
	b.must(b.call(http.MethodPost, "/element/"+elem+"/clear", map[string]any{}, nil), "clear")
	b.must(b.call(http.MethodPost, "/element/"+elem+"/value", map[string]string{"text": text}, nil), "type")
}

// logIn fills the login form, whose user name field is userField, with
// user and password, and submits it.
func (b *browser) logIn(userField, user, password string) {
	b.t.Helper()
	b.typeInto(userField, user)
	b.typeInto(b.waitFor("input#password", time.Second), password)
	b.click(b.waitFor("button[type=submit]", time.Second))
}

func (b *browser) click(elem string) {
	b.t.Helper()
	b.must(b.call(http.MethodPost, "/element/"+elem+"/click", map[string]any{}, nil), "click")
}

func (b *browser) text(elem string) string {
	b.t.Helper()
	return b.getString("/element/"+elem+"/text", "element text")
}

// textOf waits for css and returns its text.
func (b *browser) textOf(css string) string {
	b.t.Helper()
	return b.text(b.waitFor(css, 5*time.Second))
}

func (b *browser) title() string {
	b.t.Helper()
	return b.getString("/title", "title")
}

// screenshot returns a PNG of the viewport.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	png, err := base64.StdEncoding.DecodeString(b.getString("/screenshot", "screenshot"))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// scripts counts the script elements of the page.
func (b *browser) scripts() int {
	b.t.Helper()
	ids, err := b.findAll("script")
	b.must(err, "find scripts")
	return len(ids)
}

// bodyText is the visible text of the page, whitespace collapsed.
func (b *browser) bodyText() string {
	b.t.Helper()
	return strings.Join(strings.Fields(b.textOf("body")), " ")
}

// console returns (and clears) the browser's console messages, where
// Chromium reports what it refused (Content-Security-Policy violations).
func (b *browser) console() []string {
	var out struct {
		Value []struct {
			Level   string `json:"level"`
			Message string `json:"message"`
		} `json:"value"`
	}
	if err := b.call(http.MethodPost, "/se/log", map[string]string{"type": "browser"}, &out); err != nil {
		return []string{"(no console log: " + err.Error() + ")"}
	}
	msgs := make([]string, len(out.Value))
	for i, m := range out.Value {
		msgs[i] = m.Level + ": " + m.Message
	}
	return msgs
}

// waitNavigation waits (at most timeout) until the current URL starts with
// prefix and returns it; or returns "" and the Content-Security-Policy
// violations Chromium reported, as soon as there is one.
func (b *browser) waitNavigation(prefix string, timeout time.Duration) (string, []string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		u := b.currentURL()
		if strings.HasPrefix(u, prefix) {
			return u, nil
		}
		var refused []string
		for _, m := range b.console() {
			if strings.Contains(m, "Content Security Policy") {
				refused = append(refused, m)
			}
		}
		if len(refused) > 0 || time.Now().After(deadline) {
			return "", refused
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitCount waits (at most timeout) until exactly n elements match css.
func (b *browser) waitCount(css string, n int, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids, err := b.findAll(css)
		if err == nil && len(ids) == n {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%d %q (%v) after %s on %s, want %d:\n%s", len(ids), css, err, timeout, b.currentURL(), n, b.source())
		}
		time.Sleep(25 * time.Millisecond)
	}
}
