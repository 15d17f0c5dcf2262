package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Limits on a `filter` expression. The input length bounds the work of the
// JSON decoder; depth and node count bound the compiled predicate.
const (
	MaxFilterBytes = 16 << 10
	MaxFilterDepth = 32
	MaxFilterNodes = 4096
	// MaxFilterOperations bounds the work per user: every operation but
	// the values of an `in` list runs for each candidate.
	MaxFilterOperations = 128
	// maxArgsShown keeps error messages short when the arguments are long.
	maxArgsShown = 200
)

// Filter is a compiled JSON Logic expression (docs/users-api.md section 5.1): a tree of
// typed predicates over a user, built once per request.
type Filter struct {
	match func(*userRec) bool
	// ids bounds the ids the expression can match, so that the id index
	// can narrow the candidates before the predicate runs.
	ids idRange
	// active is what the expression requires of is_active, so that the
	// index's active and inactive sets narrow the candidates too.
	active activity
	// exact is true when ids and active say all the expression does: then
	// the indexes answer it and match never runs.
	exact bool
}

// activity is a condition on is_active.
type activity uint8

const (
	anyActivity activity = iota
	onlyActive
	onlyInactive
	noActivity // both: nothing matches
)

func (a activity) and(b activity) activity {
	switch {
	case a == anyActivity:
		return b
	case b == anyActivity || a == b:
		return a
	}
	return noActivity
}

func activityOf(b bool) activity {
	if b {
		return onlyActive
	}
	return onlyInactive
}

// idRange is an inclusive range of ids; bounded false means any id.
type idRange struct {
	bounded bool
	lo, hi  int64
}

func anyID() idRange { return idRange{} }

func (a idRange) and(b idRange) idRange {
	switch {
	case !a.bounded:
		return b
	case !b.bounded:
		return a
	}
	return idRange{true, max(a.lo, b.lo), min(a.hi, b.hi)}
}

func (a idRange) or(b idRange) idRange {
	if !a.bounded || !b.bounded {
		return anyID()
	}
	if a.lo > a.hi { // empty
		return b
	}
	if b.lo > b.hi {
		return a
	}
	return idRange{true, min(a.lo, b.lo), max(a.hi, b.hi)}
}

// matchUser reports whether u satisfies the filter.
func (f *Filter) matchUser(u User) bool { return f.match(&userRec{User: u}) }

// CompileFilter compiles the value of the `filter` parameter. Errors are
// *Error with status 400 and the messages of docs/users-api.md section 5.1.
func CompileFilter(expr string) (*Filter, error) {
	if len(expr) > MaxFilterBytes {
		return nil, badRequest("filter", "filter: expression is longer than %d bytes", MaxFilterBytes)
	}
	dec := json.NewDecoder(strings.NewReader(expr))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("filter", "filter: can't parse filter expression: %s", parseErrText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("filter", "filter: can't parse filter expression: unexpected data after the expression")
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return nil, badRequest("filter", "filter shouldn't be empty")
		}
	case []any:
		if len(t) == 0 {
			return nil, badRequest("filter", "filter shouldn't be empty")
		}
		return nil, badRequest("filter", "filter: can't parse filter expression: expected a JSON Logic object, got %s", show(v))
	default:
		return nil, badRequest("filter", "filter: can't parse filter expression: expected a JSON Logic object, got %s", show(v))
	}
	c := compiler{}
	n, err := c.expr(v, 1)
	if err != nil {
		return nil, err
	}
	return &Filter{match: n.match, ids: n.ids, active: n.active, exact: n.exact}, nil
}

func parseErrText(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON input"
	}
	return err.Error()
}

// show renders a decoded JSON value for an error message.
func show(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if len(s) > maxArgsShown {
		cut := maxArgsShown
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

type compiled struct {
	match func(*userRec) bool
	ids   idRange
	// active and exact are those of Filter, for this node.
	active activity
	exact  bool
}

type compiler struct{ nodes, ops int }

func opError(op string, args any) error {
	return badRequest("filter", "filter: operation '%s' with arguments '%s' is not supported", op, show(args))
}

func termError(name string) error {
	return badRequest("filter", "filter: term '%s' is not supported", name)
}

func (c *compiler) count(depth int) error {
	c.nodes++
	if c.nodes > MaxFilterNodes {
		return badRequest("filter", "filter: expression has more than %d nodes", MaxFilterNodes)
	}
	if depth > MaxFilterDepth {
		return badRequest("filter", "filter: expression is nested deeper than %d levels", MaxFilterDepth)
	}
	return nil
}

// expr compiles a value that must be an operation: an object with one key.
// When it is not, the caller reports its own operation as unsupported.
func (c *compiler) expr(v any, depth int) (compiled, error) {
	if err := c.count(depth); err != nil {
		return compiled{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return compiled{}, errNotOperation
	}
	if len(m) != 1 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return compiled{}, opError(strings.Join(keys, ","), v)
	}
	for op, args := range m {
		n, err := c.op(op, args, depth)
		if err == errNotOperation {
			return compiled{}, opError(op, args)
		}
		return n, err
	}
	panic("unreachable")
}

// errNotOperation is turned into an error naming the enclosing operation.
var errNotOperation = errors.New("not an operation")

func (c *compiler) op(op string, args any, depth int) (compiled, error) {
	c.ops++
	if c.ops > MaxFilterOperations {
		return compiled{}, badRequest("filter", "filter: expression has more than %d operations", MaxFilterOperations)
	}
	switch op {
	case "and", "or":
		list, ok := args.([]any)
		if !ok || len(list) == 0 {
			return compiled{}, opError(op, args)
		}
		kids := make([]compiled, len(list))
		for i, a := range list {
			k, err := c.expr(a, depth+1)
			if err != nil {
				return compiled{}, err
			}
			kids[i] = k
		}
		return combine(op, kids), nil
	case "!", "!!":
		arg := args
		if list, ok := args.([]any); ok {
			if len(list) != 1 {
				return compiled{}, opError(op, args)
			}
			arg = list[0]
		}
		k, err := c.expr(arg, depth+1)
		if err != nil {
			return compiled{}, err
		}
		if op == "!!" {
			return k, nil
		}
		m := k.match
		return compiled{match: func(r *userRec) bool { return !m(r) }, ids: anyID()}, nil
	case "var":
		f, err := c.variable(args, depth+1)
		if err != nil {
			return compiled{}, err
		}
		return truthy(f), nil
	case "==", "!=", "<", "<=", ">", ">=":
		return c.compare(op, args, depth)
	case "in":
		return c.in(args, depth)
	}
	return compiled{}, opError(op, args)
}

func combine(op string, kids []compiled) compiled {
	ids := kids[0].ids
	active, exact := kids[0].active, kids[0].exact
	for _, k := range kids[1:] {
		if op == "and" {
			ids = ids.and(k.ids)
			active = active.and(k.active)
			exact = exact && k.exact
		} else {
			ids = ids.or(k.ids)
		}
	}
	if len(kids) == 1 {
		return kids[0]
	}
	ms := make([]func(*userRec) bool, len(kids))
	for i, k := range kids {
		ms[i] = k.match
	}
	if op == "and" {
		return compiled{ids: ids, active: active, exact: exact, match: func(r *userRec) bool {
			for _, m := range ms {
				if !m(r) {
					return false
				}
			}
			return true
		}}
	}
	return compiled{ids: ids, match: func(r *userRec) bool {
		for _, m := range ms {
			if m(r) {
				return true
			}
		}
		return false
	}}
}

// truthy is JSON Logic truthiness of a field: non-empty, non-zero, true.
func truthy(f field) compiled {
	switch f {
	case fieldID:
		return compiled{match: func(r *userRec) bool { return r.ID != 0 }}
	case fieldIsActive:
		return compiled{match: func(r *userRec) bool { return r.IsActive }, active: onlyActive, exact: true}
	}
	return compiled{match: func(r *userRec) bool { return f.str(r) != "" }}
}

// variable resolves {"var": "name"} or {"var": ["name"]}, given the value of
// the "var" key.
func (c *compiler) variable(args any, depth int) (field, error) {
	if err := c.count(depth); err != nil {
		return 0, err
	}
	name, ok := args.(string)
	if list, isList := args.([]any); isList && len(list) == 1 {
		name, ok = list[0].(string)
	}
	if !ok {
		return 0, opError("var", args)
	}
	f, known := fieldByName(name)
	if !known {
		return 0, termError(name)
	}
	return f, nil
}

// asVar returns the field when v is a {"var": …} object.
func (c *compiler) asVar(v any, depth int) (field, bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return 0, false, nil
	}
	args, ok := m["var"]
	if !ok {
		return 0, false, nil
	}
	if err := c.count(depth); err != nil {
		return 0, false, err
	}
	f, err := c.variable(args, depth+1)
	return f, err == nil, err
}

// value is a literal of a field's type.
type value struct {
	s string
	i int64
	b bool
}

// literal checks that v is a literal of field f's type.
func (c *compiler) literal(f field, v any, depth int) (value, bool, error) {
	if err := c.count(depth); err != nil {
		return value{}, false, err
	}
	switch f {
	case fieldID:
		n, ok := v.(json.Number)
		if !ok {
			return value{}, false, nil
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		return value{i: i}, err == nil, nil
	case fieldIsActive:
		b, ok := v.(bool)
		return value{b: b}, ok, nil
	}
	s, ok := v.(string)
	return value{s: s}, ok, nil
}

var flipped = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (c *compiler) compare(op string, args any, depth int) (compiled, error) {
	list, ok := args.([]any)
	if !ok || len(list) < 2 || len(list) > 3 {
		return compiled{}, opError(op, args)
	}
	written := op
	if len(list) == 3 {
		if op != "<" && op != "<=" {
			return compiled{}, opError(op, args)
		}
		f, isVar, err := c.asVar(list[1], depth+1)
		if err != nil || !isVar || f == fieldIsActive {
			return compiled{}, orOpError(err, op, args)
		}
		lo, ok1, err := c.literal(f, list[0], depth+1)
		if err != nil {
			return compiled{}, err
		}
		hi, ok2, err := c.literal(f, list[2], depth+1)
		if err != nil {
			return compiled{}, err
		}
		if !ok1 || !ok2 {
			return compiled{}, opError(op, args)
		}
		a, b := cmpPred(f, flipped[op], lo), cmpPred(f, op, hi)
		return compiled{
			match: func(r *userRec) bool { return a.match(r) && b.match(r) },
			ids:   a.ids.and(b.ids),
			exact: a.exact && b.exact,
		}, nil
	}
	f, isVar, err := c.asVar(list[0], depth+1)
	if err != nil {
		return compiled{}, err
	}
	lit := list[1]
	if !isVar {
		f, isVar, err = c.asVar(list[1], depth+1)
		if err != nil {
			return compiled{}, err
		}
		if !isVar {
			return compiled{}, opError(op, args)
		}
		lit = list[0]
		op = flipped[op]
	}
	val, ok, err := c.literal(f, lit, depth+1)
	if err != nil {
		return compiled{}, err
	}
	if !ok || (f == fieldIsActive && op != "==" && op != "!=") {
		return compiled{}, opError(written, args)
	}
	return cmpPred(f, op, val), nil
}

func orOpError(err error, op string, args any) error {
	if err != nil {
		return err
	}
	return opError(op, args)
}

// cmpPred is "field op value" with the value of the field's type.
func cmpPred(f field, op string, v value) compiled {
	switch f {
	case fieldID:
		x := v.i
		ids := idRange{bounded: true, lo: math.MinInt64, hi: math.MaxInt64}
		var m func(*userRec) bool
		switch op {
		case "==":
			ids.lo, ids.hi = x, x
			m = func(r *userRec) bool { return r.ID == x }
		case "!=":
			ids = anyID()
			m = func(r *userRec) bool { return r.ID != x }
		case "<":
			ids.hi = x - 1
			if x == math.MinInt64 {
				ids.lo, ids.hi = 1, 0 // empty
			}
			m = func(r *userRec) bool { return r.ID < x }
		case "<=":
			ids.hi = x
			m = func(r *userRec) bool { return r.ID <= x }
		case ">":
			ids.lo = x + 1
			if x == math.MaxInt64 {
				ids.lo, ids.hi = 1, 0
			}
			m = func(r *userRec) bool { return r.ID > x }
		default: // ">="
			ids.lo = x
			m = func(r *userRec) bool { return r.ID >= x }
		}
		return compiled{match: m, ids: ids, exact: op != "!="}
	case fieldIsActive:
		b := v.b
		if op == "==" {
			return compiled{match: func(r *userRec) bool { return r.IsActive == b }, active: activityOf(b), exact: true}
		}
		return compiled{match: func(r *userRec) bool { return r.IsActive != b }, active: activityOf(!b), exact: true}
	}
	s := v.s
	switch op {
	case "==":
		return compiled{match: func(r *userRec) bool { return f.str(r) == s }}
	case "!=":
		return compiled{match: func(r *userRec) bool { return f.str(r) != s }}
	case "<":
		return compiled{match: func(r *userRec) bool { return f.str(r) < s }}
	case "<=":
		return compiled{match: func(r *userRec) bool { return f.str(r) <= s }}
	case ">":
		return compiled{match: func(r *userRec) bool { return f.str(r) > s }}
	}
	return compiled{match: func(r *userRec) bool { return f.str(r) >= s }}
}

func (c *compiler) in(args any, depth int) (compiled, error) {
	list, ok := args.([]any)
	if !ok || len(list) != 2 {
		return compiled{}, opError("in", args)
	}
	// {"in": [{"var": f}, [v1, v2, …]]}: f is one of the values.
	if f, isVar, err := c.asVar(list[0], depth+1); err != nil {
		return compiled{}, err
	} else if isVar {
		vals, ok := list[1].([]any)
		if !ok {
			return compiled{}, opError("in", args)
		}
		if err := c.count(depth + 1); err != nil {
			return compiled{}, err
		}
		set := make([]value, 0, len(vals))
		for _, v := range vals {
			val, ok, err := c.literal(f, v, depth+2)
			if err != nil {
				return compiled{}, err
			}
			if !ok {
				return compiled{}, opError("in", args)
			}
			set = append(set, val)
		}
		return inList(f, set), nil
	}
	// {"in": ["ali", {"var": f}]}: f contains "ali" (case-sensitive).
	f, isVar, err := c.asVar(list[1], depth+1)
	if err != nil {
		return compiled{}, err
	}
	if !isVar || f == fieldID || f == fieldIsActive {
		return compiled{}, opError("in", args)
	}
	sub, ok, err := c.literal(f, list[0], depth+1)
	if err != nil {
		return compiled{}, err
	}
	if !ok {
		return compiled{}, opError("in", args)
	}
	return compiled{match: func(r *userRec) bool { return strings.Contains(f.str(r), sub.s) }}, nil
}

func inList(f field, set []value) compiled {
	switch f {
	case fieldID:
		ids := make(map[int64]struct{}, len(set))
		r := idRange{bounded: true, lo: 1, hi: 0}
		for _, v := range set {
			ids[v.i] = struct{}{}
			r = r.or(idRange{true, v.i, v.i})
		}
		return compiled{ids: r, match: func(u *userRec) bool { _, ok := ids[u.ID]; return ok }}
	case fieldIsActive:
		var t, fl bool
		for _, v := range set {
			t, fl = t || v.b, fl || !v.b
		}
		return compiled{match: func(u *userRec) bool { return (u.IsActive && t) || (!u.IsActive && fl) }}
	}
	strs := make(map[string]struct{}, len(set))
	for _, v := range set {
		strs[v.s] = struct{}{}
	}
	return compiled{match: func(u *userRec) bool { _, ok := strs[f.str(u)]; return ok }}
}
