package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// Fields 3.. of a real line; utime=field 14, stime=field 15.
	tail := " S 1 27317 27317 0 -1 4194560 1167 0 0 0 150 25 0 0 20 0 1 0 3263270 11087872 2155 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	tests := []struct {
		name      string
		line      string
		wantPPID  int
		wantTicks uint64
		wantErr   bool
	}{
		{name: "plain name", line: "27321 (nginx)" + tail, wantPPID: 1, wantTicks: 175},
		{name: "name with spaces and parens", line: "27321 (my (odd) proc)" + tail, wantPPID: 1, wantTicks: 175},
		{name: "name that looks like fields", line: "7 (x) S 9 9 9)" + tail, wantPPID: 1, wantTicks: 175},
		{name: "no parens", line: "27321 nginx S 1 2 3", wantErr: true},
		{name: "truncated", line: "27321 (nginx) S 1 2 3", wantErr: true},
		{name: "bad utime", line: "1 (a) S 1 0 0 0 0 0 0 0 0 0 x 0", wantErr: true},
		{name: "empty", line: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ppid, ticks, err := parseProcStat([]byte(tt.line))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseProcStat(%q) = %d, %d; want error", tt.line, ppid, ticks)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseProcStat: %v", err)
			}
			if ppid != tt.wantPPID || ticks != tt.wantTicks {
				t.Errorf("parseProcStat = ppid %d ticks %d, want %d %d", ppid, ticks, tt.wantPPID, tt.wantTicks)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{name: "normal", status: "Name:\tnginx\nVmPeak:\t  11000 kB\nVmRSS:\t    8620 kB\nThreads:\t1\n", want: 8620 * 1024},
		{name: "zombie has no VmRSS", status: "Name:\tnginx\nState:\tZ (zombie)\n", want: 0},
		{name: "bad unit", status: "VmRSS:\t8620 MB\n", wantErr: true},
		{name: "not a number", status: "VmRSS:\tlots kB\n", wantErr: true},
		{name: "negative", status: "VmRSS:\t-5 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVmRSS error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseVmRSS = %d, want %d", got, tt.want)
			}
		})
	}
}

// fakeProc writes a /proc-like folder: pid -> (ppid, ticks, rss kB).
func fakeProc(t *testing.T, procs map[int][3]int) string {
	t.Helper()
	dir := t.TempDir()
	for pid, p := range procs {
		d := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := strconv.Itoa(pid) + " (p) S " + strconv.Itoa(p[0]) + " 0 0 0 0 0 0 0 0 0 " + strconv.Itoa(p[1]) + " 0 0 0\n"
		status := "Name:\tp\nVmRSS:\t" + strconv.Itoa(p[2]) + " kB\n"
		for name, content := range map[string]string{"stat": stat, "status": status} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Entries that are not processes are ignored.
	if err := os.WriteFile(filepath.Join(dir, "loadavg"), []byte("0 0 0"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSampleTree(t *testing.T) {
	proc := fakeProc(t, map[int][3]int{
		1:   {0, 1000, 5000},
		100: {1, 10, 2000}, // master
		101: {100, 20, 3000},
		102: {100, 30, 3000},
		103: {101, 5, 1000}, // grandchild
		200: {1, 999, 9999}, // unrelated
	})
	tests := []struct {
		root      int
		wantTicks uint64
		wantRSS   int64
		wantProcs int
	}{
		{root: 100, wantTicks: 65, wantRSS: 9000 * 1024, wantProcs: 4},
		{root: 102, wantTicks: 30, wantRSS: 3000 * 1024, wantProcs: 1},
	}
	for _, tt := range tests {
		u, err := sampleTree(proc, tt.root)
		if err != nil {
			t.Fatalf("sampleTree(%d): %v", tt.root, err)
		}
		if u.CPUTicks != tt.wantTicks || u.RSSBytes != tt.wantRSS || u.Procs != tt.wantProcs {
			t.Errorf("sampleTree(%d) = %+v, want ticks %d rss %d procs %d", tt.root, u, tt.wantTicks, tt.wantRSS, tt.wantProcs)
		}
	}
	if _, err := sampleTree(proc, 999); err == nil {
		t.Error("sampleTree of a missing root: want error")
	}
}

func TestSampleTreeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	u, err := sampleTree("/proc", os.Getpid())
	if err != nil {
		t.Fatalf("sampleTree(self): %v", err)
	}
	if u.RSSBytes <= 0 || u.Procs < 1 {
		t.Errorf("sampleTree(self) = %+v, want RSS > 0 and at least this process", u)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("27321 (nginx) S 1 27317 27317 0 -1 4194560 1167 0 0 0 150 25 0 0 20 0")
	f.Add("1 ((()) S 1 0 0 0 0 0 0 0 0 0 18446744073709551615 1 0")
	f.Fuzz(func(t *testing.T, line string) {
		ppid, ticks, err := parseProcStat([]byte(line))
		if err == nil && strings.LastIndexByte(line, ')') < 0 {
			t.Errorf("parseProcStat(%q) = %d, %d without a command name", line, ppid, ticks)
		}
	})
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add("Name:\tnginx\nVmRSS:\t    8620 kB\n")
	f.Add("VmRSS: 1099511627776 kB\n")
	f.Fuzz(func(t *testing.T, status string) {
		if rss, err := parseVmRSS([]byte(status)); err == nil && rss < 0 {
			t.Errorf("parseVmRSS(%q) = %d", status, rss)
		}
	})
}
