// suture's side of bench/peers: the same-thread restart row of
// bench/restart.c done by suture v4, as a server that run.sh drives rep by
// rep (the protocol is in lib_restart.c):
//
//	out: "ready suture <go version> GOMAXPROCS=<n>"
//	in:  "rep same WARM_MS WINDOW_MS"
//	out: "ok RUNS_PER_S P50_NS P99_NS SAMPLES WARM_RUNS_PER_S WARM_P50_NS"
//	in:  "quit" (or end of input)
//
// A rep starts a fresh suture.Supervisor with one Service whose Serve
// returns an error at once.  suture restarts a service on a new goroutine
// each time: Serve's goroutine sends serviceEnded to the supervisor's
// goroutine, which counts the failure and starts Serve again on a new
// goroutine.  No OS thread is made (GOMAXPROCS is 1 under run.sh), which
// is why it stands beside libsupervise's same_thread restarts.
//
// Spec: FailureThreshold +Inf, so the decayed failure count never passes
// it and the supervisor never backs off (FailureBackoff cannot be 0 in
// v4.0.1: 0 means the 15 s default; it is never used here, and is set to
// 1 ns with NoJitter all the same).  EventHook is a no-op: the default
// one logs every failure with log.Print, and libsupervise logs nothing
// without an on_event callback.
//
// Serve's body is bench/restart.c's worker body: first thing it takes
// now (runtime.nanotime, the same clock_gettime(CLOCK_MONOTONIC) through
// the vDSO as the C side's now_ns; time.Now reads two clocks) and, while
// recording, stores now minus the time the previous run stored just before
// it returned; then it counts the run, stores now, and returns.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe" // go:linkname, and the samples' slice

	"github.com/thejerf/suture/v4"
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

const capSamples = 1 << 22

type lat struct {
	failNs uint64 // when the last run decided to fail; 0: none yet
	runs   uint64 // runs entered
	rec    uint32 // 1: record latencies now
	n      uint64 // samples stored
	samp   []uint64
}

var errFail = errors.New("fail")

type failer struct{ l *lat }

func (f failer) Serve(ctx context.Context) error {
	l := f.l
	t := uint64(nanotime())
	fl := atomic.LoadUint64(&l.failNs)
	if fl != 0 && atomic.LoadUint32(&l.rec) == 1 {
		i := atomic.LoadUint64(&l.n)
		if i < capSamples {
			l.samp[i] = t - fl
			atomic.StoreUint64(&l.n, i+1)
		}
	}
	atomic.AddUint64(&l.runs, 1)
	atomic.StoreUint64(&l.failNs, uint64(nanotime()))
	return errFail
}

func (f failer) String() string { return "w" }

func quantile(v []uint64, p float64) string {
	n := len(v)
	if n == 0 {
		return "nan"
	}
	k := int(math.Ceil(p * float64(n)))
	if k > 0 {
		k--
	}
	if k >= n {
		k = n - 1
	}
	return fmt.Sprint(v[k])
}

func rep(l *lat, warm, window time.Duration) {
	atomic.StoreUint64(&l.failNs, 0)
	atomic.StoreUint64(&l.runs, 0)
	atomic.StoreUint32(&l.rec, 1)
	atomic.StoreUint64(&l.n, 0)
	sup := suture.New("rsup", suture.Spec{
		EventHook:        func(suture.Event) {},
		FailureThreshold: math.Inf(1),
		FailureBackoff:   time.Nanosecond,
		BackoffJitter:    suture.NoJitter{},
	})
	sup.Add(failer{l})
	ctx, cancel := context.WithCancel(context.Background())
	done := sup.ServeBackground(ctx)
	ts := nanotime()
	time.Sleep(warm)
	r0 := atomic.LoadUint64(&l.runs)
	t0 := nanotime()
	nw := atomic.LoadUint64(&l.n)
	time.Sleep(window)
	atomic.StoreUint32(&l.rec, 0)
	r1 := atomic.LoadUint64(&l.runs)
	t1 := nanotime()
	cancel()
	<-done
	n := atomic.LoadUint64(&l.n)
	sw, s := l.samp[:nw], l.samp[nw:n]
	sort.Slice(sw, func(i, j int) bool { return sw[i] < sw[j] })
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	fmt.Printf("ok %.1f %s %s %d %.1f %s\n", float64(r1-r0)*1e9/float64(t1-t0),
		quantile(s, 0.50), quantile(s, 0.99), n-nw, float64(r0)*1e9/float64(t0-ts),
		quantile(sw, 0.50))
}

// The samples live outside the Go heap (an anonymous mapping), so that
// their 32 MB do not raise the garbage collector's heap goal: the GC runs
// as often as it would in a small program restarting a service.
func samples() []uint64 {
	b, err := syscall.Mmap(-1, 0, capSamples*8, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "suture_restart: mmap:", err)
		os.Exit(1)
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), capSamples)
}

func main() {
	l := &lat{samp: samples()}
	for i := range l.samp { // fault the pages in now
		l.samp[i] = 1
	}
	fmt.Printf("ready suture %s GOMAXPROCS=%d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 1 && f[0] == "quit" {
			break
		}
		var warm, window int
		if len(f) != 4 || f[0] != "rep" || f[1] != "same" {
			fmt.Printf("error bad command: %s\n", in.Text())
			continue
		}
		fmt.Sscan(f[2], &warm)
		fmt.Sscan(f[3], &window)
		rep(l, time.Duration(warm)*time.Millisecond, time.Duration(window)*time.Millisecond)
	}
}
