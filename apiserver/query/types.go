package query

import "fmt"

// User is the part of a Roster User that lists filter, search and sort on.
type User struct {
	// Name is metadata.name, the key of the record.
	Name string
	// ID is the allocated user ID; 0 while the controller has not allocated
	// one yet (such users are listed and sort as id 0).
	ID        int64
	Username  string
	FirstName string
	LastName  string
	IsActive  bool
}

// Organization is the part of a Roster Organization that visibility needs.
type Organization struct {
	// Slug is metadata.name, the key of the record.
	Slug string
	ID   int64
}

// Role is a member's role in an organization.
type Role string

// The roles of docs/users-api.md section 3.
const (
	RoleOwner      Role = "owner"
	RoleMaintainer Role = "maintainer"
	RoleSupervisor Role = "supervisor"
	RoleWorker     Role = "worker"
)

// Roles lists the roles from most to least privileged.
var Roles = []Role{RoleOwner, RoleMaintainer, RoleSupervisor, RoleWorker}

// roleIndex is r's place in Roles, -1 for no role.
func roleIndex(r Role) int {
	for i, x := range Roles {
		if x == r {
			return i
		}
	}
	return -1
}

// Membership ties a user to an organization.
type Membership struct {
	// Name is metadata.name, the key of the record.
	Name string
	// Organization is the organization's slug.
	Organization string
	// User is the member's User.Name.
	User string
	Role Role
	// Active is false while the membership is a pending invitation.
	Active bool
}

// MembershipRole is one organization of a user, as `users/self` shows it.
type MembershipRole struct {
	Organization   string
	OrganizationID int64 // 0 when the Organization object is not known (yet)
	Role           Role
	Active         bool
}

// Caller is the identity a request is answered for, resolved by the server.
type Caller struct {
	// User is the Name of the caller's User, or "" when the caller maps to
	// no User.
	User string
	// Admin callers see every user (docs/users-api.md section 6).
	Admin bool
}

// Result is one answer of Snapshot.List.
type Result struct {
	// Count is the number of users matching the request, before paging.
	Count int
	// Users is the requested page, or window when the request is not paged.
	Users []User
	// Page is the resolved page number (page=last resolved), 0 when the
	// request is not paged.
	Page int
	// Offset is the position of the first row in the whole result.
	Offset int
	// HasNext and HasPrevious tell whether the neighbouring page (or, without
	// paging, rows after and before the window) exist.
	HasNext, HasPrevious bool
}

// Error is a request the engine refuses: the server answers with Status and
// Message as they are.
type Error struct {
	// Status is 400, 403 or 404.
	Status int
	// Param is the query parameter at fault ("" when there is none, for
	// example for a 403).
	Param   string
	Message string
}

func (e *Error) Error() string { return e.Message }

func badRequest(param, format string, args ...any) *Error {
	return &Error{Status: 400, Param: param, Message: fmt.Sprintf(format, args...)}
}
