package detect

// ipDetector finds IP addresses (IP_ADDRESS): dotted-quad IPv4 (RFC 791,
// octets 0-255 without leading zeros, as Python's ipaddress and Go's
// net/netip require) and IPv6 in every RFC 4291 §2.2 text form (full,
// "::"-compressed, with an embedded IPv4 tail), each with an optional
// prefix length and, for IPv6, an RFC 4007 zone ("%eth0").
type ipDetector struct{}

func (ipDetector) Name() string { return "ip" }

func (ipDetector) Entities() []Entity { return []Entity{IPAddress} }

func (ipDetector) Triggers() []Trigger {
	return []Trigger{
		{Bytes: hexBytes, Boundary: AfterNonWord, Lookahead: []string{hexBytes + ":.", hexBytes + ":."}},
		{Bytes: ":", Boundary: AfterNonWord, Lookahead: []string{":"}},
	}
}

const (
	scoreIP            = 0.6
	scoreIPUnspecified = 0.1 // "::" alone: more often C++ or a log separator
)

func (ipDetector) Detect(text string, at int, dst []Span) []Span {
	// Every address has a ":" or "." within its first five characters.
	j := at
	for j < len(text) && j-at < 5 && isHex(text[j]) {
		j++
	}
	if j == len(text) || (text[j] != ':' && text[j] != '.') {
		return dst
	}
	if at > 0 && text[at-1] == ':' {
		// Never the middle of an IPv6 address. An IPv4 address may follow a
		// colon ("::ffff:192.0.2.1" seen from inside, "ip:10.0.0.1").
		if end, ok := parseIPv4(text, at); ok && !alnumAt(text, end) {
			return append(dst, Span{IPAddress, at, withPrefix(text, end, 32), scoreIP})
		}
		return dst
	}
	// A first group followed by "." is read as IPv4 only: as an IPv6
	// address it would have one group before its IPv4 tail, never enough.
	if text[j] == ':' {
		if end, groups, ok := parseIPv6(text, at); ok {
			score := scoreIP
			if groups == 0 && end == at+2 {
				score = scoreIPUnspecified
			}
			return append(dst, Span{IPAddress, at, end, score})
		}
	}
	if !isDigit(text[at]) || (at >= 2 && text[at-1] == '.' && isDigit(text[at-2])) {
		return dst
	}
	if end, ok := parseIPv4(text, at); ok && !alnumAt(text, end) {
		return append(dst, Span{IPAddress, at, withPrefix(text, end, 32), scoreIP})
	}
	return dst
}

// parseIPv4 reads a dotted quad at i and returns its end.
func parseIPv4(text string, i int) (int, bool) {
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i >= len(text) || text[i] != '.' {
				return 0, false
			}
			i++
		}
		j := digitRun(text, i)
		n := j - i
		if n == 0 || n > 3 || (n > 1 && text[i] == '0') {
			return 0, false
		}
		v := 0
		for ; i < j; i++ {
			v = v*10 + int(text[i]-'0')
		}
		if v > 255 {
			return 0, false
		}
	}
	return i, true
}

// withPrefix extends an address ending at end with a "/n" prefix length
// when n is at most maxBits and nothing alphanumeric follows it; an invalid
// prefix is left out of the span, as Python's ipaddress does.
func withPrefix(text string, end, maxBits int) int {
	if end+1 >= len(text) || text[end] != '/' {
		return end
	}
	j := digitRun(text, end+1)
	n := j - end - 1
	if n == 0 || n > 3 || alnumAt(text, j) {
		return end
	}
	v := atoi(text[end+1 : j])
	if v > maxBits || (n > 1 && text[end+1] == '0') {
		return end
	}
	return j
}

const hexBytes = DigitBytes + "abcdefABCDEF"

func isHex(c byte) bool { return isDigit(c) || (c|0x20)-'a' < 6 }

// parseIPv6 reads an IPv6 address at i. groups is the number of 16-bit
// groups written (an IPv4 tail counts two).
func parseIPv6(text string, i int) (end, groups int, ok bool) {
	double := false
	if text[i] == ':' {
		if i+1 >= len(text) || text[i+1] != ':' {
			return 0, 0, false
		}
		double = true
		i += 2
	}
	for {
		j := i
		for j < len(text) && j-i < 5 && isHex(text[j]) {
			j++
		}
		if j == i {
			break // nothing after "::"
		}
		if j-i > 4 {
			return 0, 0, false
		}
		if j+1 < len(text) && text[j] == '.' && isDigit(text[j+1]) && digitRun(text, i) == j {
			e, ok := parseIPv4(text, i)
			if !ok {
				return 0, 0, false
			}
			groups += 2
			i = e
			break
		}
		groups++
		i = j
		if groups > 8 {
			return 0, 0, false
		}
		if i+1 < len(text) && text[i] == ':' && text[i+1] == ':' {
			if double {
				return 0, 0, false
			}
			double = true
			i += 2
			continue
		}
		if i+1 < len(text) && text[i] == ':' && isHex(text[i+1]) {
			i++
			continue
		}
		break
	}
	if (double && groups > 7) || (!double && groups != 8) {
		return 0, 0, false
	}
	// Zone identifier, RFC 4007 §11: "%" and an interface name.
	if i+1 < len(text) && text[i] == '%' && (isAlnum(text[i+1]) || text[i+1] == '_') {
		i++
		for i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
			i++
		}
	}
	i = withPrefix(text, i, 128)
	// The address must end here: not in a word, not before another group,
	// not before a dotted continuation ("::ffff:256.0.0.1").
	if i < len(text) {
		switch c := text[i]; {
		case isAlnum(c), c == ':':
			return 0, 0, false
		case c == '.' && alnumAt(text, i+1):
			return 0, 0, false
		}
	}
	return i, groups, true
}
