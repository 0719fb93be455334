package scimtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// memoryHandler is a scim.ResourceHandler that stores one resource type in
// memory. The library parses requests, validates attributes, filters and
// PATCH paths; this handler stores what it is handed, matches stored
// resources with the library's filter validator, and applies the library's
// PatchOperation list.
type memoryHandler struct {
	schema schema.Schema
	// unique is the attribute no two resources may share, ignoring case
	// (userName, displayName).
	unique string
	// strict answers a PATCH that changes nothing with an error instead of
	// 204 No Content: 409 uniqueness for an add, 400 noTarget for a remove.
	strict bool

	mu    sync.Mutex
	order []string
	items map[string]scim.ResourceAttributes
}

func newMemoryHandler(s schema.Schema, unique string, strict bool) *memoryHandler {
	return &memoryHandler{schema: s, unique: unique, strict: strict, items: map[string]scim.ResourceAttributes{}}
}

var _ scim.ResourceHandler = (*memoryHandler)(nil)

// Create stores a new resource under a random id.
func (h *memoryHandler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.checkUnique("", attrs); err != nil {
		return scim.Resource{}, err
	}
	id, err := newID()
	if err != nil {
		return scim.Resource{}, err
	}
	h.items[id] = clone(attrs)
	h.order = append(h.order, id)
	return h.resource(id), nil
}

// Get returns one resource.
func (h *memoryHandler) Get(_ *http.Request, id string) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.items[id]; !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return h.resource(id), nil
}

// GetAll returns the page of resources that pass the request's filter.
func (h *memoryHandler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var matched []scim.Resource
	for _, id := range h.order {
		if params.FilterValidator != nil {
			withID := clone(h.items[id])
			withID[schema.CommonAttributeID] = id
			if params.FilterValidator.PassesFilter(withID) != nil {
				continue
			}
		}
		matched = append(matched, h.resource(id))
	}
	page := scim.Page{TotalResults: len(matched), Resources: []scim.Resource{}}
	start := max(params.StartIndex, 1) - 1
	if start < len(matched) {
		end := min(len(matched), start+max(params.Count, 0))
		page.Resources = matched[start:end]
	}
	return page, nil
}

// Replace replaces every attribute of a resource.
func (h *memoryHandler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.items[id]; !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	if err := h.checkUnique(id, attrs); err != nil {
		return scim.Resource{}, err
	}
	h.items[id] = clone(attrs)
	return h.resource(id), nil
}

// Delete removes a resource.
func (h *memoryHandler) Delete(_ *http.Request, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.items[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(h.items, id)
	for i, o := range h.order {
		if o == id {
			h.order = append(h.order[:i], h.order[i+1:]...)
			break
		}
	}
	return nil
}

// Patch applies the operations in order. When none changes anything it
// returns no attributes, which the library answers with 204 No Content, as
// RFC 7644 section 3.5.2 allows for adding a value already there or removing
// one already gone; a strict handler answers with an error instead.
func (h *memoryHandler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	stored, ok := h.items[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	next := clone(stored)
	changed := false
	for _, op := range ops {
		c, err := h.apply(next, op)
		if err != nil {
			return scim.Resource{}, err
		}
		changed = changed || c
	}
	if !changed {
		return scim.Resource{}, h.unchanged(ops)
	}
	if err := h.checkUnique(id, next); err != nil {
		return scim.Resource{}, err
	}
	h.items[id] = next
	return h.resource(id), nil
}

// unchanged is the answer to a PATCH that changed nothing: none (204), or in
// strict mode the errors other servers send for "already a member" and "not a
// member".
func (h *memoryHandler) unchanged(ops []scim.PatchOperation) error {
	switch {
	case !h.strict || len(ops) == 0:
		return nil
	case ops[0].Op == scim.PatchOperationRemove:
		return scimerrors.ScimErrorNoTarget
	default:
		return scimerrors.ScimErrorUniqueness
	}
}

// apply applies one operation to attrs and reports whether it changed them.
func (h *memoryHandler) apply(attrs scim.ResourceAttributes, op scim.PatchOperation) (bool, error) {
	if op.Path == nil {
		return h.applyNoPath(attrs, op)
	}
	if op.Path.AttributePath.SubAttributeName() != "" || op.Path.SubAttribute != nil || op.Path.AttributePath.URI() != "" {
		return false, scimerrors.ScimErrorBadRequest("this test server patches top-level attributes only: " + op.Path.String())
	}
	attr, ok := h.schema.Attributes.ContainsAttribute(op.Path.AttributePath.AttributeName)
	if !ok {
		return false, scimerrors.ScimErrorInvalidPath
	}
	if op.Path.ValueExpression != nil {
		if op.Op != scim.PatchOperationRemove {
			return false, scimerrors.ScimErrorBadRequest("this test server supports value filters in remove operations only")
		}
		return h.removeMatching(attrs, attr, op.Path.ValueExpression), nil
	}
	switch op.Op {
	case scim.PatchOperationRemove:
		_, had := attrs[attr.Name()]
		delete(attrs, attr.Name())
		return had, nil
	case scim.PatchOperationAdd:
		return set(attrs, attr, op.Value, true), nil
	default:
		return set(attrs, attr, op.Value, false), nil
	}
}

// applyNoPath merges the attributes in the operation's value into the resource.
func (h *memoryHandler) applyNoPath(attrs scim.ResourceAttributes, op scim.PatchOperation) (bool, error) {
	values, ok := op.Value.(map[string]interface{})
	if !ok || op.Op == scim.PatchOperationRemove {
		return false, scimerrors.ScimErrorInvalidValue
	}
	changed := false
	for name, v := range values {
		attr, ok := h.schema.Attributes.ContainsAttribute(name)
		if !ok {
			return false, scimerrors.ScimErrorInvalidPath
		}
		changed = set(attrs, attr, v, op.Op == scim.PatchOperationAdd) || changed
	}
	return changed, nil
}

// removeMatching drops the values of a multi-valued attribute that pass the
// value filter, e.g. members[value eq "42"], checked with the library's own
// filter validator.
func (h *memoryHandler) removeMatching(attrs scim.ResourceAttributes, attr schema.CoreAttribute, expr fp.Expression) bool {
	current, _ := attrs[attr.Name()].([]interface{})
	v := filter.NewFilterValidator(expr, schema.Schema{ID: h.schema.ID, Attributes: filter.MultiValuedFilterAttributes(attr)})
	var kept []interface{}
	for _, value := range current {
		m, isMap := value.(map[string]interface{})
		if isMap && v.PassesFilter(m) == nil {
			continue
		}
		kept = append(kept, value)
	}
	if len(kept) == len(current) {
		return false
	}
	if len(kept) == 0 {
		delete(attrs, attr.Name())
	} else {
		attrs[attr.Name()] = kept
	}
	return true
}

// set writes value to attr. For a multi-valued attribute, add appends the
// values not there yet; replace (add false) overwrites. It reports a change.
func set(attrs scim.ResourceAttributes, attr schema.CoreAttribute, value interface{}, add bool) bool {
	name := attr.Name()
	if !attr.MultiValued() || !add {
		if reflect.DeepEqual(attrs[name], value) {
			return false
		}
		attrs[name] = value
		return true
	}
	current, _ := attrs[name].([]interface{})
	added, _ := value.([]interface{})
	changed := false
	for _, a := range added {
		if !containsValue(current, a) {
			current = append(current, a)
			changed = true
		}
	}
	if changed {
		attrs[name] = current
	}
	return changed
}

func containsValue(list []interface{}, v interface{}) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

// checkUnique refuses a resource whose unique attribute another resource has.
func (h *memoryHandler) checkUnique(self string, attrs scim.ResourceAttributes) error {
	want, _ := attrs[h.unique].(string)
	for id, other := range h.items {
		if got, _ := other[h.unique].(string); id != self && strings.EqualFold(got, want) {
			return scimerrors.ScimErrorUniqueness
		}
	}
	return nil
}

// resource returns a copy of the stored resource, so the library's response
// never aliases the store.
func (h *memoryHandler) resource(id string) scim.Resource {
	return scim.Resource{ID: id, Attributes: clone(h.items[id])}
}

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// clone deep-copies attributes made of maps, slices and scalars.
func clone(attrs scim.ResourceAttributes) scim.ResourceAttributes {
	out := make(scim.ResourceAttributes, len(attrs))
	for k, v := range attrs {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = cloneValue(x)
		}
		return m
	case []interface{}:
		s := make([]interface{}, len(t))
		for i, x := range t {
			s[i] = cloneValue(x)
		}
		return s
	default:
		return v
	}
}
