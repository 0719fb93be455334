package records

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// KeySize is the size of a record-signing key, in bytes.
const KeySize = 32

// signatureVersion prefixes every signature, so that the canonical encoding can
// change later without an old signature being read under the new rules.
const signatureVersion = "v1:"

var (
	// ErrUnsigned means records are present but carry no signature.
	ErrUnsigned = errors.New("the records carry no signature of this operator")
	// ErrBadSignature means the signature does not match the request and its records.
	ErrBadSignature = errors.New("the records' signature does not match: they were written or changed by someone other than this operator's webhook")
	// ErrNoKey means this operator has no signing key, so it trusts no record.
	ErrNoKey = errors.New("the operator has no record-signing key")
)

// Signer signs and verifies the records of requests with the operator's key.
// A nil *Signer verifies nothing.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key, which must be KeySize bytes or longer.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < KeySize {
		return nil, fmt.Errorf("record-signing key is %d bytes, want at least %d", len(key), KeySize)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// payload is the canonical encoding that is signed: the request's identity and
// spec, and every record. encoding/json writes struct fields in this order, so
// the encoding of the same values is always the same bytes. Name and UID are
// empty in the signature written on create, because the API server assigns the
// UID (and a generated name) after the mutating webhooks ran; such an unbound
// signature is accepted only for records that hold nothing but requested-by.
// An approval's connections (set on a request with spec.targets) are signed
// with it, and left out when empty, as spec.targets is: the signatures of
// single-target requests are the bytes they were before either existed.
type payload struct {
	Namespace   string                              `json:"namespace"`
	Name        string                              `json:"name"`
	UID         string                              `json:"uid"`
	Spec        accessv1alpha1.ElevationRequestSpec `json:"spec"`
	RequestedBy string                              `json:"requestedBy"`
	Approvals   []accessv1alpha1.ApprovalRecord     `json:"approvals"`
	Denial      *accessv1alpha1.DenialRecord        `json:"denial"`
	Revocation  *accessv1alpha1.RevokeRecord        `json:"revocation"`
	// The records added later are left out when unset, so that the
	// signatures of requests made before them still verify.
	BreakGlass *accessv1alpha1.BreakGlassRecord `json:"breakGlass,omitempty"`
	Review     *accessv1alpha1.ReviewRecord     `json:"review,omitempty"`
}

func (s *Signer) sign(er *accessv1alpha1.ElevationRequest, bound bool, r Records) (string, error) {
	p := payload{Namespace: er.Namespace, Spec: er.Spec, RequestedBy: r.RequestedBy, Denial: r.Denial, Revocation: r.Revocation,
		BreakGlass: r.BreakGlass, Review: r.Review}
	if bound {
		p.Name, p.UID = er.Name, string(er.UID)
	}
	if len(r.Approvals) > 0 {
		p.Approvals = r.Approvals
	}
	data, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode records for signing: %w", err)
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(data)
	return signatureVersion + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Encode writes the records and their signature for er into a copy of
// annotations, as Records.Encode does.
func (s *Signer) Encode(er *accessv1alpha1.ElevationRequest, r Records, annotations map[string]string) (map[string]string, error) {
	if s == nil {
		return nil, ErrNoKey
	}
	out, err := r.Encode(annotations)
	if err != nil {
		return nil, err
	}
	sig, err := s.sign(er, er.UID != "", r)
	if err != nil {
		return nil, err
	}
	out[accessv1alpha1.AnnotationRecordsSignature] = sig
	return out, nil
}

// Verify decodes the records of er and checks their signature. A request with
// no record annotations at all has empty, trusted records. Any error means the
// records must not be acted on.
func (s *Signer) Verify(er *accessv1alpha1.ElevationRequest) (Records, error) {
	if !Present(er.Annotations) {
		return Records{}, nil
	}
	if s == nil {
		return Records{}, ErrNoKey
	}
	rec, err := Parse(er.Annotations)
	if err != nil {
		return Records{}, err
	}
	got, ok := er.Annotations[accessv1alpha1.AnnotationRecordsSignature]
	if !ok {
		return Records{}, ErrUnsigned
	}
	if !strings.HasPrefix(got, signatureVersion) {
		return Records{}, ErrBadSignature
	}
	if s.matches(er, true, rec, got) {
		return rec, nil
	}
	if rec.OnlyRequestedBy() && s.matches(er, false, rec, got) {
		return rec, nil
	}
	return Records{}, ErrBadSignature
}

func (s *Signer) matches(er *accessv1alpha1.ElevationRequest, bound bool, rec Records, got string) bool {
	want, err := s.sign(er, bound, rec)
	return err == nil && hmac.Equal([]byte(want), []byte(got))
}
