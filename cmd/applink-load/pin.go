package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// serverCPUs, when set, is the taskset CPU list the proxies and Redis run
// on; this process (the generator and the stand-in upstream) keeps CPU 0.
var serverCPUs string

// pinServers makes the servers started from now on run on every CPU but
// CPU 0, which pinSelf later gives to this process (the generator and the
// stand-in upstream): then the generator cannot take CPU from a proxy in
// the middle of a request, and the proxy's latency is its own. The cost is
// that each side has fewer cores.
func pinServers() (string, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return "", fmt.Errorf("-pin needs 2 CPUs, this machine has %d", n)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", fmt.Errorf("-pin needs taskset (util-linux): %w", err)
	}
	serverCPUs = "1"
	if n > 2 {
		serverCPUs = "1-" + strconv.Itoa(n-1)
	}
	return fmt.Sprintf("pinned: proxies and Redis on CPU %s, generator and upstream on CPU 0 (after pre-signing on all)", serverCPUs), nil
}

// pinSelf moves every thread of this process to CPU 0. Threads created
// later inherit the mask of the thread that creates them.
func pinSelf() error {
	var set unix.CPUSet
	set.Set(0)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pinning to CPU 0: %w", err)
		}
	}
	return nil
}

// serverCommand starts a proxy or Redis, on the server CPUs when pinned.
func serverCommand(name string, args ...string) *exec.Cmd {
	if serverCPUs == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", serverCPUs, name}, args...)...)
}
