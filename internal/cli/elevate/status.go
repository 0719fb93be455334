package elevate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func newStatusCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a request's timeline: who asked, who approved, when access began and ended, how its removal was verified",
		Long: `Show the ElevationRequest NAME for a person: who requested it and when, each
approval, when access was granted and when it expires (and how long is left),
when it was revoked and how the removal was verified, any residual access, and
what the subject did while elevated when the operator recorded it.

-o json or -o yaml prints the object itself, for machines.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" && output != "yaml" {
				return fmt.Errorf("-o, --output: must be json or yaml, got %q", output)
			}
			return o.runStatus(cmd.Context(), args[0], output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: print the object instead of the timeline")
	return cmd
}

func (o *Options) runStatus(ctx context.Context, name, output string) error {
	s, err := o.connect()
	if err != nil {
		return err
	}
	er, err := s.get(ctx, name)
	if err != nil {
		return err
	}
	if output == "" {
		return renderStatus(o.Out, er, time.Now())
	}
	return printObject(o.Out, er, output)
}

// printObject prints the request as kubectl get -o json|yaml does: with its
// kind, without managedFields.
func printObject(w io.Writer, er *accessv1alpha1.ElevationRequest, output string) error {
	obj := er.DeepCopy()
	obj.APIVersion = accessv1alpha1.GroupVersion.String()
	obj.Kind = "ElevationRequest"
	obj.ManagedFields = nil
	var data []byte
	var err error
	if output == "json" {
		data, err = json.MarshalIndent(obj, "", "    ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(obj)
	}
	if err != nil {
		return fmt.Errorf("encode the request as %s: %w", output, err)
	}
	_, err = w.Write(data)
	return err
}
