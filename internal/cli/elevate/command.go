// Package elevate is the kubectl elevate plugin: it asks for, approves,
// denies, revokes, lists and explains ElevationRequests the way a person would
// with kubectl create and kubectl annotate. It holds no authority of its own:
// every approval, denial and revocation is an annotation that the elevator
// admission webhook judges, under the identity the API server authenticated.
package elevate

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Options are what every subcommand shares: the standard kubectl connection
// flags and where to write.
type Options struct {
	Flags  *genericclioptions.ConfigFlags
	Out    io.Writer
	ErrOut io.Writer
	// AllNamespaces is -A of the commands that list.
	AllNamespaces bool
}

// session is a connection to the API server as the caller, in one namespace.
type session struct {
	client    client.Client
	namespace string
}

// NewCommand returns the root command of the plugin, writing to out and errOut.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	o := &Options{Flags: genericclioptions.NewConfigFlags(true), Out: out, ErrOut: errOut}
	root := &cobra.Command{
		Use:   "kubectl-elevate",
		Short: "Ask for, approve and follow temporary elevated access (Elevator ElevationRequests)",
		Long: `kubectl elevate works with Elevator's ElevationRequests: ask for a role of a
SaaSConnection for a fixed window, approve or deny one, end one early, list
them and read one's timeline. Approvals, denials and revocations are the
annotations elevator.dev/approve, deny and revoke, judged by the elevator
admission webhook exactly as if you had set them with kubectl annotate.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl elevate"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	o.Flags.AddFlags(root.PersistentFlags())
	root.AddCommand(newRequestCommand(o), newApproveCommand(o), newDenyCommand(o), newRevokeCommand(o),
		newListCommand(o), newStatusCommand(o), newExtendCommand(o))
	return root
}

// scheme holds the kinds the plugin reads and writes.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{accessv1alpha1.AddToScheme, authenticationv1.AddToScheme, authorizationv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build the client's scheme: %w", err)
		}
	}
	return s, nil
}

// connect opens a session with the kubeconfig, context, namespace and
// impersonation the standard flags select.
func (o *Options) connect() (*session, error) {
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("find the namespace: %w", err)
	}
	s, err := scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server: %w", err)
	}
	return &session{client: c, namespace: ns}, nil
}
