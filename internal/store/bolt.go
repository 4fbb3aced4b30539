package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	tokensBucket = []byte("tokens")
	remoteBucket = []byte("remote_tokens")
	metaBucket   = []byte("meta")
	schemaKey    = []byte("schema")
	journalKey   = []byte("journal_id") // pairs the state file with its nonce journal
)

const schemaVersion = "1"

// ErrLocked says another process holds the state file open.
var ErrLocked = errors.New("locked by another process")

// Bolt is the embedded token store: one bbolt file, safe across restarts
// and crashes (every write is a synced transaction). Open it once per
// process: bbolt holds an exclusive lock on the file.
type Bolt struct {
	db      *bolt.DB
	path    string
	journal *NonceJournal
}

// OpenBolt opens or creates the state file. A file locked by another
// process or not a bbolt database gives an error naming the file.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("state file %s is %w (is another applink running on it?)", path, ErrLocked)
		}
		return nil, fmt.Errorf("state file %s: cannot open: %w", path, err)
	}
	var journalID [16]byte
	fresh := false
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		v := meta.Get(schemaKey)
		if v != nil && string(v) != schemaVersion {
			return fmt.Errorf("schema version %s, this build reads %s", v, schemaVersion)
		}
		fresh = v == nil
		if err := meta.Put(schemaKey, []byte(schemaVersion)); err != nil {
			return err
		}
		if id := meta.Get(journalKey); len(id) == len(journalID) {
			journalID = [16]byte(id)
		} else {
			// A state file from a release before this journal: its own
			// journal is found as such (see OpenNonceJournal).
			if _, err := rand.Read(journalID[:]); err != nil {
				return err
			}
			if err := meta.Put(journalKey, journalID[:]); err != nil {
				return err
			}
		}
		if _, err = tx.CreateBucketIfNotExists(remoteBucket); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(tokensBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	// Opened under the state file's lock, which makes it this process's.
	journal, err := OpenNonceJournal(path, journalID, fresh)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Bolt{db: db, path: path, journal: journal}, nil
}

// Path returns the file name.
func (b *Bolt) Path() string { return b.path }

// NonceJournal is the journal of accepted nonces that lives beside the
// state file (see NonceJournal).
func (b *Bolt) NonceJournal() *NonceJournal { return b.journal }

// Close releases the file and its nonce journal.
func (b *Bolt) Close() error { return errors.Join(b.journal.Close(), b.db.Close()) }

func decode(v []byte) (*Token, error) {
	t := new(Token)
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("corrupt token record: %w", err)
	}
	return t, nil
}

// appendMatch decodes the record v and appends it to out if f selects it.
func (f Filter) appendMatch(out []*Token, v []byte) ([]*Token, error) {
	t, err := decode(v)
	if err != nil {
		return out, err
	}
	if f.Match(t) {
		out = append(out, t)
	}
	return out, nil
}

// Put stores a new token.
func (b *Bolt) Put(_ context.Context, t *Token) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tokensBucket)
		if bk.Get([]byte(t.ID)) != nil {
			return ErrExists
		}
		return bk.Put([]byte(t.ID), data)
	})
}

// Get returns a token by ID.
func (b *Bolt) Get(_ context.Context, id string) (*Token, error) {
	var t *Token
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(tokensBucket).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		t, err = decode(v)
		return err
	})
	return t, err
}

// Update changes one token atomically.
func (b *Bolt) Update(_ context.Context, id string, fn func(*Token) error) (*Token, error) {
	var t *Token
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tokensBucket)
		v := bk.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		if t, err = decode(v); err != nil {
			return err
		}
		switch err := fn(t); {
		case errors.Is(err, ErrDelete):
			return bk.Delete([]byte(id))
		case err != nil:
			return err
		}
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		return bk.Put([]byte(id), data)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Delete removes the selected tokens.
func (b *Bolt) Delete(_ context.Context, f Filter) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tokensBucket)
		if f.ID != "" {
			v := bk.Get([]byte(f.ID))
			if v == nil {
				return nil
			}
			t, err := decode(v)
			if err != nil || !f.Match(t) {
				return err
			}
			n = 1
			return bk.Delete([]byte(f.ID))
		}
		var err error
		n, err = deleteWhere(bk, func(v []byte) (bool, error) {
			t, err := decode(v)
			return err == nil && f.Match(t), err
		})
		return err
	})
	return n, err
}

// deleteWhere deletes the records doom selects (collected first: bbolt
// forbids deleting while iterating) and says how many.
func deleteWhere(bk *bolt.Bucket, doom func(v []byte) (bool, error)) (int, error) {
	var doomed [][]byte
	err := bk.ForEach(func(k, v []byte) error {
		d, err := doom(v)
		if d {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, k := range doomed {
		if err := bk.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

// List returns the selected tokens.
func (b *Bolt) List(_ context.Context, f Filter) ([]*Token, error) {
	var out []*Token
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tokensBucket)
		var err error
		if f.ID != "" {
			if v := bk.Get([]byte(f.ID)); v != nil {
				out, err = f.appendMatch(out, v)
			}
			return err
		}
		return bk.ForEach(func(_, v []byte) error {
			out, err = f.appendMatch(out, v)
			return err
		})
	})
	return out, err
}

// Sweep deletes dead tokens.
func (b *Bolt) Sweep(_ context.Context, now time.Time) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		var err error
		// Corrupt records are dead too: nothing can use them.
		n, err = deleteWhere(tx.Bucket(tokensBucket), func(v []byte) (bool, error) {
			t, err := decode(v)
			return err != nil || t.Dead(now), nil
		})
		return err
	})
	return n, err
}

var _ TokenStore = (*Bolt)(nil)

// Import stores many tokens in one transaction (migrations, load tests);
// existing IDs are overwritten.
func (b *Bolt) Import(_ context.Context, tokens []*Token) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tokensBucket)
		for _, t := range tokens {
			data, err := json.Marshal(t)
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(t.ID), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutRemote stores (or replaces) a consumer-side token.
func (b *Bolt) PutRemote(_ context.Context, t *RemoteToken) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(remoteBucket).Put([]byte(RemoteKey(t.Remote, t.User)), data)
	})
}

// GetRemote returns the consumer-side token of (remote, user).
func (b *Bolt) GetRemote(_ context.Context, remote, user string) (*RemoteToken, error) {
	var t *RemoteToken
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(remoteBucket).Get([]byte(RemoteKey(remote, user)))
		if v == nil {
			return ErrNotFound
		}
		t = new(RemoteToken)
		return json.Unmarshal(v, t)
	})
	return t, err
}

// DeleteRemote forgets the consumer-side token of (remote, user).
func (b *Bolt) DeleteRemote(_ context.Context, remote, user string) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(remoteBucket).Delete([]byte(RemoteKey(remote, user)))
	})
}

// ListRemote returns the consumer-side tokens of remote and user ("" = any).
func (b *Bolt) ListRemote(_ context.Context, remote, user string) ([]*RemoteToken, error) {
	var out []*RemoteToken
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(remoteBucket).ForEach(func(_, v []byte) error {
			t := new(RemoteToken)
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("corrupt remote token record: %w", err)
			}
			if matchRemote(t, remote, user) {
				out = append(out, t)
			}
			return nil
		})
	})
	return out, err
}

var _ RemoteStore = (*Bolt)(nil)

// Count returns the number of tokens without decoding them.
func (b *Bolt) Count(_ context.Context) (int, error) {
	n := 0
	err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(tokensBucket).Stats().KeyN
		return nil
	})
	return n, err
}

// Ping checks the file is usable (for readiness).
func (b *Bolt) Ping(_ context.Context) error {
	return b.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(tokensBucket) == nil {
			return errors.New("tokens bucket missing")
		}
		return nil
	})
}
