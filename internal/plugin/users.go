package plugin

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

// paging are the page flags of the list commands.
type paging struct {
	page     string
	pageSize int
	all      bool
}

func (p *paging) addFlags(fs *pflag.FlagSet, noun string) {
	fs.StringVar(&p.page, "page", "", "page number, 1-based, or last (page)")
	fs.IntVar(&p.pageSize, "page-size", 0, "page size; the directory's default is 10 (page_size)")
	fs.BoolVar(&p.all, "all", false, "every "+noun+" on one page, up to the directory's largest page (page_size=all)")
}

// query adds page and page_size to q; with no page flag, page 1 of the
// directory's default size. It returns the page asked for, 0 for last.
func (p *paging) query(fs *pflag.FlagSet, q url.Values) (int, error) {
	if err := exclusive(fs, "page-size", "all"); err != nil {
		return 0, err
	}
	requested := 1
	if fs.Changed("page") {
		switch n, err := strconv.Atoi(p.page); {
		case p.page == "last":
			requested = 0
		case err != nil || n < 1:
			return 0, fmt.Errorf("--page %q is not a page: give a number from 1, or last", p.page)
		default:
			requested = n
		}
		q.Set("page", p.page)
	}
	switch {
	case fs.Changed("page-size") && p.pageSize < 1:
		return 0, fmt.Errorf("--page-size %d is not a page size: give a number from 1", p.pageSize)
	case fs.Changed("page-size"):
		q.Set("page_size", strconv.Itoa(p.pageSize))
	case p.all:
		q.Set("page_size", "all")
	}
	if !q.Has("page") && !q.Has("page_size") {
		q.Set("page", "1")
	}
	return requested, nil
}

// set reports whether any page flag was given.
func (p *paging) set(fs *pflag.FlagSet) bool {
	return given(fs, "page") || given(fs, "page-size") || given(fs, "all")
}

type usersOptions struct {
	*options
	print *genericclioptions.PrintFlags
	paging

	search, org, orgID, role              string
	personal                              bool
	username, firstName, lastName, active string
	sort, filter                          string
	watch                                 bool
}

func newUsersCommand(o *options) *cobra.Command {
	u := &usersOptions{options: o, print: newPrintFlags()}
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List the users you may see: search, filters, sort, JSON Logic and pages",
		Long: `List the users you may see, as the directory's users list answers it: each flag is one of its
query parameters (docs/users-api.md section 5). Without a page flag, page 1 of the directory's
default page size; the table ends with the page and the count of matching users.`,
		Example: `  kubectl roster users --search ali
  kubectl roster users --org acme --role owner,maintainer
  kubectl roster users --personal --sort -last_name,id --page-size 20 --page 2
  kubectl roster users --filter '{"in":[{"var":"id"},[1,2,3]]}' -o json
  kubectl roster users --org acme --watch`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return u.run(cmd) },
	}
	u.addFlags(cmd)
	return cmd
}

func (u *usersOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&u.search, "search", "", "case-insensitive search over username, first and last name; every term must match (search)")
	fs.StringVar(&u.org, "org", "", "the users of this organization, by slug (org)")
	fs.StringVar(&u.orgID, "org-id", "", "the users of this organization, by numeric ID (org_id)")
	fs.BoolVar(&u.personal, "personal", false, "the personal workspace: users in no organization (org_id=)")
	fs.StringVar(&u.role, "role", "", "members with one of these comma-separated roles; needs --org or --org-id (role)")
	fs.StringVar(&u.username, "username", "", "exact username (username)")
	fs.StringVar(&u.firstName, "first-name", "", "exact first name (first_name)")
	fs.StringVar(&u.lastName, "last-name", "", "exact last name (last_name)")
	fs.StringVar(&u.active, "active", "", "true or false: active users or inactive ones (is_active)")
	fs.StringVar(&u.sort, "sort", "", "comma-separated keys of username, first_name, last_name, id, is_active; - descends (sort; default -id)")
	fs.StringVar(&u.filter, "filter", "", "a JSON Logic expression over username, first_name, last_name, id, is_active (filter)")
	u.paging.addFlags(fs, "user")
	fs.BoolVarP(&u.watch, "watch", "w", false, "after listing, print a row for each change of the matching users")
	u.print.AddFlags(cmd)
}

// query maps the flags onto the directory's query parameters
// (docs/users-api.md section 5). It returns the page asked for (0 for
// last).
func (u *usersOptions) query(fs *pflag.FlagSet) (url.Values, int, error) {
	q := url.Values{}
	if err := exclusive(fs, "org", "org-id", "personal"); err != nil {
		return nil, 0, err
	}
	switch {
	case fs.Changed("org") && strings.TrimSpace(u.org) == "":
		return nil, 0, fmt.Errorf("--org needs an organization's slug; for the personal workspace use --personal")
	case fs.Changed("org"):
		q.Set("org", u.org)
	case fs.Changed("org-id"):
		if n, err := strconv.ParseInt(u.orgID, 10, 64); err != nil || n < 1 {
			return nil, 0, fmt.Errorf("--org-id %q is not an organization ID: give a number from 1", u.orgID)
		}
		q.Set("org_id", u.orgID)
	case u.personal:
		q.Set("org_id", "")
	}
	for param, v := range map[string]string{
		"search": u.search, "role": u.role, "username": u.username, "first_name": u.firstName,
		"last_name": u.lastName, "sort": u.sort, "filter": u.filter,
	} {
		if v != "" {
			q.Set(param, v)
		}
	}
	if fs.Changed("active") {
		b, err := strconv.ParseBool(u.active)
		if err != nil {
			return nil, 0, fmt.Errorf("--active %q is neither true nor false", u.active)
		}
		q.Set("is_active", strconv.FormatBool(b))
	}
	if u.watch {
		// A watch follows every matching user: the directory pages lists only.
		if u.paging.set(fs) {
			return nil, 0, fmt.Errorf("--watch follows every matching user; it cannot be used with --page, --page-size or --all")
		}
		return q, 1, nil
	}
	requested, err := u.paging.query(fs, q)
	return q, requested, err
}

func (u *usersOptions) run(cmd *cobra.Command) error {
	q, requested, err := u.query(cmd.Flags())
	if err != nil {
		return err
	}
	p, err := printerFor(u.print)
	if err != nil {
		return err
	}
	c, err := u.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	list := &directoryv1alpha1.UserList{}
	if err := withParams(c.Get().Resource("users"), q).Do(ctx).Into(list); err != nil {
		return err
	}
	if u.watch {
		return u.watchUsers(ctx, c, q, list, p)
	}
	if p != nil {
		return printList(p, u.print, list, userObjects(list.Items), u.streams.Out)
	}
	if err := printTable(usersTable(list.Items, anyOrganizations(list.Items)), u.streams.Out, u.streams.ErrOut); err != nil {
		return err
	}
	page, pages := pageOf(list.Count, len(list.Items), list.Next, list.Previous, requested)
	_, err = fmt.Fprintln(u.streams.Out, footer(page, pages, list.Count, "user"))
	return err
}

func userObjects(items []directoryv1alpha1.User) []runtime.Object {
	out := make([]runtime.Object, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// watchUsers prints the list, then a row (or an object, with -o) for each
// change the directory sends, as `kubectl get -w` does, until the watch or
// ctx ends.
func (u *usersOptions) watchUsers(ctx context.Context, c *rest.RESTClient, q url.Values, list *directoryv1alpha1.UserList, p printers.ResourcePrinter) error {
	out := printers.GetNewTabWriter(u.streams.Out)
	table := printers.NewTablePrinter(printers.PrintOptions{})
	orgs := anyOrganizations(list.Items)
	show := func(users ...directoryv1alpha1.User) error {
		var err error
		if p == nil {
			err = table.PrintObj(usersTable(users, orgs), out)
		} else {
			for i := 0; i < len(users) && err == nil; i++ {
				err = p.PrintObj(&users[i], out)
			}
		}
		if err == nil {
			err = out.Flush()
		}
		return err
	}
	if err := show(list.Items...); err != nil {
		return err
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("watch", "true")
	wq.Set("resourceVersion", list.ResourceVersion)
	w, err := withParams(c.Get().Resource("users"), wq).Watch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Error:
				return apierrors.FromObject(ev.Object)
			case watch.Bookmark:
				continue
			}
			if user, ok := ev.Object.(*directoryv1alpha1.User); ok {
				if err := show(*user); err != nil {
					return err
				}
			}
		}
	}
}

type whoamiOptions struct {
	*options
	print *genericclioptions.PrintFlags
}

func newWhoamiCommand(o *options) *cobra.Command {
	w := &whoamiOptions{options: o, print: newPrintFlags()}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show your own record: ID, names, email, privilege groups and organizations",
		Example: `  kubectl roster whoami
  kubectl roster whoami -o yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return w.run(cmd.Context()) },
	}
	w.print.AddFlags(cmd)
	return cmd
}

func (w *whoamiOptions) run(ctx context.Context) error {
	p, err := printerFor(w.print)
	if err != nil {
		return err
	}
	c, err := w.client()
	if err != nil {
		return err
	}
	me, err := self(ctx, c)
	if err != nil {
		return err
	}
	if p != nil {
		return p.PrintObj(me, w.streams.Out)
	}
	out := printers.GetNewTabWriter(w.streams.Out)
	row := func(k, v string) { fmt.Fprintf(out, "%s:\t%s\n", k, v) }
	row("Name", me.Name)
	row("ID", strconv.FormatInt(me.ID, 10))
	row("Username", me.Username)
	row("First name", me.FirstName)
	row("Last name", me.LastName)
	row("Email", deref(me.Email))
	row("Active", boolCell(me.IsActive))
	row("Superuser", boolCell(me.IsSuperuser))
	row("Groups", orNone(strings.Join(me.Groups, ",")))
	if err := out.Flush(); err != nil {
		return err
	}
	if len(me.Organizations) == 0 {
		_, err := fmt.Fprintln(w.streams.Out, "Organizations:\t"+none)
		return err
	}
	fmt.Fprintln(w.streams.Out, "Organizations:")
	orgs := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Organization", Type: "string"}, {Name: "ID", Type: "integer"},
		{Name: "Role", Type: "string"}, {Name: "Active", Type: "string"},
	}}
	for _, o := range me.Organizations {
		orgs.Rows = append(orgs.Rows, metav1.TableRow{Cells: []any{o.Slug, o.ID, o.Role, strconv.FormatBool(o.Active)}})
	}
	var b bytes.Buffer
	if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(orgs, &b); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			fmt.Fprint(w.streams.Out, "  "+line)
		}
	}
	return nil
}

// self is the caller's own record, users/self.
func self(ctx context.Context, c *rest.RESTClient) (*directoryv1alpha1.User, error) {
	me := &directoryv1alpha1.User{}
	if err := c.Get().Resource("users").Name("self").Do(ctx).Into(me); err != nil {
		return nil, err
	}
	return me, nil
}

func deref(s *string) string {
	if s == nil || *s == "" {
		return none
	}
	return *s
}

func boolCell(b *bool) string {
	if b == nil {
		return none
	}
	return strconv.FormatBool(*b)
}
