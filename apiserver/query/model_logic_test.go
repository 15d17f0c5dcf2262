package query

import (
	"encoding/json"
	"strings"
)

// The reference model's own JSON Logic and case folding, written apart from
// the engine's (filter.go, fold.go) so that the differential test can catch
// a bug in either: the model evaluates the expression's source afresh for
// every user, with no compilation, no id ranges and no trigrams.

// filterSource records the source of each filter the test compiled.
var filterSource = map[*Filter]string{}

// modelFold folds case with the standard library's whole-string mappings.
func modelFold(s string) string {
	return strings.ToLower(strings.ToUpper(strings.ToValidUTF8(s, "\uFFFD")))
}

// modelMatch evaluates the JSON Logic source expr for u.
func modelMatch(expr string, u User) bool {
	var v any
	dec := json.NewDecoder(strings.NewReader(expr))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		panic("the test generated an expression the model cannot read: " + expr)
	}
	return modelTruthy(modelEval(v, u))
}

func modelField(u User, name string) any {
	switch name {
	case "username":
		return u.Username
	case "first_name":
		return u.FirstName
	case "last_name":
		return u.LastName
	case "id":
		return float64(u.ID)
	case "is_active":
		return u.IsActive
	}
	panic("unknown variable " + name)
}

func modelEval(v any, u User) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case map[string]any:
		for op, raw := range t {
			args, ok := raw.([]any)
			if !ok {
				args = []any{raw}
			}
			if op == "var" {
				return modelField(u, args[0].(string))
			}
			vals := make([]any, len(args))
			for i, a := range args {
				if l, isList := a.([]any); isList && op == "in" {
					vals[i] = l
					continue
				}
				vals[i] = modelEval(a, u)
			}
			return modelApply(op, vals, u)
		}
	}
	return v
}

func modelApply(op string, v []any, u User) any {
	switch op {
	case "and":
		for _, x := range v {
			if !modelTruthy(x) {
				return false
			}
		}
		return true
	case "or":
		for _, x := range v {
			if modelTruthy(x) {
				return true
			}
		}
		return false
	case "!":
		return !modelTruthy(v[0])
	case "!!":
		return modelTruthy(v[0])
	case "==":
		return v[0] == v[1]
	case "!=":
		return v[0] != v[1]
	case "<", "<=", ">", ">=":
		less := func(a, b any) bool { return a.(float64) < b.(float64) }
		cmp := map[string]func(a, b any) bool{
			"<":  less,
			"<=": func(a, b any) bool { return !less(b, a) },
			">":  func(a, b any) bool { return less(b, a) },
			">=": func(a, b any) bool { return !less(a, b) },
		}[op]
		if len(v) == 3 {
			return cmp(v[0], v[1]) && cmp(v[1], v[2])
		}
		return cmp(v[0], v[1])
	case "in":
		if list, ok := v[1].([]any); ok {
			for _, x := range list {
				if modelEval(x, u) == v[0] {
					return true
				}
			}
			return false
		}
		return strings.Contains(v[1].(string), v[0].(string))
	}
	panic("the model does not know operator " + op)
}

func modelTruthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case float64:
		return t != 0
	case string:
		return t != ""
	}
	return v != nil
}
