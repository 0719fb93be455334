package main

import (
	"context"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// memberReadWait is how long a pass waits for the members of a server that is
// down: a hung one accepts the connection and never answers, and must not
// hold up the checks of the other targets (the harness's LDAP read gives up
// only after 10 s). A reachable server is waited for, however slow.
const memberReadWait = time.Second

// membersRead is one server's answer to a read of its members.
type membersRead struct {
	kind    string
	members map[string]bool
	err     error
}

// readMembers reads every server's role members fresh, at once, by kind. A
// server is left out of the pass when it cannot be read (it is down), when
// it is down and has not answered within memberReadWait (it is hung), or
// while an earlier pass's read of it is still in flight.
func (c *checker) readMembers(ctx context.Context) map[string]map[string]bool {
	answers := make(chan membersRead, len(c.servers))
	pending := map[string]bool{}
	for kind, d := range c.servers {
		if !d.startRead() {
			c.countDownRead(kind)
			continue
		}
		pending[kind] = true
		go func() {
			defer d.endRead()
			m, err := d.members(ctx)
			answers <- membersRead{kind: kind, members: m, err: err}
		}()
	}
	out := map[string]map[string]bool{}
	// Looked at again every memberReadWait: a server may hang while its
	// read is in flight.
	tick := time.NewTicker(memberReadWait)
	defer tick.Stop()
	for len(pending) > 0 {
		select {
		case a := <-answers:
			delete(pending, a.kind)
			if a.err != nil {
				c.countDownRead(a.kind)
				continue
			}
			out[a.kind] = a.members
		case <-tick.C:
			c.giveUpOnDown(pending)
		}
	}
	return out
}

// giveUpOnDown drops from pending the servers that are down, as failed reads.
func (c *checker) giveUpOnDown(pending map[string]bool) {
	for kind := range pending {
		if up, _, _ := c.servers[kind].reachable(); !up {
			delete(pending, kind)
			c.countDownRead(kind)
		}
	}
}

func (c *checker) countDownRead(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downReads[kind]++
}

// reach is a server's reachability at a pass: up, since when, and the bound
// from then of access that had to end while it was not.
type reach struct {
	up           bool
	since        time.Time
	afterRestore time.Duration
}

// checkMembers applies invariants 1 and 2 to the direct memberships the
// servers showed: a member is justified by a request for that target and
// subject that is open (in the read before), not yet seen, or ended less
// than the bound ago while the server is up (the bound counts from its
// restore); a member all of whose requests were read terminal, one of them
// Revoked and verified, was verified while present.
func (c *checker) checkMembers(before map[string]*accessv1alpha1.ElevationRequest, members map[string]map[string]bool, tracked map[string]tracked, now time.Time) {
	for kind, subjects := range members {
		var r reach
		r.up, r.since, r.afterRestore = c.servers[kind].reachable()
		for subject := range subjects {
			justified, verifiedName := c.justifyMember(kind, subject, before, tracked, now, r)
			switch {
			case verifiedName != "":
				c.violate("member-verified/"+kind+"/"+subject, "invariant 2: %s is a member of the %s role though request %s is Revoked with RevocationVerified=True (and no other request for it is open)",
					subject, kind, verifiedName)
			case !justified:
				c.violate("member-late/"+kind+"/"+subject, "invariant 1: %s is still a member of the %s role past the end of all its requests plus %s, or %s past the server's return (up since %s)",
					subject, kind, accessBound, r.afterRestore, r.since.Format("15:04:05.000"))
			}
		}
	}
}

// justifyMember says whether a request may still hold the membership: one
// not yet read, or not past its end plus the bound (the bound counting from
// the server's restore). It also names a request read Revoked and verified
// (or deleted, its finalizer gone) when every request for the membership was
// read terminal: then the membership was verified gone while present.
func (c *checker) justifyMember(kind, subject string, before map[string]*accessv1alpha1.ElevationRequest, tracked map[string]tracked, now time.Time, r reach) (bool, string) {
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
		if s == nil || (!read && !gone) || !c.overdueAt(end(s, t), now, r.up, r.since, r.afterRestore) {
			justified = true
		}
	}
	if open {
		verifiedName = ""
	}
	return justified, verifiedName
}
