package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

func keygenCommand() Command {
	return Command{
		Name:  "keygen",
		Usage: "--out <dir/name> [--bits <n>] [--force]",
		Short: "Generates the RSA key pair of an application link",
		Long: `
Generates an RSA key pair for signing application-link requests (OAuth 1.0a
RSA-SHA1) and writes it as PEM:

  <dir/name>.pem      the private key, PKCS#8, file mode 0600
  <dir/name>.pub.pem  the public key, PKIX

It prints the public key as /plugins/servlet/oauth/consumer-info publishes it
(base64 DER on one line) on standard output: paste it as the "Public Key" of
the remote application's incoming link. On standard error it names the
key's fingerprint, as caddy-applink's metrics and logs name keys.

Existing files are kept unless --force is given: to rotate a key, generate
the next one under a new name (--out keys/applink-2027) and keep serving the
current one until the remote has the new one (docs/key-rotation.md).

--out     where to write, without the .pem extension (required)
--bits    modulus size, 2048 (default) to 8192
--force   overwrite existing files
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("out", "", "Path of the key pair, without extension (writes NAME.pem and NAME.pub.pem)")
			cmd.Flags().Int("bits", 2048, "RSA modulus size in bits")
			cmd.Flags().Bool("force", false, "Overwrite existing files")
			cmd.Args = cobra.NoArgs
			cmd.RunE = runE(func(cmd *cobra.Command, _ []string) (int, error) {
				fl := cmd.Flags()
				out, _ := fl.GetString("out")
				bits, _ := fl.GetInt("bits")
				force, _ := fl.GetBool("force")
				return Keygen(KeygenOptions{Out: out, Bits: bits, Force: force}, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
}

// KeygenOptions are the flags of `applink keygen`.
type KeygenOptions struct {
	Out   string // path without extension
	Bits  int
	Force bool
}

// Keygen writes a key pair and prints the consumer-info public key string
// on stdout (and what it did on stderr).
func Keygen(o KeygenOptions, stdout, stderr io.Writer) (int, error) {
	if o.Out == "" {
		return 1, errors.New("--out is required, e.g. --out keys/applink")
	}
	base := strings.TrimSuffix(o.Out, ".pem")
	if o.Bits == 0 {
		o.Bits = 2048
	}
	if o.Bits < 2048 || o.Bits > 8192 {
		return 1, fmt.Errorf("--bits must be between 2048 and 8192, not %d", o.Bits)
	}
	privPath, pubPath := base+".pem", base+".pub.pem"
	if !o.Force {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return 1, fmt.Errorf("%s exists; keeping it (use --force to overwrite)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return 1, err
			}
		}
	}
	if dir := filepath.Dir(base); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 1, err
		}
	}

	key, err := rsakey.Generate(o.Bits)
	if err != nil {
		return 1, err
	}
	privPEM, err := rsakey.EncodePrivatePEM(key)
	if err != nil {
		return 1, err
	}
	pubPEM, err := rsakey.EncodePublicPEM(&key.PublicKey)
	if err != nil {
		return 1, err
	}
	info, err := rsakey.ConsumerInfoString(&key.PublicKey)
	if err != nil {
		return 1, err
	}
	if err := writeAtomic(privPath, privPEM, 0o600, o.Force); err != nil {
		return 1, err
	}
	if err := writeAtomic(pubPath, pubPEM, 0o644, o.Force); err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "wrote %s (private key, PKCS#8, mode 0600) and %s (public key)\n", privPath, pubPath)
	fmt.Fprintf(stderr, "fingerprint %s\n", rsakey.Fingerprint(&key.PublicKey))
	fmt.Fprintf(stderr, "public key, as consumer-info publishes it:\n")
	fmt.Fprintln(stdout, info)
	return 0, nil
}

// writeAtomic writes data to a new file in path's directory with the given
// mode, then moves it to path: the key is never readable with a wider mode,
// even for a moment, and a crash leaves no half-written key. Without
// overwrite, an existing path is kept (a hard link fails if it exists).
func writeAtomic(path string, data []byte, mode os.FileMode, overwrite bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if !overwrite {
		err := os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; keeping it (use --force to overwrite)", path)
		}
		if err == nil {
			return nil
		}
		// No hard links on this file system: fall back to a rename.
	}
	return os.Rename(tmp, path)
}
