package detect

import "unicode/utf8"

// emailDetector finds e-mail addresses (EMAIL_ADDRESS) from their "@": the
// local part is read backwards (at most 64 bytes, RFC 5321 §4.5.3.1.1), the
// domain forwards (at most 253 bytes). See ValidEmail for the syntax. Local
// parts may contain UTF-8 letters (RFC 6531), so "joão@example.com" is
// masked whole rather than from the "o".
type emailDetector struct{}

func (emailDetector) Name() string { return "email" }

func (emailDetector) Entities() []Entity { return []Entity{Email} }

func (emailDetector) Triggers() []Trigger {
	return []Trigger{{Bytes: "@", Boundary: AnyBoundary}}
}

const (
	scoreEmail    = 0.9
	maxLocalPart  = 64
	maxDomainName = 253
)

func (emailDetector) Detect(text string, at int, dst []Span) []Span {
	start := localPartStart(text, at)
	if start < 0 {
		return dst
	}
	n := hostLen(text[at+1 : min(len(text), at+1+maxDomainName+1)])
	if n == 0 {
		return dst
	}
	end := at + 1 + n
	if end < len(text) && (text[end] == '@' || isAlnum(text[end])) {
		return dst
	}
	return append(dst, Span{Email, start, end, scoreEmail})
}

// localPartStart returns the start of the dot-atom local part that ends at
// at (the "@"), or -1 if there is none.
func localPartStart(text string, at int) int {
	i := at
	for i > 0 && at-i <= maxLocalPart {
		c := text[i-1]
		if c < utf8.RuneSelf {
			if !isAtext(c) && c != '.' {
				break
			}
			if c == '.' {
				if i == at {
					return -1 // "john.@example.com"
				}
				if text[i] == '.' {
					break // ".." cannot be inside a local part
				}
			}
			i--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(text[:i])
		if r == utf8.RuneError || !isLetterRune(r) {
			break
		}
		i -= size
	}
	if at-i > maxLocalPart {
		return -1
	}
	for i < at && text[i] == '.' {
		i++ // a local part starts with a character, not a dot
	}
	if i == at || text[at-1] == '.' {
		return -1
	}
	return i
}
