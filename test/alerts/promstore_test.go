package alerts

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// store holds scraped samples in memory, as Prometheus would after scraping
// the operator: every series under its exposition name (a histogram as its
// _bucket, _sum and _count series), with the scrape's time. It is a
// storage.Queryable, so the PromQL engine evaluates expressions over it.
type store struct {
	mu     sync.Mutex
	series map[string]*memSeries // by labels.String()
	last   time.Time
}

type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

func newStore() *store { return &store{series: map[string]*memSeries{}} }

// scrape reads addr's /metrics and adds every sample at the current time,
// labelled with job; keep, when not nil, says which metric families to add.
func (s *store) scrape(ctx context.Context, addr, job string, keep func(name string) bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return err
	}
	// Ask for the text format: the parser below reads only that.
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("scrape %s: %s: %s", addr, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return fmt.Errorf("parse the metrics of %s: %w", addr, err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, mf := range families {
		if keep != nil && !keep(name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			s.addMetric(mf, m, job, now.UnixMilli())
		}
	}
	s.last = now
	return nil
}

// addMetric adds one metric of a family as its exposition series.
func (s *store) addMetric(mf *dto.MetricFamily, m *dto.Metric, job string, t int64) {
	name := mf.GetName()
	base := labels.NewBuilder(labels.EmptyLabels()).Set("job", job)
	for _, lp := range m.GetLabel() {
		base.Set(lp.GetName(), lp.GetValue())
	}
	add := func(name string, v float64, extra ...string) {
		b := labels.NewBuilder(base.Labels()).Set(model.MetricNameLabel, name)
		for i := 0; i+1 < len(extra); i += 2 {
			b.Set(extra[i], extra[i+1])
		}
		s.add(b.Labels(), t, v)
	}
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		add(name, m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		add(name, m.GetGauge().GetValue())
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		for _, b := range h.GetBucket() {
			add(name+"_bucket", float64(b.GetCumulativeCount()), "le", formatLe(b.GetUpperBound()))
		}
		add(name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
		add(name+"_sum", h.GetSampleSum())
		add(name+"_count", float64(h.GetSampleCount()))
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		for _, q := range sm.GetQuantile() {
			add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
		}
		add(name+"_sum", sm.GetSampleSum())
		add(name+"_count", float64(sm.GetSampleCount()))
	default:
		add(name, m.GetUntyped().GetValue())
	}
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (s *store) add(lset labels.Labels, t int64, v float64) {
	key := lset.String()
	ms, ok := s.series[key]
	if !ok {
		ms = &memSeries{lset: lset}
		s.series[key] = ms
	}
	// A histogram's +Inf bucket is exposed too: keep one sample per scrape.
	if n := len(ms.samples); n > 0 && ms.samples[n-1].T() == t {
		return
	}
	ms.samples = append(ms.samples, floatSample{t: t, f: v})
}

// names returns every served series name with the label names seen on it.
func (s *store) names() map[string]map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]bool{}
	for _, ms := range s.series {
		name := ms.lset.Get(model.MetricNameLabel)
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		ms.lset.Range(func(l labels.Label) { out[name][l.Name] = true })
	}
	return out
}

// lastScrape is the time of the latest scrape.
func (s *store) lastScrape() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Querier implements storage.Queryable.
func (s *store) Querier(mint, maxt int64) (storage.Querier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*storage.SeriesEntry
	for _, ms := range s.series {
		var in []chunks.Sample
		for _, smp := range ms.samples {
			if smp.T() >= mint && smp.T() <= maxt {
				in = append(in, smp)
			}
		}
		if len(in) > 0 {
			all = append(all, storage.NewListSeries(ms.lset, in))
		}
	}
	slices.SortFunc(all, func(a, b *storage.SeriesEntry) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &querier{series: all}, nil
}

type querier struct{ series []*storage.SeriesEntry }

func (q *querier) Select(_ context.Context, _ bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, se := range q.series {
		if matchesAll(se.Labels(), matchers) {
			out = append(out, se)
		}
	}
	return &seriesSet{series: out, i: -1}
}

func matchesAll(lset labels.Labels, matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (q *querier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *querier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *querier) Close() error { return nil }

type seriesSet struct {
	series []storage.Series
	i      int
}

func (ss *seriesSet) Next() bool                        { ss.i++; return ss.i < len(ss.series) }
func (ss *seriesSet) At() storage.Series                { return ss.series[ss.i] }
func (ss *seriesSet) Err() error                        { return nil }
func (ss *seriesSet) Warnings() annotations.Annotations { return nil }

// floatSample is one scraped float sample.
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// without returns a copy of the store without the series whose name starts
// with prefix, as if no target served them.
func (s *store) without(prefix string) *store {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &store{series: map[string]*memSeries{}, last: s.last}
	for key, ms := range s.series {
		if !strings.HasPrefix(ms.lset.Get(model.MetricNameLabel), prefix) {
			out.series[key] = ms
		}
	}
	return out
}
