package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// equality.Semantic, which controllers compare objects with, walks into a
// struct's fields and refuses time.Time's unexported ones unless it knows the
// type: it knows metav1.Time and is told MilliTime here, compared as instants.
func init() {
	utilruntime.Must(equality.Semantic.AddFunc(func(a, b MilliTime) bool { return a.Equal(b.Time) }))
}

// MilliTimeFormat is how a MilliTime is written: RFC 3339 in UTC with up to
// three fractional digits, trailing zeros left out (a whole second is written
// as metav1.Time writes it).
const MilliTimeFormat = "2006-01-02T15:04:05.999Z07:00"

// MilliTime is a time stored to the millisecond.
//
// metav1.Time keeps only whole seconds, which took up to a second from every
// window and made every request granted within one second expire at the same
// instant; metav1.MicroTime cannot read the whole-second times stored before
// it. MilliTime reads both (any RFC 3339 time, with or without a fraction), and
// what it writes, metav1.Time reads too, so an older operator or client still
// understands it.
//
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:Format=date-time
// +kubebuilder:object:generate=false
type MilliTime struct {
	time.Time
}

// NewMilliTime returns t, to the millisecond, as a *MilliTime.
func NewMilliTime(t time.Time) *MilliTime {
	return &MilliTime{Time: t.Truncate(time.Millisecond)}
}

// Same reports whether t and u are the same instant, or both unset.
func (t *MilliTime) Same(u *MilliTime) bool {
	if t == nil || u == nil {
		return t == u
	}
	return t.Equal(u.Time)
}

// DeepCopyInto copies t into out; a time has nothing to share.
func (t *MilliTime) DeepCopyInto(out *MilliTime) {
	*out = *t
}

// DeepCopy returns a copy of t.
func (t *MilliTime) DeepCopy() *MilliTime {
	if t == nil {
		return nil
	}
	out := new(MilliTime)
	t.DeepCopyInto(out)
	return out
}

// MarshalJSON writes the time in MilliTimeFormat, or null when it is zero.
func (t MilliTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(MilliTimeFormat))
}

// UnmarshalJSON reads an RFC 3339 time with any fraction of a second, or none.
func (t *MilliTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a time must be an RFC 3339 string: %w", err)
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("a time must be RFC 3339: %w", err)
	}
	t.Time = parsed.Local()
	return nil
}
