package elevate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// trigger is one of the annotations approve, deny and revoke set.
type trigger struct {
	verb     string // the subcommand
	key      string // the annotation
	flag     string // the flag whose text is the annotation's value
	required bool
	hint     string
	done     string // past tense, for the message
}

var (
	approveTrigger = trigger{verb: "approve", key: accessv1alpha1.AnnotationApprove, flag: "--comment", done: "approved"}
	denyTrigger    = trigger{verb: "deny", key: accessv1alpha1.AnnotationDeny, flag: "--reason", required: true,
		hint: "say why; the requester reads it and it is kept for audit", done: "denied"}
	revokeTrigger = trigger{verb: "revoke", key: accessv1alpha1.AnnotationRevoke, flag: "--reason", done: "asked to revoke"}
)

// patch is the merge patch that sets the trigger to value, exactly what
// kubectl annotate KEY=VALUE sends.
func (t trigger) patch(value string) ([]byte, error) {
	if err := checkText(t.flag, value, t.required, accessv1alpha1.MaxRecordText, t.hint); err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{t.key: value}}})
	if err != nil {
		return nil, fmt.Errorf("encode the annotation %s: %w", t.key, err)
	}
	return body, nil
}

func newTriggerCommand(o *Options, t trigger, short, long string) *cobra.Command {
	var value string
	cmd := &cobra.Command{
		Use:   t.verb + " NAME",
		Short: short,
		Long:  long,
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := t.patch(value)
			if err != nil {
				return err
			}
			return o.runTrigger(cmd.Context(), t, args[0], body)
		},
	}
	usage := "why (the annotation's value, kept in the record)"
	if t.required {
		usage += " (required)"
	}
	cmd.Flags().StringVar(&value, t.flag[2:], "", usage)
	return cmd
}

func newApproveCommand(o *Options) *cobra.Command {
	return newTriggerCommand(o, approveTrigger, "Approve a request (sets elevator.dev/approve)",
		`Approve the ElevationRequest NAME, as kubectl annotate elevationrequest/NAME
elevator.dev/approve="COMMENT" would. The elevator webhook records you as the
approver if you may approve for the request's connection (RBAC verb approve on
the saasconnections object) and you are neither its subject nor its requester.
On a request with several targets, your approval counts for the targets whose
connection you approve for; each target is approved once its role's approvals
are met, and the request once every target is.`)
}

func newDenyCommand(o *Options) *cobra.Command {
	return newTriggerCommand(o, denyTrigger, "Deny a pending request (sets elevator.dev/deny)",
		`Deny the ElevationRequest NAME with a reason, as kubectl annotate
elevationrequest/NAME elevator.dev/deny="REASON" would. A denial is final.
Only an approver of the request's connection (of any of its connections, for a
request with several targets) may deny; a denial ends every target.`)
}

func newRevokeCommand(o *Options) *cobra.Command {
	return newTriggerCommand(o, revokeTrigger, "End a request's access early (sets elevator.dev/revoke)",
		`End the access of the ElevationRequest NAME now, as kubectl annotate
elevationrequest/NAME elevator.dev/revoke="REASON" would. Its subject, its
requester and the approvers of its connection (of any of its connections) may.
The operator removes the access, of every target, and verifies each removal;
kubectl elevate status NAME shows how.`)
}

func (o *Options) runTrigger(ctx context.Context, t trigger, name string, body []byte) error {
	s, err := o.connect()
	if err != nil {
		return err
	}
	er, err := s.get(ctx, name)
	if err != nil {
		return err
	}
	before := er.DeepCopy()
	// The patch leaves in er what the API server stored: with the webhook's
	// records of this very write.
	if err := s.client.Patch(ctx, er, client.RawPatch(types.MergePatchType, body)); err != nil {
		return explain(fmt.Sprintf("%s %s/%s", t.verb, s.namespace, name), err)
	}
	_, _ = fmt.Fprintf(o.Out, "elevationrequest %s/%s %s%s; follow it with: kubectl elevate status %s -n %s\n",
		s.namespace, name, t.done, t.scope(before, er), name, s.namespace)
	return nil
}

// scope says, for a request with several targets, what the trigger reaches:
// an approval the targets of the connections the approver holds approve on
// (as the webhook recorded them), a denial or revocation every target. It is
// "" for a request with one target.
func (t trigger) scope(before, after *accessv1alpha1.ElevationRequest) string {
	if !after.Spec.IsMultiTarget() {
		return ""
	}
	n := len(after.Spec.Targets)
	switch t.verb {
	case approveTrigger.verb:
		if counted := approvedTargets(before, after); len(counted) > 0 {
			return fmt.Sprintf(" for %d of its %d targets (%s: the connections you approve for); each target is approved once its role's approvals are met",
				len(counted), n, joinTargets(counted))
		}
		return fmt.Sprintf("; on a request with %d targets an approval counts for the targets of the connections you approve for", n)
	case denyTrigger.verb:
		return fmt.Sprintf(": all %d targets", n)
	}
	return fmt.Sprintf(": all %d targets, each removal verified on its own", n)
}

// approvedTargets are the targets the approval this write added counts for:
// the new entry of the webhook's approvals record, and its connections.
func approvedTargets(before, after *accessv1alpha1.ElevationRequest) []accessv1alpha1.Target {
	old, errOld := records.Parse(before.Annotations)
	now, errNow := records.Parse(after.Annotations)
	if errOld != nil || errNow != nil {
		return nil
	}
	for _, a := range now.Approvals {
		if slices.ContainsFunc(old.Approvals, func(o accessv1alpha1.ApprovalRecord) bool { return o.User == a.User }) {
			continue
		}
		var counted []accessv1alpha1.Target
		for _, target := range after.Spec.Targets {
			if slices.Contains(a.Connections, target.Connection) {
				counted = append(counted, target)
			}
		}
		return counted
	}
	return nil
}
