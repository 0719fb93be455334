package elevate

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

type extendFlags struct {
	duration, reason string
}

func newExtendCommand(o *Options) *cobra.Command {
	f := extendFlags{}
	cmd := &cobra.Command{
		Use:   "extend NAME --for DURATION --reason TEXT",
		Short: "Ask for a follow-on request that keeps NAME's access without a gap",
		Long: `Create a new ElevationRequest for the same connection, role and subject as
NAME (for a request with several targets: the same targets), annotated elevator.dev/extends=NAME. Nobody moves the end of a window
later: the follow-on is a request of its own, approved as any other. Once it is
granted, before NAME expires, the access does not lapse when NAME ends; the
follow-on's window (--for) counts from its own grant. See
docs/kubectl-elevate.md for exactly what holds.`,
		Example: `  kubectl elevate extend namespace-admin-x7k2p --for 30m --reason "INC-4711: the rollback needs longer"`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := parseWindow("--for", f.duration); err != nil {
				return err
			}
			if err := checkText("--reason", f.reason, true, maxJustification, "say why the access is needed for longer; approvers read it"); err != nil {
				return err
			}
			return o.runExtend(cmd.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.duration, "for", "", "length of the follow-on window, counted from its grant (required)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why the access is needed for longer: the follow-on's spec.justification (required)")
	return cmd
}

// followOn is the request that extends orig for duration, or an error when
// orig's access has already ended (then there is nothing to keep).
func followOn(orig *accessv1alpha1.ElevationRequest, duration, reason string) (*accessv1alpha1.ElevationRequest, error) {
	targets := orig.Spec.TargetsOf()
	if orig.Status.Phase.IsTerminal() || orig.Status.Phase == accessv1alpha1.PhaseRevoking {
		return nil, fmt.Errorf("extend %s: it is %s, so there is no access left to keep; ask anew with kubectl elevate request %s",
			orig.Name, orig.Status.Phase, strings.Join(targetNames(targets), " "))
	}
	_, d, err := parseWindow("--for", duration)
	if err != nil {
		return nil, err
	}
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    orig.Namespace,
			GenerateName: generateNameForTargets(targets),
			Annotations:  map[string]string{accessv1alpha1.AnnotationExtends: orig.Name},
		},
		// The same targets in the same form: a follow-on of a request with
		// spec.targets has spec.targets, so each target is held on.
		Spec: specFor(accessv1alpha1.ElevationRequestSpec{
			Subject: orig.Spec.Subject, Duration: d, Justification: reason, Ticket: orig.Spec.Ticket,
		}, targets),
	}, nil
}

func (o *Options) runExtend(ctx context.Context, name string, f extendFlags) error {
	s, err := o.connect()
	if err != nil {
		return err
	}
	orig, err := s.get(ctx, name)
	if err != nil {
		return err
	}
	next, err := followOn(orig, f.duration, f.reason)
	if err != nil {
		return err
	}
	if err := s.client.Create(ctx, next); err != nil {
		return explain("extend "+name, err)
	}
	_, _ = fmt.Fprintf(o.Out, "elevationrequest %s/%s created: extends %s for %s, %s, counted from its own grant\n",
		next.Namespace, next.Name, name, next.Spec.Subject, next.Spec.Duration)
	if orig.Status.ExpiresAt != nil {
		_, _ = fmt.Fprintf(o.Out, "%s expires at %s, and its revocation may start up to a tenth of its window sooner: "+
			"the follow-on must be Active before then for the access to continue without a gap\n", name, stamp(orig.Status.ExpiresAt.Time))
	}
	return nil
}
