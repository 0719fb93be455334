package elevate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
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
requester of and those you already approved.`,
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
	items := list.Items
	if f.mine || f.toApprove {
		me, err := s.whoami(ctx)
		if err != nil {
			return err
		}
		if f.mine {
			items = filter(items, func(er *accessv1alpha1.ElevationRequest) bool { return involves(er, me) })
		} else if items, err = s.toApprove(ctx, items, me); err != nil {
			return err
		}
	}
	return renderList(o.Out, items, o.AllNamespaces, time.Now())
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

// toApprove keeps the requests awaiting user's approval on connections user
// may approve for, asking once per connection.
func (s *session) toApprove(ctx context.Context, items []accessv1alpha1.ElevationRequest, user string) ([]accessv1alpha1.ElevationRequest, error) {
	allowed := map[string]bool{}
	var out []accessv1alpha1.ElevationRequest
	for i := range items {
		er := &items[i]
		if !awaitsApprovalFrom(er, user) {
			continue
		}
		key := er.Namespace + "/" + er.Spec.Connection
		ok, seen := allowed[key]
		if !seen {
			var err error
			if ok, err = s.mayApprove(ctx, er.Namespace, er.Spec.Connection); err != nil {
				return nil, err
			}
			allowed[key] = ok
		}
		if ok {
			out = append(out, *er)
		}
	}
	return out, nil
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

// renderList writes the table of ls, oldest first.
func renderList(w io.Writer, items []accessv1alpha1.ElevationRequest, withNamespace bool, now time.Time) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(w, "No elevation requests found.")
		return err
	}
	items = slices.Clone(items)
	sort.SliceStable(items, func(i, j int) bool {
		return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp)
	})
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := "NAME\tPHASE\tSUBJECT\tCONNECTION/ROLE\tEXPIRES/TIME LEFT\tAGE"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	_, _ = fmt.Fprintln(tw, header)
	for i := range items {
		er := &items[i]
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", er.Name, orDash(string(er.Status.Phase)), er.Spec.Subject,
			er.Spec.Connection+"/"+er.Spec.Role, timeLeft(er, now), age(now.Sub(er.CreationTimestamp.Time)))
		if withNamespace {
			row = er.Namespace + "\t" + row
		}
		_, _ = fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the table: %w", err)
	}
	return nil
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
