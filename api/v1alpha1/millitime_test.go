package v1alpha1

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type stamped struct {
	At *MilliTime `json:"at,omitempty"`
}

func TestMilliTimeReadsWholeSecondsAndFractions(t *testing.T) {
	cases := []struct {
		stored string
		want   time.Time
	}{
		{`"2026-12-02T10:00:00Z"`, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)},
		{`"2026-12-02T10:00:00.123Z"`, time.Date(2026, 12, 2, 10, 0, 0, 123e6, time.UTC)},
		{`"2026-12-02T10:00:00.123456789Z"`, time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)},
		{`"2026-12-02T11:00:00.5+01:00"`, time.Date(2026, 12, 2, 10, 0, 0, 5e8, time.UTC)},
	}
	for _, c := range cases {
		var got MilliTime
		if err := json.Unmarshal([]byte(c.stored), &got); err != nil {
			t.Fatalf("%s: %v", c.stored, err)
		}
		if !got.Equal(c.want) {
			t.Errorf("%s read as %s, want %s", c.stored, got.UTC(), c.want)
		}
	}
}

func TestMilliTimeRefusesWhatIsNotATime(t *testing.T) {
	for _, bad := range []string{`"tomorrow"`, `"2026-12-02 10:00:00"`, `1764669600`} {
		var got MilliTime
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("%s was read as %s, want an error", bad, got)
		}
	}
}

func TestMilliTimeWritesMillisecondsThatMetaTimeReads(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	raw, err := json.Marshal(stamped{At: NewMilliTime(at)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"at":"2026-12-02T09:00:00.123Z"}`; string(raw) != want {
		t.Fatalf("written %s, want %s", raw, want)
	}
	var meta struct {
		At metav1.Time `json:"at"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatalf("metav1.Time cannot read %s: %v", raw, err)
	}
	if !meta.At.Equal(&metav1.Time{Time: at.Truncate(time.Millisecond)}) {
		t.Errorf("metav1.Time read %s, want %s", meta.At.UTC(), at.Truncate(time.Millisecond).UTC())
	}
	var back stamped
	if err := json.Unmarshal(raw, &back); err != nil || !back.At.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("read back %v (%v), want %s", back.At, err, at.Truncate(time.Millisecond))
	}
}

func TestMilliTimeWholeSecondsAndZero(t *testing.T) {
	whole, err := json.Marshal(NewMilliTime(time.Date(2026, 12, 2, 10, 0, 0, 400e3, time.UTC)))
	if err != nil || string(whole) != `"2026-12-02T10:00:00Z"` {
		t.Errorf("a whole second written as %s (%v), want it without a fraction", whole, err)
	}
	raw, err := json.Marshal(MilliTime{})
	if err != nil || string(raw) != "null" {
		t.Fatalf("zero written as %s (%v), want null", raw, err)
	}
	got := MilliTime{Time: time.Now()}
	if err := json.Unmarshal([]byte("null"), &got); err != nil || !got.IsZero() {
		t.Errorf("null read as %s (%v), want the zero time", got, err)
	}
	if copied := (*MilliTime)(nil).DeepCopy(); copied != nil {
		t.Errorf("a nil MilliTime copied to %v", copied)
	}
}

func TestMilliTimeComparesSemanticallyAsAnInstant(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 5e6, time.UTC)
	a := ElevationRequestStatus{ExpiresAt: NewMilliTime(at)}
	same := ElevationRequestStatus{ExpiresAt: NewMilliTime(at.In(time.FixedZone("CET", 3600)))}
	later := ElevationRequestStatus{ExpiresAt: NewMilliTime(at.Add(time.Millisecond))}
	if !equality.Semantic.DeepEqual(a, same) {
		t.Error("one instant in two zones compares unequal")
	}
	if equality.Semantic.DeepEqual(a, later) {
		t.Error("instants a millisecond apart compare equal")
	}
}

func TestMilliTimeSameIsAnInstantOrBothUnset(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 345e6, time.UTC)
	tests := []struct {
		name string
		a, b *MilliTime
		want bool
	}{
		{"both unset", nil, nil, true},
		{"one unset", NewMilliTime(at), nil, false},
		{"the other unset", nil, NewMilliTime(at), false},
		{"one instant in two zones", NewMilliTime(at), NewMilliTime(at.In(time.FixedZone("CET", 3600))), true},
		{"a millisecond apart", NewMilliTime(at), NewMilliTime(at.Add(time.Millisecond)), false},
	}
	for _, tt := range tests {
		if got := tt.a.Same(tt.b); got != tt.want {
			t.Errorf("%s: Same = %v, want %v", tt.name, got, tt.want)
		}
	}
}
