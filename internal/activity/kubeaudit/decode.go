// Package kubeaudit is the activity source of the kubernetes provider: a
// receiver for the kube-apiserver's audit webhook backend, a bounded in-memory
// store of the events it posts, and the pure functions that decide which
// events belong to an elevation and what kind of action each was.
//
// The kube-apiserver posts audit.k8s.io/v1 EventLists to the Receiver, which
// authenticates it (a bearer token or a client certificate), decodes the
// bodies and keeps a compact Event per request in the Store, without request
// or response bodies. The kubernetes provider's Activity reads the Store.
package kubeaudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// DefaultMaxBodyBytes bounds one posted EventList. The apiserver's
// --audit-webhook-truncate-max-batch-size must stay below it (docs/activity.md).
const DefaultMaxBodyBytes = 8 << 20

// DecodeError says why a body is not an audit.k8s.io/v1 EventList.
type DecodeError struct{ msg string }

func (e *DecodeError) Error() string { return e.msg }

// DecodeEventList reads one audit.k8s.io/v1 EventList from r. Anything else
// (malformed JSON, another apiVersion or kind, trailing data) is a
// *DecodeError; an error of r itself (a body over its limit, say) is returned
// wrapped, so that the caller can still recognise it.
func DecodeEventList(r io.Reader) (*auditv1.EventList, error) {
	src := &recordingReader{r: r}
	dec := json.NewDecoder(src)
	var list auditv1.EventList
	if err := dec.Decode(&list); err != nil {
		return nil, decodeFailure(src, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, decodeFailure(src, err)
		}
		return nil, &DecodeError{msg: "the body holds more than one JSON value"}
	}
	want := auditv1.SchemeGroupVersion.String()
	if list.APIVersion != want || list.Kind != "EventList" {
		return nil, &DecodeError{msg: fmt.Sprintf("the body is apiVersion %q kind %q, want apiVersion %q kind \"EventList\" (--audit-webhook-version=%s)",
			truncate(list.APIVersion, 64), truncate(list.Kind, 64), want, want)}
	}
	return &list, nil
}

// recordingReader remembers the first error of the reader it wraps other
// than io.EOF, to tell a failing reader from a malformed body.
type recordingReader struct {
	r   io.Reader
	err error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// decodeFailure classifies a decoding error. Only a position or a field name
// goes into the message, never a part of the body.
func decodeFailure(src *recordingReader, err error) error {
	if src.err != nil {
		return fmt.Errorf("read the body: %w", src.err)
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &DecodeError{msg: fmt.Sprintf("the body is not JSON: syntax error at byte %d", syntax.Offset)}
	case errors.As(err, &typ):
		return &DecodeError{msg: fmt.Sprintf("the body is not an EventList: field %q cannot hold a JSON %s", truncate(typ.Field, 128), typ.Value)}
	case errors.Is(err, io.EOF):
		return &DecodeError{msg: "the body is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{msg: "the body ends in the middle of a JSON value"}
	default:
		// A field's own decoder refused its value (a timestamp that does not
		// parse, say); its message may quote the value, so it is not repeated.
		return &DecodeError{msg: "the body is not an EventList: a field holds a value of the wrong form"}
	}
}
