package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// nameCharsOK reports whether s is valid UTF-8 without control characters
// (Unicode Cc) and without the bidirectional embedding, override and
// isolate controls U+202A–U+202E and U+2066–U+2069 (Unicode TR #9 §2):
// those reorder how a name is displayed in the console, in logs and in
// webhook receivers ("cam\u202Egpj.exe" shows as "camexe.jpg").
func nameCharsOK(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, badNameRune) < 0
}

func badNameRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
