package login

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"golang.org/x/sync/singleflight"
)

// Why a Directory refuses a user (the impersonation policy's rule names).
const (
	RuleUnknownUser  = oauth1.RuleUnknownUser
	RuleDisabledUser = oauth1.RuleDisabledUser
)

// DirectoryConfig configures [Directory].
type DirectoryConfig struct {
	// TTL is how long an answer is kept (default 5 minutes): a user
	// disabled in the directory may still be impersonated for that long.
	TTL time.Duration
	// MaxEntries bounds the cache (default 10,000 users).
	MaxEntries int
	// DisabledFilter, if set, is an LDAP filter that an entry matching
	// marks as disabled, beside the attributes checked always (see
	// [Directory.CheckUser]), e.g. (employeeType=disabled).
	DisabledFilter string
}

// Directory answers whether a user exists and may log in, from the
// directory of a `login ldap` source, searched as its bind account: what
// an impersonation policy asks before a consumer acts as that user.
// Answers are cached for a bounded time; failures are not, and are
// errors, so that the caller refuses (fails closed).
type Directory struct {
	l     *LDAP
	cfg   DirectoryConfig
	now   func() time.Time
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]directoryAnswer
}

type directoryAnswer struct {
	rule  string // "" (may be impersonated) or RuleUnknownUser / RuleDisabledUser
	until time.Time
}

// NewDirectory checks that l can look users up (it needs a bind account:
// a directory rarely lets anonymous clients read user entries, and the
// proxy has no user's password here) and returns the directory.
func NewDirectory(l *LDAP, cfg DirectoryConfig) (*Directory, error) {
	if l.cfg.BindDN == "" || l.cfg.BindPassword == "" {
		return nil, errors.New("looking users up needs login ldap's bind_dn and bind_password: the account the proxy searches the directory as")
	}
	if cfg.DisabledFilter != "" {
		if _, err := ldap.CompileFilter(cfg.DisabledFilter); err != nil {
			return nil, fmt.Errorf("disabled filter %q: %v", cfg.DisabledFilter, err)
		}
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	return &Directory{l: l, cfg: cfg, now: time.Now, cache: map[string]directoryAnswer{}}, nil
}

// NewLDAPDirectory is NewDirectory on a directory of its own, for a proxy
// without `login ldap`: cfg's connection settings only (URL, how users are
// found, the bind account, StartTLS, TLS, Timeout) are used.
func NewLDAPDirectory(cfg LDAPConfig, dc DirectoryConfig) (*Directory, error) {
	l, err := newLDAPConnection(cfg)
	if err != nil {
		return nil, err
	}
	return NewDirectory(l, dc)
}

// Plaintext reports whether the bind password crosses the network
// unencrypted (ldap:// without StartTLS).
func (d *Directory) Plaintext() bool { return d.l.Plaintext() }

// errLookupsBusy: every connection slot stayed taken for the timeout.
var errLookupsBusy = errors.New("user directory: too many lookups in progress")

// disabledAttributes are read from a user's entry; each marks the account
// disabled in one family of directories.
var disabledAttributes = []string{
	"pwdAccountLockedTime", // OpenLDAP ppolicy: locked (present at all)
	"nsAccountLock",        // 389 Directory Server, FreeIPA: "TRUE"
	"userAccountControl",   // Active Directory: bit 0x2, ACCOUNTDISABLE
}

// CheckUser reports why user may not be impersonated: RuleUnknownUser
// when no entry (or more than one) is found for the name, RuleDisabledUser
// when the entry is locked or disabled (OpenLDAP's pwdAccountLockedTime,
// nsAccountLock, Active Directory's ACCOUNTDISABLE flag, or
// DisabledFilter); "" when it may. An error means the directory could not
// answer.
func (d *Directory) CheckUser(ctx context.Context, user string) (string, error) {
	if !validUser(user) {
		return RuleUnknownUser, nil
	}
	now := d.now()
	d.mu.Lock()
	a, ok := d.cache[user]
	d.mu.Unlock()
	if ok && now.Before(a.until) {
		return a.rule, nil
	}
	v, err, _ := d.group.Do(user, func() (any, error) {
		rule, err := d.lookup(ctx, user)
		if err != nil {
			return "", err
		}
		d.remember(user, rule, d.now())
		return rule, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// remember caches an answer, making room by dropping expired answers and,
// if the cache is still full, arbitrary ones.
func (d *Directory) remember(user, rule string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache) >= d.cfg.MaxEntries {
		for u, a := range d.cache {
			if !now.Before(a.until) {
				delete(d.cache, u)
			}
		}
		for u := range d.cache {
			if len(d.cache) < d.cfg.MaxEntries {
				break
			}
			delete(d.cache, u)
		}
	}
	d.cache[user] = directoryAnswer{rule: rule, until: now.Add(d.cfg.TTL)}
}

func (d *Directory) lookup(ctx context.Context, user string) (string, error) {
	l := d.l
	conn, done, err := l.connect(ctx, errLookupsBusy)
	if err != nil {
		return "", err
	}
	defer done()
	if err := conn.Bind(l.cfg.BindDN, l.cfg.BindPassword); err != nil {
		return "", fmt.Errorf("user directory: bind as %s: %w", l.cfg.BindDN, err)
	}
	limit := int(l.cfg.Timeout/time.Second) + 1
	var req *ldap.SearchRequest
	if l.cfg.UserDNTemplate != "" {
		dn := strings.ReplaceAll(l.cfg.UserDNTemplate, "{user}", escapeDNValue(user))
		req = ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, limit, false, "(objectClass=*)", disabledAttributes, nil)
	} else {
		filter := strings.ReplaceAll(l.cfg.SearchFilter, "{user}", escapeFilterValue(user))
		req = ldap.NewSearchRequest(l.cfg.SearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, limit, false, filter, disabledAttributes, nil)
	}
	res, err := conn.Search(req)
	switch {
	case err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return RuleUnknownUser, nil
	case err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded), err == nil && len(res.Entries) > 1:
		return RuleUnknownUser, nil // several entries: not one user
	case err != nil:
		return "", fmt.Errorf("user directory: search: %w", err)
	case len(res.Entries) == 0:
		return RuleUnknownUser, nil
	}
	entry := res.Entries[0]
	if disabledEntry(entry) {
		return RuleDisabledUser, nil
	}
	if d.cfg.DisabledFilter != "" {
		res, err := conn.Search(ldap.NewSearchRequest(entry.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, limit, false, d.cfg.DisabledFilter, []string{"1.1"}, nil))
		if err != nil {
			return "", fmt.Errorf("user directory: disabled filter: %w", err)
		}
		if len(res.Entries) > 0 {
			return RuleDisabledUser, nil
		}
	}
	return "", nil
}

// disabledEntry reads the disabledAttributes of an entry.
func disabledEntry(e *ldap.Entry) bool {
	if len(e.GetAttributeValues("pwdAccountLockedTime")) > 0 {
		return true
	}
	if strings.EqualFold(e.GetAttributeValue("nsAccountLock"), "true") {
		return true
	}
	if v := e.GetAttributeValue("userAccountControl"); v != "" {
		flags, err := strconv.ParseInt(v, 10, 64)
		return err != nil || flags&0x2 != 0 // unreadable: not to be trusted as enabled
	}
	return false
}
