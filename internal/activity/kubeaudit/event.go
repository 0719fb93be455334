package kubeaudit

import (
	"encoding/json"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Annotations the kube-apiserver's authorizer adds to every audit event.
const (
	annotationDecision = "authorization.k8s.io/decision"
	annotationReason   = "authorization.k8s.io/reason"
)

// Bounds of the text kept per event, so that the store's memory is bounded by
// its capacity whatever the apiserver posts.
const (
	maxField  = 512
	maxReason = 1024
)

// Event is what the store keeps of one audit event: who did what to which
// object, when, and what the authorizer said. Never a request or response
// body.
type Event struct {
	AuditID string
	Stage   auditv1.Stage
	// At is when the apiserver received the request (its stage timestamp when
	// that is missing).
	At time.Time
	// User is the authenticated user; ImpersonatedUser the user it acted as,
	// "" when it did not impersonate.
	User             string
	ImpersonatedUser string
	Verb             string
	// APIGroup, Resource, Subresource, Namespace and Name come from the
	// event's objectRef; all "" for a non-resource request.
	APIGroup    string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Path is the request URI without its query, for a non-resource request.
	Path string
	// Code is the response's HTTP status code; 0 when it has none.
	Code int32
	// Decision and Reason are the authorizer's annotations.
	Decision string
	Reason   string
}

// FromAudit converts a posted event, keeping only what matching needs. ok is
// false when the event has no audit ID, which the store needs to de-duplicate.
func FromAudit(in *auditv1.Event) (Event, bool) {
	if in.AuditID == "" {
		return Event{}, false
	}
	ev := Event{
		AuditID:  truncate(string(in.AuditID), maxField),
		Stage:    in.Stage,
		At:       in.RequestReceivedTimestamp.Time,
		User:     truncate(in.User.Username, maxField),
		Verb:     truncate(in.Verb, maxField),
		Decision: truncate(in.Annotations[annotationDecision], maxField),
		Reason:   truncate(in.Annotations[annotationReason], maxReason),
	}
	if ev.At.IsZero() {
		ev.At = in.StageTimestamp.Time
	}
	if in.ImpersonatedUser != nil {
		ev.ImpersonatedUser = truncate(in.ImpersonatedUser.Username, maxField)
	}
	if in.ResponseStatus != nil {
		ev.Code = in.ResponseStatus.Code
	}
	if ref := in.ObjectRef; ref != nil {
		ev.APIGroup = truncate(ref.APIGroup, maxField)
		ev.Resource = truncate(ref.Resource, maxField)
		ev.Subresource = truncate(ref.Subresource, maxField)
		ev.Namespace = truncate(ref.Namespace, maxField)
		ev.Name = truncate(ref.Name, maxField)
		if ev.Name == "" {
			ev.Name = truncate(createdName(in), maxField)
		}
	} else {
		ev.Path = truncate(pathOf(in.RequestURI), maxField)
	}
	return ev, true
}

// createdName is the name of an object created with generateName: the
// apiserver logs it only in the response object. Only metadata.name is read
// from it.
func createdName(in *auditv1.Event) string {
	if in.Verb != "create" || in.ResponseObject == nil || len(in.ResponseObject.Raw) == 0 {
		return ""
	}
	var obj struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(in.ResponseObject.Raw, &obj); err != nil {
		return ""
	}
	return obj.Metadata.Name
}

func pathOf(uri string) string {
	path, _, _ := strings.Cut(uri, "?")
	return path
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	// A copy, so that the cut string does not keep the long one alive.
	return strings.Clone(s[:cut])
}
