package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/internal/plugin"
	"github.com/roster-dev/roster/internal/testenv"
)

// The suite runs one kube-apiserver with the directory registered through
// its APIService, seeds a small directory, and runs `kubectl roster` as its
// users with their own kubeconfigs: in this process through plugin.Run, and
// as the real binary that kubectl finds on PATH.
var (
	ctx         context.Context
	cancel      context.CancelFunc
	stack       *testenv.Stack
	k8sClient   client.Client
	workDir     string
	kubeconfigs = map[string]string{}
)

func TestPlugin(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl roster Suite")
}

// The directory the specs read: the shared people and seats (the
// administrator in the admin privilege group), and trent, in no
// organization.
var (
	people = func() []testenv.Person {
		p := append(slices.Clone(testenv.People), testenv.Person{Name: "trent", First: "Trent", Last: "Moreau", ID: 11})
		p[0].Groups = []string{"admin"}
		return p
	}()
	seats = testenv.Seats
)

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	workDir, err = os.MkdirTemp("", "roster-plugin-test-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = os.RemoveAll(workDir) })

	By("starting kube-apiserver and the directory server, registered through an APIService")
	stack = &testenv.Stack{
		Env: &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		},
		Dir: workDir,
	}
	Expect(stack.Start(ctx)).To(Succeed())
	k8sClient = stack.Client

	By("writing a kubeconfig for each caller")
	kubeconfigs["admin"] = filepath.Join(workDir, "kubeconfigs", "system-masters.kubeconfig")
	Expect(testenv.WriteKubeconfig(stack.Admin, kubeconfigs["admin"])).To(Succeed())
	for _, name := range []string{"alice", "dave", "frank", "trent"} {
		_, path, err := stack.Identity(name)
		Expect(err).NotTo(HaveOccurred())
		kubeconfigs[name] = path
	}

	By("seeding users, organizations and memberships")
	Expect(testenv.Seed(ctx, k8sClient, people, map[string]int64{"acme": 1, "globex": 2}, seats)).To(Succeed())
	Eventually(func(g Gomega) {
		r := roster("admin", "users", "--all", "-o", "json")
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.userList(g).Count).To(BeNumerically("==", len(people)))
		r = roster("admin", "members", "acme", "-o", "json")
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(ContainSubstring(`"count": 5`))
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	if stack != nil {
		Expect(stack.Stop()).To(Succeed())
	}
})

func createMembership(org, user string, role iamv1alpha1.MembershipRole, pending bool) error {
	return testenv.CreateMembership(ctx, k8sClient, testenv.Seat{Org: org, User: user, Role: role, Pending: pending})
}

// result is what one run of the plugin printed, and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// roster runs `kubectl roster --kubeconfig <who's> args...` in this process.
func roster(who string, args ...string) result {
	GinkgoHelper()
	path, ok := kubeconfigs[who]
	Expect(ok).To(BeTrue(), "no kubeconfig for %s", who)
	var out, errOut bytes.Buffer
	code := plugin.Run(append([]string{"--kubeconfig", path}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return result{out.String(), errOut.String(), code}
}

// ok expects a run that succeeded and printed nothing to stderr.
func (r result) ok() result {
	GinkgoHelper()
	Expect(r.code).To(Equal(0), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	Expect(r.stderr).To(BeEmpty())
	return r
}

// failed expects a run that failed with kubectl's exit code 1 and printed
// exactly stderr, and nothing to stdout.
func (r result) failed(stderr string) {
	GinkgoHelper()
	Expect(r.code).To(Equal(1), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	Expect(r.stderr).To(Equal(stderr))
	Expect(r.stdout).To(BeEmpty())
}

func (r result) userList(g Gomega) directoryv1alpha1.UserList {
	var list directoryv1alpha1.UserList
	g.Expect(json.Unmarshal([]byte(r.stdout), &list)).To(Succeed(), r.stdout)
	return list
}

// lines are the table's lines: the header, the rows and the footer.
func (r result) lines() []string {
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

// names are the first column of the table's rows.
func (r result) names() []string {
	var out []string
	lines := r.lines()
	for _, l := range lines[1 : len(lines)-1] {
		out = append(out, strings.Fields(l)[0])
	}
	return out
}

// footerLine is the table's last line.
func (r result) footerLine() string {
	lines := r.lines()
	return lines[len(lines)-1]
}

var userHeader = regexp.MustCompile(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE$`)

var _ = Describe("kubectl roster users", func() {
	It("shows an administrator everyone, in the full view, newest first, on page 1 of the default size", func() {
		r := roster("admin", "users").ok()
		Expect(r.lines()[0]).To(MatchRegexp(userHeader.String()))
		Expect(r.names()).To(Equal([]string{"trent", "ivan", "heidi", "grace", "frank", "erin", "dave", "carol", "bob", "alice"}))
		Expect(r.stdout).To(MatchRegexp(`(?m)^trent\s+11\s+trent\s+Trent\s+Moreau\s+trent@example\.com\s+true$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^ivan\s+10\s+ivan\s+Ivan\s+Petrov\s+ivan@example\.com\s+false$`))
		Expect(r.footerLine()).To(Equal("page 1 of 2 (11 users)"))
		Expect(r.stdout).NotTo(ContainSubstring("ORGANIZATIONS"), "list items carry no organizations")

		r = roster("admin", "users", "--page", "2").ok()
		Expect(r.names()).To(Equal([]string{"admin"}))
		Expect(r.footerLine()).To(Equal("page 2 of 2 (11 users)"))
	})

	It("shows a member the users who share an organization with them, others in the basic view", func() {
		r := roster("alice", "users").ok()
		Expect(r.lines()[0]).To(MatchRegexp(userHeader.String()))
		Expect(r.names()).To(Equal([]string{"dave", "carol", "bob", "alice"}), "grace's invitation is pending")
		Expect(r.stdout).To(MatchRegexp(`(?m)^alice\s+2\s+alice\s+Alice\s+Nguyen\s+alice@example\.com\s+true$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^bob\s+3\s+bob\s+Bob\s+Okafor\s+<none>\s+<none>$`))
		Expect(r.footerLine()).To(Equal("page 1 of 1 (4 users)"))

		r = roster("trent", "users").ok()
		Expect(r.names()).To(Equal([]string{"trent"}))
		Expect(r.footerLine()).To(Equal("page 1 of 1 (1 user)"))
	})

	It("pages with --page-size, --page (a number or last) and --all", func() {
		r := roster("admin", "users", "--page-size", "4", "--sort", "id").ok()
		Expect(r.names()).To(Equal([]string{"admin", "alice", "bob", "carol"}))
		Expect(r.footerLine()).To(Equal("page 1 of 3 (11 users)"))
		r = roster("admin", "users", "--page-size", "4", "--sort", "id", "--page", "2").ok()
		Expect(r.names()).To(Equal([]string{"dave", "erin", "frank", "grace"}))
		Expect(r.footerLine()).To(Equal("page 2 of 3 (11 users)"))
		r = roster("admin", "users", "--page-size", "4", "--sort", "id", "--page", "last").ok()
		Expect(r.names()).To(Equal([]string{"heidi", "ivan", "trent"}))
		Expect(r.footerLine()).To(Equal("page 3 of 3 (11 users)"))
		r = roster("admin", "users", "--all").ok()
		Expect(r.names()).To(HaveLen(11))
		Expect(r.footerLine()).To(Equal("page 1 of 1 (11 users)"))
		r = roster("alice", "users", "--page-size", "3").ok()
		Expect(r.footerLine()).To(Equal("page 1 of 2 (4 users)"))
	})

	It("searches, and filters by organization, role, fields, activity and JSON Logic", func() {
		r := roster("admin", "users", "--search", "ali", "--sort", "username").ok()
		Expect(r.names()).To(Equal([]string{"alice", "dave", "grace"}))
		Expect(r.footerLine()).To(Equal("page 1 of 1 (3 users)"))
		r = roster("alice", "users", "--search", "ali", "--sort", "username").ok()
		Expect(r.names()).To(Equal([]string{"alice", "dave"}))

		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--org", "acme"}, []string{"alice", "bob", "carol", "dave", "grace"}},
			{[]string{"--org-id", "2"}, []string{"dave", "erin", "frank"}},
			{[]string{"--personal"}, []string{"admin", "heidi", "ivan", "trent"}},
			{[]string{"--org", "acme", "--role", "owner,maintainer"}, []string{"alice", "bob"}},
			{[]string{"--last-name", "Ali"}, []string{"grace"}},
			{[]string{"--username", "bob"}, []string{"bob"}},
			{[]string{"--first-name", "Carol"}, []string{"carol"}},
			{[]string{"--active", "false"}, []string{"ivan"}},
			{[]string{"--filter", `{"in":[{"var":"id"},[2,3,11]]}`}, []string{"alice", "bob", "trent"}},
		} {
			r := roster("admin", append([]string{"users", "--sort", "username"}, tc.args...)...).ok()
			Expect(r.names()).To(Equal(tc.want), "%v", tc.args)
		}
	})

	It("prints -o json as the server's UserList, and -o yaml, name and jsonpath", func() {
		r := roster("admin", "users", "--page-size", "3", "-o", "json").ok()
		list := r.userList(Default)
		Expect(list.APIVersion).To(Equal("directory.roster.dev/v1alpha1"))
		Expect(list.Kind).To(Equal("UserList"))
		Expect(list.Count).To(BeNumerically("==", 11))
		Expect(list.Items).To(HaveLen(3))
		Expect(list.Next).NotTo(BeNil())
		Expect(*list.Next).To(ContainSubstring("page=2"))
		Expect(list.Previous).To(BeNil())
		Expect(r.stdout).NotTo(ContainSubstring("page 1 of"), "the footer belongs to the table")

		r = roster("alice", "users", "-o", "yaml", "--username", "bob").ok()
		Expect(r.stdout).To(ContainSubstring("kind: UserList"))
		Expect(r.stdout).To(ContainSubstring("count: 1"))
		Expect(r.stdout).NotTo(ContainSubstring("email"), "bob's basic view")

		r = roster("alice", "users", "-o", "name", "--sort", "username").ok()
		Expect(r.stdout).To(Equal("user.directory.roster.dev/alice\nuser.directory.roster.dev/bob\n" +
			"user.directory.roster.dev/carol\nuser.directory.roster.dev/dave\n"))

		r = roster("alice", "users", "--sort", "id", "-o", "jsonpath={.count} {.items[*].id}").ok()
		Expect(r.stdout).To(Equal("4 2 3 4 5"))
		r = roster("alice", "users", "--sort", "id", "-o", "go-template={{range .items}}{{.username}} {{end}}").ok()
		Expect(r.stdout).To(Equal("alice bob carol dave "))
	})

	It("prints the server's refusals as kubectl does, with exit code 1", func() {
		roster("admin", "users", "--page", "99").failed("Error from server (NotFound): Invalid page.\n")
		roster("trent", "users", "--org", "acme").failed("Error from server (Forbidden): You are not an active member of the `acme` organization.\n")
		roster("admin", "users", "--org", "nosuchorg").failed("Error from server (NotFound): nosuchorg organization does not exist.\n")
		roster("admin", "users", "--sort", "email").failed("Error from server (BadRequest): sort: unsupported key 'email'; use username, first_name, last_name, id or is_active\n")
		roster("admin", "users", "--role", "worker").failed("Error from server (BadRequest): role: a role is held in an organization; name one with org, org_id or the X-Organization header\n")
		roster("admin", "users", "--filter", `{"==":[{"var":"email"},"x"]}`).failed("Error from server (BadRequest): filter: term 'email' is not supported\n")
	})

	It("refuses bad flags in one line, before any request, with exit code 1", func() {
		roster("admin", "users", "--org", "acme", "--personal").failed(
			"error: --org and --personal cannot be used together; give one of --org, --org-id or --personal\n")
		roster("admin", "users", "--page-size", "5", "--all").failed(
			"error: --page-size and --all cannot be used together; give one of --page-size or --all\n")
		roster("admin", "users", "--active", "yes please").failed(`error: --active "yes please" is neither true nor false` + "\n")
		roster("admin", "users", "--bogus").failed("error: unknown flag: --bogus\n")
		roster("admin", "users", "stray").failed(`error: kubectl roster users takes no arguments, got ["stray"]` + "\n")
		roster("admin", "nosuchcommand").failed(`error: unknown command "nosuchcommand" for "kubectl roster"` + "\n")
		r := roster("admin", "users", "-o", "xml")
		Expect(r.code).To(Equal(1))
		Expect(r.stderr).To(HavePrefix(`error: unable to match a printer suitable for the output format "xml", allowed formats are: `))
		Expect(strings.Count(r.stderr, "\n")).To(Equal(1))
	})

	It("watches with the same query, a row for each change, until stopped", func() {
		out, errOut := gbytes.NewBuffer(), gbytes.NewBuffer()
		wctx, stop := context.WithCancel(ctx)
		done := make(chan int)
		go func() {
			defer GinkgoRecover()
			done <- plugin.RunContext(wctx, []string{"--kubeconfig", kubeconfigs["alice"], "users", "--search", "o", "--watch"},
				genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
		}()
		Eventually(out).Should(gbytes.Say(`NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\n`))
		Eventually(out).Should(gbytes.Say(`bob\s+3\s+bob\s+Bob\s+Okafor\s+<none>\s+<none>\n`))

		By("heidi joins acme: she becomes visible to alice")
		Expect(createMembership("acme", "heidi", iamv1alpha1.RoleWorker, false)).To(Succeed())
		Eventually(out).Should(gbytes.Say(`heidi\s+9\s+heidi\s+Heidi\s+Johansson\s+<none>\s+<none>\n`))
		By("trent, whose name matches too, is not in alice's organizations: no row")
		Expect(k8sClient.Delete(ctx, &iamv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{Name: "acme.heidi"}})).To(Succeed())
		Eventually(out).Should(gbytes.Say(`heidi\s+9\s+heidi\s+`), "a row for her leaving too")
		Expect(string(out.Contents())).NotTo(ContainSubstring("trent"))

		stop()
		Eventually(done).Should(Receive(Equal(0)))
		Expect(string(out.Contents())).NotTo(ContainSubstring("page "), "a watch has no footer")
		Expect(string(errOut.Contents())).To(BeEmpty())
	})
})

var _ = Describe("kubectl roster whoami", func() {
	It("shows the caller's record and organizations", func() {
		r := roster("dave", "whoami").ok()
		Expect(r.stdout).To(MatchRegexp(`(?m)^Name:\s+dave$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^ID:\s+5$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Username:\s+dave$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^First name:\s+Dave$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Last name:\s+Alimov$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Email:\s+dave@example\.com$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Groups:\s+<none>$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Organizations:\n  ORGANIZATION\s+ID\s+ROLE\s+ACTIVE\n  acme\s+1\s+worker\s+true\n  globex\s+2\s+worker\s+true\n`))

		r = roster("admin", "whoami").ok()
		Expect(r.stdout).To(MatchRegexp(`(?m)^Superuser:\s+true$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Groups:\s+admin$`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^Organizations:\s+<none>$`))
	})

	It("prints the object with -o yaml and -o json", func() {
		r := roster("alice", "whoami", "-o", "yaml").ok()
		Expect(r.stdout).To(ContainSubstring("apiVersion: directory.roster.dev/v1alpha1\n"))
		Expect(r.stdout).To(ContainSubstring("kind: User\n"))
		Expect(r.stdout).To(ContainSubstring("username: alice\n"))
		Expect(r.stdout).To(ContainSubstring("slug: acme"))
		r = roster("alice", "whoami", "-o", "json").ok()
		var u directoryv1alpha1.User
		Expect(json.Unmarshal([]byte(r.stdout), &u)).To(Succeed())
		Expect(u.ID).To(BeNumerically("==", 2))
		Expect(u.Organizations).To(ConsistOf(directoryv1alpha1.UserOrganization{Slug: "acme", ID: 1, Role: "owner", Active: true}))
	})

	It("acts as whom --as and --as-group name", func() {
		r := roster("admin", "--as", "frank", "--as-group", "system:authenticated", "whoami").ok()
		Expect(r.stdout).To(MatchRegexp(`(?m)^Name:\s+frank$`))
		r = roster("admin", "users", "--as", "trent").ok()
		Expect(r.names()).To(Equal([]string{"trent"}))
	})
})

var _ = Describe("kubectl roster members", func() {
	It("lists an organization's memberships as its owner and as a worker sees them", func() {
		r := roster("alice", "members", "acme").ok()
		Expect(r.lines()[0]).To(MatchRegexp(`^NAME\s+USER\s+USERNAME\s+ROLE\s+STATE\s+INVITED BY\s+JOINED$`))
		Expect(r.names()).To(Equal([]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.grace"}))
		Expect(r.stdout).To(MatchRegexp(`(?m)^acme\.grace\s+grace\s+grace\s+worker\s+pending\s+<none>\s+<none>$`))
		Expect(r.footerLine()).To(Equal("page 1 of 1 (5 memberships)"))

		r = roster("dave", "members", "acme").ok()
		Expect(r.names()).To(Equal([]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave"}), "a worker sees the active ones")

		r = roster("alice", "members", "acme", "--role", "worker", "--state", "pending").ok()
		Expect(r.names()).To(Equal([]string{"acme.grace"}))
		r = roster("alice", "members", "acme", "--page-size", "2", "--page", "2").ok()
		Expect(r.names()).To(Equal([]string{"acme.carol", "acme.dave"}))
		Expect(r.footerLine()).To(Equal("page 2 of 3 (5 memberships)"))
	})

	It("refuses an organization the caller is not in, and bad input", func() {
		roster("frank", "members", "acme").failed("Error from server (Forbidden): You are not an active member of the `acme` organization.\n")
		roster("alice", "members", "acme", "--page", "9").failed("Error from server (NotFound): Invalid page.\n")
		roster("alice", "members", "acme", "--state", "gone").failed(`Error from server (BadRequest): state: "gone" is not active or pending` + "\n")
		roster("alice", "members").failed("error: kubectl roster members needs an organization's slug, e.g. kubectl roster members acme\n")
	})
})

var _ = Describe("kubectl roster invite, accept, set-role, decline and leave", Ordered, func() {
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, &iamv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{Name: "acme.trent"}})
	})

	It("runs an invitation round: invite, accept, set a role, leave", func() {
		r := roster("alice", "invite", "trent", "--org", "acme", "--role", "worker").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent created\n"))
		Expect(roster("trent", "members", "acme").stderr).To(Equal(
			"Error from server (Forbidden): You are not an active member of the `acme` organization.\n"), "an invitee is no member yet")
		r = roster("trent", "whoami").ok()
		Expect(r.stdout).To(MatchRegexp(`(?m)^  acme\s+1\s+worker\s+false$`))
		roster("alice", "invite", "trent", "--org", "acme").failed(
			`Error from server (AlreadyExists): memberships.directory.roster.dev "acme.trent" already exists` + "\n")

		r = roster("trent", "accept", "acme").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent accepted\n"))
		roster("trent", "accept", "acme").failed("error: acme.trent is already an active membership: there is no invitation to accept\n")
		// JOINED is the controllers' joinedDate; they do not run in this suite.
		r = roster("alice", "members", "acme", "--role", "worker").ok()
		Expect(r.stdout).To(MatchRegexp(`(?m)^acme\.trent\s+trent\s+trent\s+worker\s+active\s+alice\s+<none>$`))

		r = roster("alice", "set-role", "trent", "--org", "acme", "--role", "supervisor").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent role set to supervisor\n"))
		roster("trent", "set-role", "trent", "--org", "acme", "--role", "worker").failed(
			`Error from server (Forbidden): memberships.directory.roster.dev "acme.trent" is forbidden: no one may change their own role` + "\n")

		roster("trent", "decline", "acme").failed(
			"error: acme.trent is an active membership, not an invitation; to leave acme run kubectl roster leave acme\n")
		r = roster("trent", "leave", "acme").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent deleted\n"))
		roster("trent", "leave", "acme").failed(`Error from server (NotFound): memberships.directory.roster.dev "acme.trent" not found` + "\n")
	})

	It("declines an invitation", func() {
		r := roster("alice", "invite", "trent", "--org", "acme").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent created\n"))
		roster("trent", "leave", "acme").failed("error: acme.trent is an invitation, not a membership; to decline it run kubectl roster decline acme\n")
		r = roster("trent", "decline", "acme").ok()
		Expect(r.stdout).To(Equal("membership.directory.roster.dev/acme.trent declined\n"))
		Expect(roster("trent", "whoami").ok().stdout).To(MatchRegexp(`(?m)^Organizations:\s+<none>$`))
	})

	It("prints the server's refusals of writes as kubectl does", func() {
		roster("dave", "invite", "trent", "--org", "acme").failed(
			"Error from server (Forbidden): memberships.directory.roster.dev \"acme.trent\" is forbidden: only the owner or a maintainer of acme may invite to it\n")
		roster("alice", "invite", "trent", "--org", "acme", "--role", "owner").failed(
			"Error from server (Forbidden): memberships.directory.roster.dev \"acme.trent\" is forbidden: an owner may invite with any role but owner\n")
		roster("alice", "invite", "trent", "--org", "").failed(
			"The Membership \".trent\" is invalid: organization: Required value: the organization's slug is required\n")
		roster("alice", "leave", "acme").failed(
			"Error from server (Forbidden): memberships.directory.roster.dev \"acme.alice\" is forbidden: the owner may not leave the organization\n")
		roster("alice", "invite", "trent", "--org", "acme", "--role", "boss").failed(
			`error: --role "boss" is not a role; use owner, maintainer, supervisor or worker` + "\n")
		roster("alice", "invite", "trent").failed(`error: required flag(s) "org" not set` + "\n")
	})
})

var _ = Describe("kubectl-roster on PATH", func() {
	It("is found and run by kubectl as `kubectl roster`", func() {
		By("building the roster binary as kubectl-roster")
		binDir := GinkgoT().TempDir()
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, "kubectl-roster"), "github.com/roster-dev/roster")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))

		kubectl := func(args ...string) (string, string, int) {
			cmd := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
			cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
				"KUBECACHEDIR="+filepath.Join(workDir, "kube-cache"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				Expect(err).NotTo(HaveOccurred())
			}
			return stdout.String(), stderr.String(), code
		}

		stdout, stderr, code := kubectl("plugin", "list")
		Expect(code).To(Equal(0), stderr)
		Expect(stdout).To(ContainSubstring(filepath.Join(binDir, "kubectl-roster")))

		stdout, stderr, code = kubectl("roster", "--kubeconfig", kubeconfigs["alice"], "users", "--search", "ali", "--sort", "username")
		Expect(code).To(Equal(0), stderr)
		Expect(stderr).To(BeEmpty())
		Expect(stdout).To(MatchRegexp(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\n` +
			`alice\s+2\s+alice\s+Alice\s+Nguyen\s+alice@example\.com\s+true\n` +
			`dave\s+5\s+dave\s+Dave\s+Alimov\s+<none>\s+<none>\n` +
			`page 1 of 1 \(2 users\)\n$`))

		stdout, stderr, code = kubectl("roster", "--kubeconfig", kubeconfigs["admin"], "users", "--page", "99")
		Expect(code).To(Equal(1))
		Expect(stderr).To(Equal("Error from server (NotFound): Invalid page.\n"))
		Expect(stdout).To(BeEmpty())

		stdout, _, code = kubectl("roster", "version")
		Expect(code).To(Equal(0))
		Expect(stdout).To(HavePrefix("kubectl-roster "))

		By("kubectl takes no flags before a plugin's name")
		_, stderr, code = kubectl("--kubeconfig", kubeconfigs["alice"], "roster", "users")
		Expect(code).To(Equal(1))
		Expect(stderr).To(ContainSubstring("flags cannot be placed before plugin name: --kubeconfig"))
	})
})
