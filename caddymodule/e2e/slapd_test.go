//go:build linux

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// A real OpenLDAP slapd (Debian's slapd package), started once for the
// package on a free 127.0.0.1 port with a slapd.conf in a temporary
// directory, and stopped (its whole process group) by TestMain. Adapted
// from the harness of caddymodule/login (test files cannot be imported).

const (
	slapdBin    = "/usr/sbin/slapd"
	slapdModDir = "/usr/lib/ldap"
	schemaDir   = "/etc/ldap/schema"
	ldapSuffix  = "dc=example,dc=org"
	ldapRootDN  = "cn=admin,dc=example,dc=org"
	ldapRootPW  = "root-secret"
	// The template of `login ldap { user_dn ... }`.
	ldapUserDN = "uid={user},ou=people,dc=example,dc=org"
)

// ldapUsers: uid → password, all under ou=people.
var ldapUsers = map[string]string{
	"alice": "alice-pw",
	"bob":   "bob-pw",
}

type slapd struct {
	url  string // ldap://127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

var (
	slapdOnce sync.Once
	slapdSrv  *slapd
	slapdErr  error
)

// needSlapd returns the running slapd, starting it on first use; it skips
// (or fails under APPLINK_REQUIRE_INTEROP=1) without Debian's slapd.
func needSlapd(t *testing.T) *slapd {
	t.Helper()
	for _, p := range []string{slapdBin, filepath.Join(schemaDir, "inetorgperson.schema")} {
		if _, err := os.Stat(p); err != nil {
			missing(t, "slapd", err)
		}
	}
	slapdOnce.Do(func() { slapdSrv, slapdErr = startSlapd() })
	if slapdErr != nil {
		t.Fatalf("starting slapd: %v", slapdErr)
	}
	return slapdSrv
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startSlapd() (*slapd, error) {
	var last error
	for try := 0; try < 3; try++ { // a free port can be taken before slapd binds it
		s, err := startSlapdOnce()
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func startSlapdOnce() (*slapd, error) {
	dir, err := os.MkdirTemp("", "applink-e2e-slapd-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		cleanup()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	conf := fmt.Sprintf(`include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/inetorgperson.schema
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
modulepath %[3]s
moduleload back_mdb
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by self read by users read by anonymous auth
database mdb
maxsize 16777216
suffix "%[4]s"
rootdn "%[5]s"
rootpw %[6]s
directory %[2]s/db
`, schemaDir, dir, slapdModDir, ldapSuffix, ldapRootDN, ldapRootPW)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	url := "ldap://127.0.0.1:" + strconv.Itoa(port)
	log := &lockedBuffer{}
	// -d 0: stay in the foreground (so the process can be waited for and
	// killed) and log nothing but errors.
	cmd := exec.Command(slapdBin, "-f", confPath, "-h", url+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, err
	}
	s := &slapd{url: url, dir: dir, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(ldapRootDN, ldapRootPW)
			if err == nil {
				err = loadLDAPUsers(conn)
				conn.Close()
				if err != nil {
					s.stop()
					return nil, fmt.Errorf("loading test entries: %w", err)
				}
				return s, nil
			}
			conn.Close()
		}
		select {
		case <-s.done:
			s.stop()
			return nil, fmt.Errorf("slapd exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("slapd not ready after 5s: %v; log: %s", err, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *slapd) stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
}

// ssha is the {SSHA} scheme slapd checks: SHA-1 of password and salt,
// then the salt, base64.
func ssha(password string) string {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

func loadLDAPUsers(conn *ldap.Conn) error {
	add := func(dn string, attrs map[string][]string) error {
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := conn.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("add %s: %w", dn, err)
		}
		return nil
	}
	if err := add(ldapSuffix, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}); err != nil {
		return err
	}
	if err := add("ou=people,"+ldapSuffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}); err != nil {
		return err
	}
	for uid, pw := range ldapUsers {
		err := add("uid="+ldap.EscapeDN(uid)+",ou=people,"+ldapSuffix, map[string][]string{
			"objectClass":  {"inetOrgPerson"},
			"uid":          {uid},
			"cn":           {uid},
			"sn":           {uid},
			"userPassword": {ssha(pw)},
		})
		if err != nil {
			return err
		}
	}
	return nil
}
