package query

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldRune maps the case variants of a rune to one rune, so that search
// compares "ΣΊΣΥΦΟΣ" and "σίσυφος", or "K" (Kelvin sign) and "k", as equal.
// It keeps one rune per rune, which keeps trigrams of the folded strings
// aligned with the folded search terms.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// fold is the case-insensitive form search compares. Invalid UTF-8 becomes
// U+FFFD on both sides.
func fold(s string) string { return strings.Map(foldRune, s) }

// gram is three folded runes packed into one word.
type gram uint64

func mkGram(a, b, c rune) gram { return gram(a)<<42 | gram(b)<<21 | gram(c) }

// appendGrams appends the trigrams of a folded string.
func appendGrams(dst []gram, s string) []gram {
	var a, b rune
	n := 0
	for _, r := range s {
		if n >= 2 {
			dst = append(dst, mkGram(a, b, r))
		}
		a, b = b, r
		n++
	}
	return dst
}

// gramsOf returns the distinct trigrams of the folded fields, sorted.
func gramsOf(fields ...string) []gram {
	var g []gram
	for _, f := range fields {
		g = appendGrams(g, f)
	}
	slices.Sort(g)
	return slices.Compact(g)
}
