//go:build linux

package testslapd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
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

	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
	"github.com/go-ldap/ldap/v3"
)

// Where Debian's slapd package puts things.
const (
	Bin       = "/usr/sbin/slapd"
	ModDir    = "/usr/lib/ldap"
	SchemaDir = "/etc/ldap/schema"
)

// The directory's suffix and root (manager) account.
const (
	BaseDN       = "dc=example,dc=org"
	RootDN       = "cn=admin,dc=example,dc=org"
	RootPassword = "root-secret"
)

// User is an inetOrgPerson entry uid=UID,ou=OU,BaseDN.
type User struct {
	UID, OU, Password string
	// EmployeeType, when set, becomes the employeeType attribute.
	EmployeeType string
	// Locked locks the account for good, as an administrator does with
	// OpenLDAP's password policy (pwdAccountLockedTime 000001010000Z);
	// needs Options.PasswordPolicy.
	Locked bool
}

// DN is the user's entry, with the uid escaped.
func (u User) DN() string { return UserDN(u.OU, u.UID) }

// UserDN is the DN of uid under ou=ou,BaseDN, with the uid escaped.
func UserDN(ou, uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + ",ou=" + ou + "," + BaseDN
}

// Entry is any further entry to add, after the organizational units and
// before the users.
type Entry struct {
	DN    string
	Attrs map[string][]string
}

// Options say what to start.
type Options struct {
	// Users to add; each distinct OU becomes an organizationalUnit.
	Users []User
	// Entries to add besides (service accounts and such).
	Entries []Entry
	// TLS: also listen for ldaps:// and offer StartTLS, with a fresh
	// self-signed certificate for 127.0.0.1 (Server.CertPool trusts it).
	TLS bool
	// AllowBindAnonDN sets "allow bind_anon_dn": slapd then accepts an
	// unauthenticated bind (a DN with an empty password) as anonymous,
	// as many directories do.
	AllowBindAnonDN bool
	// PasswordPolicy loads the ppolicy overlay: a locked account
	// (User.Locked) cannot bind, and its entry says so.
	PasswordPolicy bool
}

// Server is a running slapd.
type Server struct {
	URL          string // ldap://127.0.0.1:port (StartTLS offered with Options.TLS)
	LDAPSURL     string // ldaps://127.0.0.1:port, with Options.TLS only
	BaseDN       string
	RootDN       string
	RootPassword string
	CertPool     *x509.CertPool // trusts the server's certificate, with Options.TLS only

	dir  string
	proc *testproc.Proc
	log  *testproc.LogBuffer
	once sync.Once
}

// Available reports why slapd cannot be run here, or nil.
func Available() error {
	for _, p := range []string{Bin, filepath.Join(SchemaDir, "inetorgperson.schema")} {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	return nil
}

// Missing skips t because slapd is not installed, or fails it when
// APPLINK_REQUIRE_INTEROP=1 (CI installs everything).
func Missing(t testing.TB, err error) {
	t.Helper()
	testpeer.Require(t, "slapd", err)
}

// Shared is one server for a whole test binary, started on first use.
// TestMain should call Stop.
type Shared struct {
	Options Options

	peer testpeer.Once[*Server]
}

// Need returns the running server, starting it on first use; without
// slapd it skips t (see Missing), and it fails t if slapd does not start.
func (s *Shared) Need(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		Missing(t, err)
	}
	srv, err := s.peer.Get(func() (*Server, error) { return Start(s.Options) })
	if err != nil {
		t.Fatalf("starting slapd: %v", err)
	}
	return srv
}

// Stop stops the server if it was started.
func (s *Shared) Stop() {
	if srv, ok := s.peer.Started(); ok {
		srv.Stop()
	}
}

// Start starts slapd and loads the entries. It retries a few times, as a
// free port can be taken before slapd binds it.
func Start(opts Options) (*Server, error) {
	return testproc.OnFreePorts(func() (*Server, error) { return startOnce(opts) })
}

func startOnce(opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "applink-slapd-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		cleanup()
		return nil, err
	}
	port, err := testproc.FreePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	s := &Server{
		URL:          "ldap://127.0.0.1:" + strconv.Itoa(port),
		BaseDN:       BaseDN,
		RootDN:       RootDN,
		RootPassword: RootPassword,
		dir:          dir,
		log:          &testproc.LogBuffer{Max: 64 << 10},
	}
	listen := s.URL + "/"
	var extra string
	if opts.AllowBindAnonDN {
		extra += "allow bind_anon_dn\n"
	}
	var overlays string
	if opts.PasswordPolicy {
		extra += "moduleload ppolicy\n"
		overlays += "overlay ppolicy\n"
	}
	if opts.TLS {
		tlsPort, err := testproc.FreePort()
		if err != nil {
			cleanup()
			return nil, err
		}
		if s.CertPool, err = writeCert(dir); err != nil {
			cleanup()
			return nil, err
		}
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(tlsPort)
		listen += " " + s.LDAPSURL + "/"
		extra += fmt.Sprintf("TLSCertificateFile %[1]s/cert.pem\nTLSCertificateKeyFile %[1]s/key.pem\n", dir)
	}
	conf := fmt.Sprintf(`include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/inetorgperson.schema
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
modulepath %[3]s
moduleload back_mdb
%[7]saccess to attrs=userPassword by self =xw by anonymous auth by * none
access to * by self read by users read by anonymous auth
database mdb
maxsize 16777216
suffix "%[4]s"
rootdn "%[5]s"
rootpw %[6]s
directory %[2]s/db
%[8]s`, SchemaDir, dir, ModDir, BaseDN, RootDN, RootPassword, extra, overlays)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	// -d 0: stay in the foreground (so the process can be waited for and
	// killed) and log nothing but errors.
	cmd := exec.Command(Bin, "-f", confPath, "-h", listen, "-d", "0")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.proc, err = testproc.Start(cmd); err != nil {
		cleanup()
		return nil, err
	}
	var loadErr error
	err = s.proc.Await(5*time.Second, func() bool {
		conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err != nil {
			return false
		}
		defer conn.Close()
		if conn.Bind(RootDN, RootPassword) != nil {
			return false
		}
		loadErr = load(conn, opts)
		return true
	})
	switch {
	case errors.Is(err, testproc.ErrExited):
		s.Stop()
		return nil, fmt.Errorf("slapd exited: %s", s.log.String())
	case err != nil:
		s.Stop()
		return nil, fmt.Errorf("%v; log: %s", err, s.log.String())
	case loadErr != nil:
		s.Stop()
		return nil, fmt.Errorf("loading test entries: %w", loadErr)
	}
	return s, nil
}

// Stop terminates slapd's whole process group (killing it if it does not
// exit within 3s) and removes its directory. It may be called repeatedly.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.proc.Stop(syscall.SIGTERM, 3*time.Second)
		_ = os.RemoveAll(s.dir)
	})
}

// Log is what slapd has written so far (errors only; capped at 64 KiB).
func (s *Server) Log() string { return s.log.String() }

// writeCert writes a self-signed certificate for 127.0.0.1 (and its key)
// to dir and returns a pool that trusts it.
func writeCert(dir string) (*x509.CertPool, error) {
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

// SSHA is the {SSHA} scheme slapd checks: SHA-1 of password and salt,
// then the salt, base64.
func SSHA(password string) string {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

func load(conn *ldap.Conn, opts Options) error {
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
	if err := add(BaseDN, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		if seen[u.OU] {
			continue
		}
		seen[u.OU] = true
		if err := add("ou="+u.OU+","+BaseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {u.OU}}); err != nil {
			return err
		}
	}
	for _, e := range opts.Entries {
		if err := add(e.DN, e.Attrs); err != nil {
			return err
		}
	}
	for _, u := range opts.Users {
		attrs := map[string][]string{
			"objectClass":  {"inetOrgPerson"},
			"uid":          {u.UID},
			"cn":           {u.UID},
			"sn":           {u.UID},
			"userPassword": {SSHA(u.Password)},
		}
		if u.EmployeeType != "" {
			attrs["employeeType"] = []string{u.EmployeeType}
		}
		if err := add(u.DN(), attrs); err != nil {
			return err
		}
		if u.Locked {
			m := ldap.NewModifyRequest(u.DN(), nil)
			m.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
			if err := conn.Modify(m); err != nil {
				return fmt.Errorf("lock %s: %w", u.DN(), err)
			}
		}
	}
	return nil
}
