package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// userHZ is the unit of utime/stime in /proc/PID/stat: USER_HZ, which Linux fixes at
// 100 ticks per second for every architecture's /proc ABI.
const userHZ = 100

// procUsage is the CPU time and resident memory of a process tree at one instant.
type procUsage struct {
	CPUTicks uint64 // utime+stime over all threads of all processes, in 1/userHZ s
	RSSBytes int64  // sum of VmRSS (shared pages are counted once per process)
	Procs    int    // processes found in the tree
}

// parseProcStat extracts the parent pid and utime+stime from a /proc/PID/stat line.
// The command name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseProcStat(b []byte) (ppid int, cpuTicks uint64, err error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, 0, errors.New("no ')' after the command name")
	}
	// Fields after the name: [0]=state(3) [1]=ppid(4) ... [11]=utime(14) [12]=stime(15).
	fields := bytes.Fields(b[end+1:])
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	if ppid, err = strconv.Atoi(string(fields[1])); err != nil {
		return 0, 0, fmt.Errorf("ppid: %w", err)
	}
	utime, err := strconv.ParseUint(string(fields[11]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[12]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stime: %w", err)
	}
	if utime+stime < utime {
		return 0, 0, errors.New("utime+stime overflows")
	}
	return ppid, utime + stime, nil
}

// parseVmRSS extracts VmRSS in bytes from /proc/PID/status. A process without the
// line (a zombie, a kernel thread) has 0.
func parseVmRSS(b []byte) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want \"<n> kB\"", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, fmt.Errorf("VmRSS %q: not a sane size", f[0])
		}
		return kb * 1024, nil
	}
	return 0, nil
}

// processTree returns root and all its descendants, found by scanning /proc for
// parent links. Processes that exit during the scan are skipped.
func processTree(procDir string, root int) ([]int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", procDir, err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		ppid, _, err := parseProcStat(b)
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree, nil
}

// sampleTree measures the CPU time and RSS of root's process tree. It fails only if
// root itself cannot be read.
func sampleTree(procDir string, root int) (procUsage, error) {
	pids, err := processTree(procDir, root)
	if err != nil {
		return procUsage{}, err
	}
	var u procUsage
	for _, pid := range pids {
		dir := filepath.Join(procDir, strconv.Itoa(pid))
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err == nil {
			var ticks uint64
			if _, ticks, err = parseProcStat(stat); err == nil {
				u.CPUTicks += ticks
			}
		}
		if err != nil {
			if pid == root {
				return procUsage{}, fmt.Errorf("pid %d: %w", pid, err)
			}
			continue // a child that just exited
		}
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		rss, err := parseVmRSS(status)
		if err != nil {
			return procUsage{}, fmt.Errorf("pid %d status: %w", pid, err)
		}
		u.RSSBytes += rss
		u.Procs++
	}
	return u, nil
}
