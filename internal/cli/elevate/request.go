package elevate

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// requestFlags are the flags of request as typed.
type requestFlags struct {
	duration, reason, ticket, subject, name string
	wait                                    bool
	timeout                                 string
}

// requestPlan is a request checked and ready to create.
type requestPlan struct {
	targets []accessv1alpha1.Target
	spec    accessv1alpha1.ElevationRequestSpec
	name    string
	wait    bool
	timeout time.Duration
}

// plan checks the arguments and flags of request, before anything is sent.
func (f requestFlags) plan(args []string) (requestPlan, error) {
	targets, err := parseTargets(args)
	if err != nil {
		return requestPlan{}, err
	}
	_, duration, err := parseWindow("--for", f.duration)
	if err != nil {
		return requestPlan{}, err
	}
	if err := checkText("--reason", f.reason, true, maxJustification, "say why you need the access; approvers read it and it is kept for audit"); err != nil {
		return requestPlan{}, err
	}
	if err := checkText("--ticket", f.ticket, false, maxTicket, ""); err != nil {
		return requestPlan{}, err
	}
	if err := checkSubject(f.subject); err != nil {
		return requestPlan{}, err
	}
	if err := checkName(f.name); err != nil {
		return requestPlan{}, err
	}
	timeout, err := parsePositive("--timeout", f.timeout)
	if err != nil {
		return requestPlan{}, err
	}
	return requestPlan{
		targets: targets, name: f.name, wait: f.wait, timeout: timeout,
		spec: specFor(accessv1alpha1.ElevationRequestSpec{
			Subject: f.subject, Duration: duration, Justification: f.reason, Ticket: f.ticket,
		}, targets),
	}, nil
}

// object is the ElevationRequest of the plan in namespace.
func (p requestPlan) object(namespace string) *accessv1alpha1.ElevationRequest {
	er := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: p.name}, Spec: p.spec}
	if p.name == "" {
		er.GenerateName = generateNameForTargets(p.targets)
	}
	return er
}

func newRequestCommand(o *Options) *cobra.Command {
	f := requestFlags{}
	cmd := &cobra.Command{
		Use:   "request CONNECTION/ROLE [CONNECTION/ROLE ...] --for DURATION --reason TEXT",
		Short: "Ask for a role of a SaaSConnection (or one in each of several) for a fixed window",
		Long: `Create an ElevationRequest for ROLE of the SaaSConnection CONNECTION in the
namespace (-n). The subject is you, as the API server knows you (kubectl auth
whoami), unless --subject names someone else. The window (--for) counts from
the moment access is granted, after the approvals the role needs.

Several CONNECTION/ROLE arguments (at most 16, each once) make one request
with spec.targets: one reason, one window, each target approved by the
approvers of its connection, all granted or none, each removal verified.

With --wait, block until the request is Active (and print when it expires),
or fail when it is Denied, Expired or Failed, or when --timeout passes.`,
		Example: `  kubectl elevate request prod-cluster/namespace-admin --for 30m --reason "INC-4711: roll back billing" --ticket INC-4711 --wait
  kubectl elevate request prod-cluster/namespace-admin payments-db/payments_rw --for 30m --reason "INC-4711: roll back billing"`,
		Args: targetArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.plan(args)
			if err != nil {
				return err
			}
			return o.runRequest(cmd.Context(), p)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.duration, "for", "", "length of the window, e.g. 30m or 1h30m (required)")
	fl.StringVar(&f.reason, "reason", "", "why you need the access: spec.justification (required)")
	fl.StringVar(&f.ticket, "ticket", "", "incident or change ticket: spec.ticket")
	fl.StringVar(&f.subject, "subject", "", "who gets the role (default: you, from kubectl auth whoami)")
	fl.StringVar(&f.name, "name", "", "name of the request (default: generated from the role)")
	fl.BoolVar(&f.wait, "wait", false, "wait until the request is Active, Denied, Expired or Failed")
	fl.StringVar(&f.timeout, "timeout", "5m", "with --wait, how long to wait")
	return cmd
}

func (o *Options) runRequest(ctx context.Context, p requestPlan) error {
	s, err := o.connect()
	if err != nil {
		return err
	}
	if p.spec.Subject == "" {
		if p.spec.Subject, err = s.whoami(ctx); err != nil {
			return err
		}
	}
	er := p.object(s.namespace)
	if err := s.client.Create(ctx, er); err != nil {
		return explain("create the request for "+joinTargets(p.targets), err)
	}
	_, _ = fmt.Fprintf(o.Out, "elevationrequest %s/%s created: %s for %s, %s\n", er.Namespace, er.Name, er.Spec.Subject, accessText(p.targets), er.Spec.Duration)
	if !p.wait {
		_, _ = fmt.Fprintf(o.Out, "follow it with: kubectl elevate status %s -n %s\n", er.Name, er.Namespace)
		return nil
	}
	return o.waitActive(ctx, s, er.Name, p.timeout)
}

// targetArgs requires at least one CONNECTION/ROLE argument; how many at
// most and how each must look is parseTargets's to say.
func targetArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: want 1 to %d %s arguments, got 0 (see %s --help)", cmd.Name(), accessv1alpha1.MaxTargets, targetArg, cmd.CommandPath())
	}
	return nil
}

// accessText names what a request is for: "c/r", or "3 targets (c/r, ...)".
func accessText(targets []accessv1alpha1.Target) string {
	if len(targets) == 1 {
		return targets[0].String()
	}
	return fmt.Sprintf("%d targets (%s)", len(targets), joinTargets(targets))
}

// exactArgs requires one positional argument, named in the error.
func exactArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%s: want exactly one %s argument, got %d (see %s --help)", cmd.Name(), name, len(args), cmd.CommandPath())
		}
		return nil
	}
}
