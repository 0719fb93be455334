package kubeaudit

import (
	"errors"
	"strings"
	"testing"
)

const validList = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[
 {"level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/payments/configmaps","verb":"create",
  "user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"payments","name":"cfg","apiVersion":"v1"},
  "responseStatus":{"metadata":{},"code":201},
  "requestObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg"},"data":{"password":"hunter2"}},
  "requestReceivedTimestamp":"2026-01-02T03:04:05.000006Z","stageTimestamp":"2026-01-02T03:04:05.100000Z",
  "annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"rb/payments\" of ClusterRole \"edit\" to User \"alice\""}},
 {"level":"Metadata","auditID":"a2","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/payments/deployments?limit=5","verb":"create",
  "user":{"username":"bob"},"impersonatedUser":{"username":"alice"},"objectRef":{"resource":"deployments","namespace":"payments","apiGroup":"apps"},
  "responseObject":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web-x7k2"}},
  "requestReceivedTimestamp":"2026-01-02T03:04:06.000000Z","stageTimestamp":"2026-01-02T03:04:06.000000Z"},
 {"level":"Metadata","auditID":"a3","stage":"ResponseComplete","requestURI":"/healthz?verbose","verb":"get","user":{"username":"carol"},
  "requestReceivedTimestamp":"2026-01-02T03:04:07.000000Z","stageTimestamp":"2026-01-02T03:04:07.000000Z"}
]}`

func TestDecodeEventListKeepsWhatMatchingNeedsAndNoBody(t *testing.T) {
	list, err := DecodeEventList(strings.NewReader(validList))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Fatalf("got %d events, want 3", len(list.Items))
	}
	ev, ok := FromAudit(&list.Items[0])
	if !ok {
		t.Fatal("event a1 was refused")
	}
	if ev.User != "alice" || ev.Verb != "create" || ev.Resource != "configmaps" || ev.Namespace != "payments" || ev.Name != "cfg" || ev.Code != 201 {
		t.Errorf("event a1 converted to %+v", ev)
	}
	if ev.At.Nanosecond() != 6000 {
		t.Errorf("At = %s, want the request's received timestamp with its microseconds", ev.At)
	}
	if ev.Decision != "allow" || !strings.Contains(ev.Reason, `RoleBinding "rb/payments"`) {
		t.Errorf("authorizer annotations: decision %q reason %q", ev.Decision, ev.Reason)
	}
	if strings.Contains(ev.AuditID+ev.Name+ev.Reason+ev.Path, "hunter2") {
		t.Errorf("the request body leaked into the event: %+v", ev)
	}
	imp, _ := FromAudit(&list.Items[1])
	if imp.User != "bob" || imp.ImpersonatedUser != "alice" || imp.Name != "web-x7k2" {
		t.Errorf("an impersonated create with generateName converted to %+v; want user bob, impersonated alice, the name from the response", imp)
	}
	nonResource, _ := FromAudit(&list.Items[2])
	if nonResource.Path != "/healthz" || nonResource.Resource != "" {
		t.Errorf("a non-resource request converted to %+v; want path /healthz without its query", nonResource)
	}
}

func TestDecodeEventListRefusesWhatIsNotAnEventList(t *testing.T) {
	for name, body := range map[string]string{
		"empty":            ``,
		"not JSON":         `{"kind":`,
		"syntax":           `{"kind" "EventList"}`,
		"wrong apiVersion": `{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[]}`,
		"wrong kind":       `{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`,
		"no type":          `{"items":[]}`,
		"wrong item type":  `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":{"a":1}}`,
		"bad timestamp":    `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"x","requestReceivedTimestamp":"secret-value"}]}`,
		"trailing value":   `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]} {"kind":"EventList"}`,
		"trailing garbage": `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]} ]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeEventList(strings.NewReader(body))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DecodeError", err)
			}
			if strings.Contains(err.Error(), "secret-value") {
				t.Errorf("the error quotes the body: %v", err)
			}
		})
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestDecodeEventListPassesOnTheReadersError(t *testing.T) {
	want := errors.New("connection reset")
	_, err := DecodeEventList(failingReader{err: want})
	var de *DecodeError
	if !errors.Is(err, want) || errors.As(err, &de) {
		t.Errorf("got %v, want the reader's error, not a DecodeError", err)
	}
}

// FuzzDecodeEventList: whatever is posted, decoding and converting never
// panic, and what decodes is an audit.k8s.io/v1 EventList.
func FuzzDecodeEventList(f *testing.F) {
	f.Add([]byte(validList))
	f.Add([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"","objectRef":null}]}`))
	f.Add([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"x","verb":"create","responseObject":{"metadata":7}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := DecodeEventList(strings.NewReader(string(data)))
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("a body gave an error that is not a DecodeError: %v", err)
			}
			return
		}
		if list.APIVersion != "audit.k8s.io/v1" || list.Kind != "EventList" {
			t.Fatalf("decoded %s %s", list.APIVersion, list.Kind)
		}
		for i := range list.Items {
			ev, ok := FromAudit(&list.Items[i])
			if ok && (len(ev.AuditID) > maxField || len(ev.Reason) > maxReason || len(ev.Name) > maxField) {
				t.Fatalf("an event's fields exceed their bounds: %d %d %d", len(ev.AuditID), len(ev.Reason), len(ev.Name))
			}
			_ = Object(ev)
			_ = Category(ev)
		}
	})
}
