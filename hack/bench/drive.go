package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// creators bounds the concurrent creates; the pace is set by -rate.
const creators = 16

// approveAttempts bounds the retries of one approval that the API refused.
const approveAttempts = 3

// driver creates and approves the run's requests.
type driver struct {
	e          *env
	t          *timeline
	n          int
	duration   time.Duration
	created    atomic.Int64
	approved   atomic.Int64
	createErrs atomic.Int64
	approveErr atomic.Int64
	errMu      sync.Mutex
	firstErrs  []string
	// allCreated is closed once every create was sent.
	allCreated chan struct{}
}

func requestName(i int) string { return fmt.Sprintf("bench-%05d", i) }

// createAll creates n requests as the requester, spread evenly at rate per
// second (or as fast as the creators can, in a burst), and returns when all
// were sent.
func (d *driver) createAll(ctx context.Context, rate float64, burst bool) {
	work := make(chan int, d.n)
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				d.create(ctx, i)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / rate)
	if burst {
		interval = 0
	}
	begin := time.Now()
	for i := 0; i < d.n && ctx.Err() == nil; i++ {
		if wait := time.Until(begin.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		work <- i
	}
	close(work)
	wg.Wait()
}

func (d *driver) create(ctx context.Context, i int) {
	name := requestName(i)
	er := &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       requestSpec(d.e.targets, fmt.Sprintf("bench-user-%05d", i), d.duration.String(), "benchmark elevation "+name),
	}
	start := time.Now()
	if err := d.e.requester.Create(ctx, er); err != nil {
		d.fail(&d.createErrs, fmt.Errorf("create %s: %w", name, err))
		return
	}
	d.t.mark(name, func(r *record) { r.created = start })
	d.created.Add(1)
}

// approvalOrder is the stream of requests to approve. Paced, each request as
// soon as the informer sees it Pending. In a burst, none until every request
// created is Pending, then all of them at once.
func (d *driver) approvalOrder(ctx context.Context, pattern string) <-chan string {
	if pattern != patternBurst && pattern != patternBacklog {
		return d.t.pending
	}
	out := make(chan string, d.n)
	go func() {
		var held []string
		for !d.allPending(len(held)) {
			select {
			case <-ctx.Done():
				return
			case name := <-d.t.pending:
				held = append(held, name)
			case <-time.After(100 * time.Millisecond):
			}
		}
		step("N=%d, burst: all %d requests are Pending; approving them all at once", d.n, len(held))
		for _, name := range held {
			out <- name
		}
	}()
	return out
}

// allPending reports whether pending, the number of requests seen Pending so
// far, is every request created, and no more will be.
func (d *driver) allPending(pending int) bool {
	select {
	case <-d.allCreated:
		return int64(pending) >= d.created.Load()
	default:
		return false
	}
}

// approveAll approves, as the approver, every request that arrives on order,
// until all n were handled or ctx ends.
func (d *driver) approveAll(ctx context.Context, workers int, order <-chan string) {
	var handled atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for handled.Load() < int64(d.n) {
				select {
				case <-ctx.Done():
					return
				case name := <-order:
					d.approve(ctx, name)
					handled.Add(1)
				case <-time.After(time.Second):
				}
			}
		}()
	}
	wg.Wait()
}

// approve sets the approve trigger annotation; the admission webhook checks the
// approver with a SubjectAccessReview and records the approval.
func (d *driver) approve(ctx context.Context, name string) {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationApprove+`":"benchmark"}}}`))
	key := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	var err error
	for range approveAttempts {
		sent := time.Now()
		if err = d.e.approver.Patch(ctx, key, patch); err == nil {
			done := time.Now()
			d.t.mark(name, func(r *record) { r.approveSent, r.approveDone = sent, done })
			d.approved.Add(1)
			return
		}
	}
	d.fail(&d.approveErr, fmt.Errorf("approve %s: %w", name, err))
}

func (d *driver) fail(counter *atomic.Int64, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	counter.Add(1)
	d.errMu.Lock()
	defer d.errMu.Unlock()
	if len(d.firstErrs) < 5 {
		d.firstErrs = append(d.firstErrs, err.Error())
	}
}
