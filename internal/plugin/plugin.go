package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/internal/version"
)

// ExitError is the exit code of a failed command, as kubectl's.
const ExitError = 1

var (
	// scheme decodes the directory's types, Status and watch events.
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
)

func init() {
	utilruntime.Must(directoryv1alpha1.AddToScheme(scheme))
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
}

// Run runs `kubectl roster` with args (the arguments after the program's
// name) and returns its exit code: 0, or ExitError after printing the error
// to streams.ErrOut as kubectl prints it.
func Run(args []string, streams genericiooptions.IOStreams) int {
	return RunContext(context.Background(), args, streams)
}

// RunContext is Run until ctx ends: a watch then stops and the command
// succeeds.
func RunContext(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	if args == nil {
		// cobra would read the process's own arguments.
		args = []string{}
	}
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		msg := ErrorMessage(err)
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		fmt.Fprint(streams.ErrOut, msg)
		return ExitError
	}
	return 0
}

// options are what every command shares: the streams and kubectl's client
// flags.
type options struct {
	streams genericiooptions.IOStreams
	config  *genericclioptions.ConfigFlags
}

// NewCommand returns `kubectl roster` and its commands, writing to streams.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{streams: streams, config: genericclioptions.NewConfigFlags(true)}
	// The directory is cluster-scoped, and the plugin needs no discovery.
	o.config.Namespace = nil
	o.config.CacheDir = nil
	root := &cobra.Command{
		Use:   "roster",
		Short: "Roster's directory: users, organizations and memberships",
		Long: `kubectl roster reads and runs Roster's directory (directory.roster.dev) through kube-apiserver:
the users you may see, with search, filters, sort and pages; your own record; and the
memberships of your organizations: invitations, roles and leaving.`,
		Annotations:        map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl roster"},
		SilenceUsage:       true,
		SilenceErrors:      true,
		DisableSuggestions: true,
		CompletionOptions:  cobra.CompletionOptions{DisableDefaultCmd: true},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.config.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(
		newUsersCommand(o),
		newWhoamiCommand(o),
		newMembersCommand(o),
		newInviteCommand(o),
		newAcceptCommand(o),
		newDeclineCommand(o),
		newLeaveCommand(o),
		newSetRoleCommand(o),
		&cobra.Command{
			Use:   "version",
			Short: "Print the plugin's version and commit",
			Args:  noArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "kubectl-roster "+version.String())
			},
		},
	)
	return root
}

// client is a REST client of directory.roster.dev/v1alpha1 with the
// credentials, context and impersonation of kubectl's flags.
func (o *options) client() (*rest.RESTClient, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	gv := directoryv1alpha1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &gv
	cfg.NegotiatedSerializer = codecs.WithoutConversion()
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	if cfg.UserAgent == "" {
		cfg.UserAgent = "kubectl-roster/" + version.Version
	}
	cfg.WarningHandler = rest.NewWarningWriter(o.streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	return rest.RESTClientFor(cfg)
}

// withParams adds query parameters to a request, in a stable order.
func withParams(r *rest.Request, q url.Values) *rest.Request {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			r = r.Param(k, v)
		}
	}
	return r
}

// noArgs refuses arguments in one line.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// oneArg wants exactly one argument, what, as in example.
func oneArg(what, example string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s needs %s, e.g. %s", cmd.CommandPath(), what, example)
		case len(args) > 1:
			return fmt.Errorf("%s takes one argument, %s; got %q", cmd.CommandPath(), what, args)
		case strings.TrimSpace(args[0]) == "":
			return fmt.Errorf("%s needs %s, not an empty string", cmd.CommandPath(), what)
		}
		return nil
	}
}

// given reports whether a flag was given on the command line; a boolean
// flag given as false is not.
func given(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed && (f.Value.Type() != "bool" || f.Value.String() == "true")
}

// exclusive names the flags of group given together, or returns nil.
func exclusive(fs *pflag.FlagSet, group ...string) error {
	var names []string
	for _, name := range group {
		if given(fs, name) {
			names = append(names, "--"+name)
		}
	}
	if len(names) < 2 {
		return nil
	}
	all := make([]string, len(group))
	for i, name := range group {
		all[i] = "--" + name
	}
	return fmt.Errorf("%s cannot be used together; give one of %s", strings.Join(names, " and "), orList(all))
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// roles are the roles a membership may hold.
var roles = []string{"owner", "maintainer", "supervisor", "worker"}

func checkRole(flag, role string) error {
	if !slices.Contains(roles, role) {
		return fmt.Errorf("%s %q is not a role; use %s", flag, role, orList(roles))
	}
	return nil
}

// newPrintFlags are kubectl's -o flags: json, yaml, name, jsonpath,
// go-template and their variants.
func newPrintFlags() *genericclioptions.PrintFlags {
	return genericclioptions.NewPrintFlags("").WithTypeSetter(scheme)
}

// printerFor returns the printer -o asks for, or nil for the table (no -o,
// or -o wide).
func printerFor(pf *genericclioptions.PrintFlags) (printers.ResourcePrinter, error) {
	format := *pf.OutputFormat
	template := pf.TemplatePrinterFlags != nil && pf.TemplatePrinterFlags.TemplateArgument != nil &&
		*pf.TemplatePrinterFlags.TemplateArgument != ""
	if (format == "" && !template) || format == "wide" {
		return nil, nil
	}
	return pf.ToPrinter()
}

// printList prints a list with p: -o name prints each item, every other
// format the list as the server returned it.
func printList(p printers.ResourcePrinter, pf *genericclioptions.PrintFlags, list runtime.Object, items []runtime.Object, out io.Writer) error {
	if *pf.OutputFormat != "name" {
		return p.PrintObj(list, out)
	}
	for _, it := range items {
		if err := p.PrintObj(it, out); err != nil {
			return err
		}
	}
	return nil
}

// ErrorMessage is err as kubectl prints it: a refusal of the server as
// "Error from server (Reason): message", an invalid object with its causes,
// and anything else as "error: ...".
func ErrorMessage(err error) string {
	if agg, ok := err.(utilerrors.Aggregate); ok && len(agg.Errors()) == 1 {
		err = agg.Errors()[0]
	}
	var status *apierrors.StatusError
	if errors.As(err, &status) && status.Status().Reason == metav1.StatusReasonInvalid {
		return invalidMessage(status.Status())
	}
	if clientcmd.IsConfigurationInvalid(err) {
		return multilineError("Error in configuration: ", err)
	}
	if agg, ok := err.(utilerrors.Aggregate); ok {
		var b strings.Builder
		for _, e := range agg.Errors() {
			b.WriteString(messageFor(e) + "\n")
		}
		return b.String()
	}
	if msg, ok := standardMessage(err); ok {
		return msg
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	return msg
}

// invalidMessage is kubectl's message for a status with reason Invalid.
func invalidMessage(status metav1.Status) string {
	s := "The request is invalid"
	details := status.Details
	if details == nil {
		if status.Message != "" {
			s += ": " + status.Message
		}
		return s
	}
	if details.Kind != "" || details.Name != "" {
		s = fmt.Sprintf("The %s %q is invalid", details.Kind, details.Name)
	} else if status.Message != "" && len(details.Causes) == 0 {
		s += ": " + status.Message
	}
	if len(details.Causes) == 0 {
		return s
	}
	var causes []error
	seen := map[string]bool{}
	for _, c := range details.Causes {
		msg := fmt.Sprintf("%s: %s", c.Field, c.Message)
		if !seen[msg] {
			seen[msg] = true
			causes = append(causes, errors.New(msg))
		}
	}
	return multilineError(s+": ", utilerrors.NewAggregate(causes))
}

// multilineError puts each error of an aggregate on a line of its own.
func multilineError(prefix string, err error) string {
	agg, ok := err.(utilerrors.Aggregate)
	if !ok {
		return fmt.Sprintf("%s%s\n", prefix, err)
	}
	errs := utilerrors.Flatten(agg).Errors()
	switch len(errs) {
	case 0:
		return fmt.Sprintf("%s%v\n", prefix, err)
	case 1:
		return fmt.Sprintf("%s%v\n", prefix, messageFor(errs[0]))
	}
	var b strings.Builder
	fmt.Fprintln(&b, prefix)
	for _, e := range errs {
		fmt.Fprintf(&b, "* %v\n", messageFor(e))
	}
	return b.String()
}

func messageFor(err error) string {
	if msg, ok := standardMessage(err); ok {
		return msg
	}
	return err.Error()
}

// standardMessage is kubectl's message for the errors of a request.
func standardMessage(err error) (string, bool) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		switch {
		case s.Reason == metav1.StatusReasonUnauthorized:
			return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message), true
		case s.Reason != "":
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error()), true
		default:
			return fmt.Sprintf("Error from server: %s", err.Error()), true
		}
	}
	if apierrors.IsUnexpectedObjectError(err) {
		return fmt.Sprintf("Server returned an unexpected response: %s", err.Error()), true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if strings.Contains(ue.Err.Error(), "connection refused") {
			host := ue.URL
			if u, err := url.Parse(ue.URL); err == nil {
				host = u.Host
			}
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host), true
		}
		return fmt.Sprintf("Unable to connect to the server: %v", ue.Err), true
	}
	return "", false
}
