package elevate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

type listFlags struct {
	mine, toApprove bool
}

func newListCommand(o *Options) *cobra.Command {
	f := listFlags{}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List requests: yours, those waiting for you, or all",
		Long: `List the ElevationRequests of the namespace (-n) or of every namespace (-A).

--mine lists the requests whose subject or requester is you.
--to-approve lists the Pending requests you may approve: those whose connection
you hold RBAC verb approve on (asked with a SelfSubjectAccessReview, the check
the elevator webhook makes), leaving out those you are the subject or the
requester of and those you already approved. A request with several targets is
listed when you may approve for any target that still needs approvals, and
an APPROVE FOR column names those targets: the ones your approval counts for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.mine && f.toApprove {
				return errors.New("--mine and --to-approve: give one of them; nobody may approve their own request")
			}
			return o.runList(cmd.Context(), f)
		},
	}
	cmd.Flags().BoolVar(&f.mine, "mine", false, "only requests whose subject or requester is you")
	cmd.Flags().BoolVar(&f.toApprove, "to-approve", false, "only Pending requests you may approve")
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the requests of every namespace")
	return cmd
}

func (o *Options) runList(ctx context.Context, f listFlags) error {
	s, err := o.connect()
	if err != nil {
		return err
	}
	var list accessv1alpha1.ElevationRequestList
	var opts []client.ListOption
	if !o.AllNamespaces {
		opts = append(opts, client.InNamespace(s.namespace))
	}
	if err := s.client.List(ctx, &list, opts...); err != nil {
		return explain("list elevationrequests", err)
	}
	view := listView{items: list.Items, withNamespace: o.AllNamespaces}
	if f.mine || f.toApprove {
		me, err := s.whoami(ctx)
		if err != nil {
			return err
		}
		if f.mine {
			view.items = filter(view.items, func(er *accessv1alpha1.ElevationRequest) bool { return involves(er, me) })
		} else if view.items, view.approveFor, err = s.toApprove(ctx, view.items, me); err != nil {
			return err
		}
	}
	return renderList(o.Out, view, time.Now())
}

// involves reports whether user is the request's subject or requester,
// compared as the webhook compares them.
func involves(er *accessv1alpha1.ElevationRequest, user string) bool {
	return policy.SameUser(user, er.Spec.Subject) || policy.SameUser(user, requesterOf(er))
}

// requesterOf is who created the request: status, or the webhook's record
// annotation when the operator has not copied it yet.
func requesterOf(er *accessv1alpha1.ElevationRequest) string {
	if er.Status.RequestedBy != "" {
		return er.Status.RequestedBy
	}
	return er.Annotations[accessv1alpha1.AnnotationRequestedBy]
}

// awaitsApprovalFrom reports whether a request could use an approval by user,
// leaving the RBAC question aside: it is Pending, user is neither its subject
// nor its requester, and has not approved it yet.
func awaitsApprovalFrom(er *accessv1alpha1.ElevationRequest, user string) bool {
	if er.Status.Phase != accessv1alpha1.PhasePending || involves(er, user) {
		return false
	}
	for _, a := range er.Status.Approvals {
		if policy.SameUser(user, a.User) {
			return false
		}
	}
	return true
}

// approverCheck answers "may the caller approve for namespace/connection?".
type approverCheck func(ctx context.Context, namespace, connection string) (bool, error)

// toApprove keeps the requests awaiting user's approval with a target user
// may approve for, and says for each which of its awaiting targets those
// are (keyed by namespace/name). It asks the API server once per distinct
// connection.
func (s *session) toApprove(ctx context.Context, items []accessv1alpha1.ElevationRequest, user string) ([]accessv1alpha1.ElevationRequest, map[string][]accessv1alpha1.Target, error) {
	return approvable(ctx, items, user, s.mayApprove)
}

func approvable(ctx context.Context, items []accessv1alpha1.ElevationRequest, user string, may approverCheck) ([]accessv1alpha1.ElevationRequest, map[string][]accessv1alpha1.Target, error) {
	allowed := map[string]bool{}
	ask := func(namespace, connection string) (bool, error) {
		key := namespace + "/" + connection
		ok, seen := allowed[key]
		if seen {
			return ok, nil
		}
		ok, err := may(ctx, namespace, connection)
		allowed[key] = ok
		return ok, err
	}
	var out []accessv1alpha1.ElevationRequest
	approveFor := map[string][]accessv1alpha1.Target{}
	for i := range items {
		er := &items[i]
		if !awaitsApprovalFrom(er, user) {
			continue
		}
		var mine []accessv1alpha1.Target
		for _, t := range targetsAwaitingApprovals(er) {
			ok, err := ask(er.Namespace, t.Connection)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				mine = append(mine, t)
			}
		}
		if len(mine) > 0 {
			out = append(out, *er)
			approveFor[er.Namespace+"/"+er.Name] = mine
		}
	}
	return out, approveFor, nil
}

func filter(items []accessv1alpha1.ElevationRequest, keep func(*accessv1alpha1.ElevationRequest) bool) []accessv1alpha1.ElevationRequest {
	var out []accessv1alpha1.ElevationRequest
	for i := range items {
		if keep(&items[i]) {
			out = append(out, items[i])
		}
	}
	return out
}

// listView is what ls shows: the requests, with a NAMESPACE column for -A,
// and with --to-approve, when a request listed has several targets, an
// APPROVE FOR column naming, per namespace/name, the targets the caller's
// approval would count for (for one target, that is the TARGET).
type listView struct {
	items         []accessv1alpha1.ElevationRequest
	withNamespace bool
	approveFor    map[string][]accessv1alpha1.Target
	// showApproveFor is set by renderList.
	showApproveFor bool
}

// renderList writes the table of ls, oldest first.
func renderList(w io.Writer, view listView, now time.Time) error {
	if len(view.items) == 0 {
		_, err := fmt.Fprintln(w, "No elevation requests found.")
		return err
	}
	view.showApproveFor = view.approveFor != nil && slices.ContainsFunc(view.items, func(er accessv1alpha1.ElevationRequest) bool { return er.Spec.IsMultiTarget() })
	items := slices.Clone(view.items)
	sort.SliceStable(items, func(i, j int) bool {
		return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp)
	})
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	_, _ = fmt.Fprintln(tw, strings.Join(view.columns(), "\t"))
	for i := range items {
		_, _ = fmt.Fprintln(tw, strings.Join(view.row(&items[i], now), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the table: %w", err)
	}
	return nil
}

func (v listView) columns() []string {
	cols := []string{"NAME", "PHASE", "SUBJECT", "TARGET"}
	if v.showApproveFor {
		cols = append(cols, "APPROVE FOR")
	}
	cols = append(cols, "EXPIRES/TIME LEFT", "AGE")
	if v.withNamespace {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	return cols
}

func (v listView) row(er *accessv1alpha1.ElevationRequest, now time.Time) []string {
	row := []string{er.Name, orDash(string(er.Status.Phase)), er.Spec.Subject, targetColumn(er)}
	if v.showApproveFor {
		// Comma without a space, like status.targetList: one field per column.
		row = append(row, strings.Join(targetNames(v.approveFor[er.Namespace+"/"+er.Name]), ","))
	}
	row = append(row, timeLeft(er, now), age(now.Sub(er.CreationTimestamp.Time)))
	if v.withNamespace {
		row = append([]string{er.Namespace}, row...)
	}
	return row
}

// timeLeft is the EXPIRES/TIME LEFT column: the time left while access is
// held, when it ended once it has, and a dash before it starts.
func timeLeft(er *accessv1alpha1.ElevationRequest, now time.Time) string {
	st := er.Status
	switch {
	case st.RevokedAt != nil:
		return "ended " + age(now.Sub(st.RevokedAt.Time)) + " ago"
	case st.Phase.IsTerminal() || st.ExpiresAt == nil:
		return "-"
	case st.Phase == accessv1alpha1.PhaseRevoking:
		return "revoking"
	}
	return humanLeft(st.ExpiresAt.Sub(now)) + " left"
}

// humanLeft is a time left, rounded like kubectl's ages; "0s" once past.
func humanLeft(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return duration.HumanDuration(d)
}

// age is how long ago something was, kubectl's way; "0s" under clock skew.
func age(d time.Duration) string {
	return duration.HumanDuration(max(d, 0))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
