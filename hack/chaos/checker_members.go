package main

import (
	"context"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// readMembers reads every server's role members fresh, by kind; a server
// that cannot be read (it is down) is left out of the pass.
func (c *checker) readMembers(ctx context.Context) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for kind, d := range c.servers {
		m, err := d.members(ctx)
		if err != nil {
			c.mu.Lock()
			c.downReads[kind]++
			c.mu.Unlock()
			continue
		}
		out[kind] = m
	}
	return out
}

// checkMembers applies invariants 1 and 2 to the direct memberships the
// servers showed: a member is justified by a request for that target and
// subject that is open (in the read before), not yet seen, or ended less
// than the bound ago while the server is up (the bound counts from its
// restore); a member all of whose requests were read terminal, one of them
// Revoked and verified, was verified while present.
func (c *checker) checkMembers(before map[string]*accessv1alpha1.ElevationRequest, members map[string]map[string]bool, tracked map[string]tracked, now time.Time) {
	for kind, subjects := range members {
		up, upSince := c.servers[kind].reachable()
		for subject := range subjects {
			justified, verifiedName := c.justifyMember(kind, subject, before, tracked, now, up, upSince)
			switch {
			case verifiedName != "":
				c.violate("member-verified/"+kind+"/"+subject, "invariant 2: %s is a member of the %s role though request %s is Revoked with RevocationVerified=True (and no other request for it is open)",
					subject, kind, verifiedName)
			case !justified:
				c.violate("member-late/"+kind+"/"+subject, "invariant 1: %s is still a member of the %s role past the end of all its requests plus %s (the server up since %s)",
					subject, kind, accessBound, upSince.Format("15:04:05.000"))
			}
		}
	}
}

// justifyMember says whether a request may still hold the membership: one
// not yet read, or not past its end plus the bound (the bound counting from
// the server's restore). It also names a request read Revoked and verified
// (or deleted, its finalizer gone) when every request for the membership was
// read terminal: then the membership was verified gone while present.
func (c *checker) justifyMember(kind, subject string, before map[string]*accessv1alpha1.ElevationRequest, tracked map[string]tracked, now time.Time, up bool, upSince time.Time) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	justified, open, verifiedName := false, false, ""
	for name, t := range tracked {
		if t.target != kind || t.subject != subject {
			continue
		}
		er, read := before[name]
		s := c.requests[name]
		gone := !read && t.deleted && s != nil
		switch {
		case gone:
			verifiedName = name
		case !read || s == nil || !er.Status.Phase.IsTerminal():
			open = true
		case verified(er):
			verifiedName = name
		}
		if s == nil || (!read && !gone) || !c.overdueAt(end(s, t), now, up, upSince) {
			justified = true
		}
	}
	if open {
		verifiedName = ""
	}
	return justified, verifiedName
}
