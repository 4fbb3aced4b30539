//go:build linux

package login

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
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
// package's tests on a free 127.0.0.1 port with a slapd.conf in a
// temporary directory, and stopped (its whole process group) by TestMain.
// Without slapd the LDAP tests skip, unless APPLINK_REQUIRE_INTEROP=1
// makes that a failure.

const (
	slapdBin    = "/usr/sbin/slapd"
	slapdModDir = "/usr/lib/ldap"
	schemaDir   = "/etc/ldap/schema"
	testSuffix  = "dc=example,dc=org"
	testRootDN  = "cn=admin,dc=example,dc=org"
	testRootPW  = "root-secret"
	readerDN    = "cn=reader,dc=example,dc=org"
	readerPW    = "reader-secret"
	peopleDN    = "ou=people,dc=example,dc=org"
)

// testUsers: uid → password. employeeType "jira" marks who the search
// filter admits; mallory is not admitted, "o,brien" needs DN escaping, and
// twin exists twice (ou=people and ou=staff).
var testUsers = []struct {
	ou, uid, password, employeeType string
}{
	{"people", "alice", "alice-pw", "jira"},
	{"people", "bob", "bob-pw", "jira"},
	{"people", "mallory", "mallory-pw", "contractor"},
	{"people", "o,brien", "obrien-pw", "jira"},
	{"people", "twin", "twin-pw", "jira"},
	{"staff", "twin", "twin-pw", "jira"},
}

type slapd struct {
	url  string // ldap://, StartTLS offered
	tls  string // ldaps://
	ca   *x509.CertPool
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

func TestMain(m *testing.M) {
	code := m.Run()
	if slapdSrv != nil {
		slapdSrv.stop()
	}
	os.Exit(code)
}

// needSlapd returns the running slapd, starting it on first use.
func needSlapd(t *testing.T) *slapd {
	t.Helper()
	if _, err := os.Stat(slapdBin); err != nil {
		if os.Getenv("APPLINK_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s not found (install Debian's slapd): %v", slapdBin, err)
		}
		t.Skipf("%s not found (apt-get install slapd); set APPLINK_REQUIRE_INTEROP=1 to make this fatal", slapdBin)
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startSlapdOnce() (*slapd, error) {
	dir, err := os.MkdirTemp("", "applink-slapd-")
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
	tlsPort, err := freePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	pool, err := writeTestCert(dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	// "allow bind_anon_dn" is deliberate: it makes slapd accept an
	// unauthenticated bind (a DN with an empty password) as anonymous,
	// as many directories do, so the empty-password test is meaningful.
	conf := fmt.Sprintf(`include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/inetorgperson.schema
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
modulepath %[3]s
moduleload back_mdb
allow bind_anon_dn
TLSCertificateFile %[2]s/cert.pem
TLSCertificateKeyFile %[2]s/key.pem
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by self read by users read by anonymous auth
database mdb
maxsize 16777216
suffix "%[4]s"
rootdn "%[5]s"
rootpw %[6]s
directory %[2]s/db
`, schemaDir, dir, slapdModDir, testSuffix, testRootDN, testRootPW)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	url := "ldap://127.0.0.1:" + strconv.Itoa(port)
	tlsURL := "ldaps://127.0.0.1:" + strconv.Itoa(tlsPort)
	log := &lockedBuffer{}
	// -d 0: stay in the foreground (so the process can be waited for and
	// killed) and log nothing but errors.
	cmd := exec.Command(slapdBin, "-f", confPath, "-h", url+"/ "+tlsURL+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, err
	}
	s := &slapd{url: url, tls: tlsURL, ca: pool, dir: dir, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(testRootDN, testRootPW)
			if err == nil {
				err = loadTestData(conn)
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

// writeTestCert writes a self-signed certificate for 127.0.0.1 (and its
// key) to dir and returns a pool that trusts it.
func writeTestCert(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
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

func userDN(ou, uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + ",ou=" + ou + "," + testSuffix
}

func loadTestData(conn *ldap.Conn) error {
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
	if err := add(testSuffix, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}); err != nil {
		return err
	}
	for _, ou := range []string{"people", "staff"} {
		if err := add("ou="+ou+","+testSuffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}}); err != nil {
			return err
		}
	}
	if err := add(readerDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"reader"}, "userPassword": {ssha(readerPW)}}); err != nil {
		return err
	}
	for _, u := range testUsers {
		err := add(userDN(u.ou, u.uid), map[string][]string{
			"objectClass":  {"inetOrgPerson"},
			"uid":          {u.uid},
			"cn":           {u.uid},
			"sn":           {u.uid},
			"employeeType": {u.employeeType},
			"userPassword": {ssha(u.password)},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TestSlapdHarness checks the harness itself: the entries are there, the
// passwords are checked, and the unauthenticated-bind trap is armed.
func TestSlapdHarness(t *testing.T) {
	s := needSlapd(t)
	conn, err := ldap.DialURL(s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(userDN("people", "alice"), "alice-pw"); err != nil {
		t.Fatalf("alice's bind: %v", err)
	}
	if err := conn.Bind(userDN("people", "alice"), "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("wrong password: %v, want invalidCredentials", err)
	}
	// The trap: a DN with an empty password is "logged in" as anonymous.
	if err := conn.UnauthenticatedBind(userDN("people", "alice")); err != nil {
		t.Fatalf("this slapd should accept an unauthenticated bind (allow bind_anon_dn): %v", err)
	}
	if err := conn.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(testSuffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != len(testUsers) {
		t.Fatalf("%d users in the directory, want %d", len(res.Entries), len(testUsers))
	}
}
