package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// buildApplink compiles ./cmd/applink into dir, unless bin is given.
func buildApplink(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	out := filepath.Join(dir, "applink")
	return out, testproc.BuildApplink(out)
}

// proxy is one running applink process.
type proxy struct {
	proc    *testproc.Proc
	name    string
	port    int
	admin   int
	logPath string
}

// startProxy writes caddyfile to dir and runs the binary on it, with its
// own data and config directories, and waits until port answers.
// proxyEnv is added to every proxy's environment (-proxy-env), e.g. GC
// settings.
var proxyEnv []string

func startProxy(bin, dir, name, caddyfile string, port, adminPort int) (*proxy, error) {
	cfg := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "proc-"+name)
	for _, d := range []string{"data", "config"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			return nil, err
		}
	}
	cmd := serverCommand(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	cmd.Env = append(cmd.Env, proxyEnv...)
	logFile, err := os.Create(filepath.Join(home, "log.txt"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	p := &proxy{name: name, port: port, admin: adminPort, logPath: logFile.Name()}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if p.proc, err = testproc.Start(cmd); err != nil {
		return nil, err
	}
	admin := fmt.Sprintf("http://127.0.0.1:%d/config/", adminPort)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	if err := p.proc.Await(30*time.Second, func() bool { return testproc.Answers(admin) && testproc.Listening(listen) }); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s on port %d: %v\n%s", name, port, err, p.tail())
	}
	return p, nil
}

// tail returns the end of the proxy's log.
func (p *proxy) tail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func (p *proxy) stop() {
	if p != nil {
		p.proc.Stop(syscall.SIGINT, 10*time.Second)
	}
}

func (p *proxy) pid() int { return p.proc.Process.Pid }

// rss reads VmRSS and VmHWM (peak) of pid from /proc, in bytes.
func rss(pid int) (cur, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fields := strings.Fields(v) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %q", pid, k, v)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			cur = n * 1024
		} else {
			peak = n * 1024
		}
	}
	return cur, peak, sc.Err()
}

// redisServer is a throwaway redis-server on a loopback port.
type redisServer struct {
	proc *testproc.Proc
	port int
}

func startRedis(dir string) (*redisServer, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	p, port, err := testproc.StartRedis(path, 0, dir, serverCommand)
	if err != nil {
		return nil, err
	}
	return &redisServer{proc: p, port: port}, nil
}

// flush empties the server (FLUSHALL), so that a phase reusing pre-signed
// requests starts with no nonces recorded.
func (r *redisServer) flush() error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.port))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("*1\r\n$8\r\nFLUSHALL\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		return fmt.Errorf("FLUSHALL: %q %v", line, err)
	}
	return nil
}

func (r *redisServer) stop() {
	if r != nil {
		r.proc.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU returns the user+system CPU time pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	// After ')': state(0) ... utime is field 14 of the line, index 11 here.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// profile fetches a CPU profile of the proxy over d (Caddy's admin API
// serves net/http/pprof) and writes it to dir/<name>.cpu.pprof.
func (p *proxy) profile(dir, loop string, d time.Duration) (string, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", p.admin, int(d.Seconds()))
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := filepath.Join(dir, p.name+"."+loop+".cpu.pprof")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "", err
	}
	return out, nil
}
