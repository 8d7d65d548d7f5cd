package detect

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// contextDetector finds secrets that have no checksum and no shape of their
// own, and are recognizable only by what the customer says before them:
// card security codes (CVV), card expiry dates (CARD_EXPIRY), PINs,
// passwords and one-time codes (OTP), in English, Portuguese and Spanish:
//
//	cvv 123 · código de segurança: 123 · my password is hunter2
//	minha senha é Abc@1234 · mi contraseña es "correcto caballo" · pin 4821
//	validade 12/27 · verification code 839 201 · código de verificación 839201
//
// An anchor phrase (see anchorPhrases) is followed by at most a few filler
// words and punctuation ("is", "é", "es", "do cartão", ":") and then the
// value, whose expected form depends on the anchor. The detector also
// recognizes the block people paste from a card, a card number followed by
// its expiry date and security code ("4111 1111 1111 1111 12/27 123"),
// without any anchor word: the card number is the context.
type contextDetector struct{}

func (contextDetector) Name() string { return "context" }

func (contextDetector) Entities() []Entity {
	return []Entity{CVV, CardExpiry, PIN, Password, OTP}
}

func (contextDetector) Triggers() []Trigger {
	return contextTriggers
}

// contextTriggers are one trigger per initial of an anchor phrase (both
// cases), whose lookahead holds the second and third letters anchors with
// that initial have, and one for the values that follow a card number. A
// letter typed with an accent arrives as 0xC3 and a continuation byte, so
// those are admitted too ("código": c, 0xC3, 0xB3, d...).
var contextTriggers = func() []Trigger {
	const accents = "\xC3\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8A\x8B\x8C\x8D\x8E\x8F" +
		"\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9A\x9B\x9C\x9D\x9E\x9F" +
		"\xA0\xA1\xA2\xA3\xA4\xA5\xA6\xA7\xA8\xA9\xAA\xAB\xAC\xAD\xAE\xAF" +
		"\xB0\xB1\xB2\xB3\xB4\xB5\xB6\xB7\xB8\xB9\xBA\xBB\xBC\xBD\xBE\xBF"
	second, third := map[byte]string{}, map[byte]string{}
	short := map[byte]bool{} // initials of a two-letter first word
	for p := range anchorPhrases {
		w, _, _ := strings.Cut(foldString(p), " ")
		c := w[0]
		second[c] += string(w[1]) + string(w[1]-'a'+'A') + "\xC3"
		if len(w) < 3 {
			short[c] = true
			continue
		}
		third[c] += string(w[2]) + string(w[2]-'a'+'A') + accents
	}
	var ts []Trigger
	for _, c := range slices.Sorted(maps.Keys(second)) {
		look := []string{second[c], third[c]}
		if short[c] {
			look = look[:1]
		}
		ts = append(ts, Trigger{Bytes: string(c) + string(c-'a'+'A'), Boundary: AfterNonWord, Lookahead: look})
	}
	const sep = " ,;|-/\t"
	return append(ts, Trigger{Bytes: DigitBytes, Boundary: AfterNonDigit,
		Lookbehind: []string{sep, DigitBytes + sep}, Lookahead: []string{DigitBytes + "/-."}})
}()

// Anchor kinds, the tags of anchorPhrases.
const (
	anchorCVV          uint32 = iota + 1
	anchorSecurityCode        // a CVV if 3-4 digits follow, an OTP if 5-8
	anchorExpiry
	anchorPIN
	anchorPassword
	anchorOTP
)

const (
	scoreAnchored      = 0.9  // anchor phrase and a value of the right form
	scorePasswordWord  = 0.6  // "my password is sunshine": a plain word
	scorePasswordNoCop = 0.75 // "senha Abc123" without "is"/":"
	scoreCardBlock     = 0.9  // expiry or CVV right after a card number
	minPasswordLen     = 4
	maxPasswordLen     = 128
	maxFillerBytes     = 48
)

// anchorPhrases are the phrases that announce a secret. Matching ignores
// case and accents, and accepts a hyphen or a full stop between words.
var anchorPhrases = map[string]uint32{
	// Card security code.
	"cvv": anchorCVV, "cvc": anchorCVV, "cvn": anchorCVV, "cid": anchorCVV, "csc": anchorCVV,
	"card verification value": anchorCVV, "card verification code": anchorCVV,
	"card security code": anchorCVV, "código cvv": anchorCVV, "código de segurança do cartão": anchorCVV,
	"código de seguridad de la tarjeta": anchorCVV,
	"security code":                     anchorSecurityCode, "código de segurança": anchorSecurityCode,
	"cód de segurança": anchorSecurityCode, "cod seg": anchorSecurityCode,
	"código de seguridad": anchorSecurityCode,

	// Card expiry date.
	"expiry": anchorExpiry, "expiry date": anchorExpiry, "expiration": anchorExpiry,
	"expiration date": anchorExpiry, "exp": anchorExpiry, "exp date": anchorExpiry,
	"expires": anchorExpiry, "expire": anchorExpiry, "valid thru": anchorExpiry,
	"valid through": anchorExpiry, "valid until": anchorExpiry, "good thru": anchorExpiry,
	"validade": anchorExpiry, "val": anchorExpiry, "vencimento": anchorExpiry, "venc": anchorExpiry,
	"vence": anchorExpiry, "expira": anchorExpiry, "expiração": anchorExpiry,
	"vencimiento": anchorExpiry, "fecha de vencimiento": anchorExpiry,
	"fecha de expiración": anchorExpiry, "caducidad": anchorExpiry, "fecha de caducidad": anchorExpiry,
	"caduca": anchorExpiry, "vto": anchorExpiry, "vigencia": anchorExpiry,

	// PIN.
	"pin": anchorPIN, "pin code": anchorPIN, "pin number": anchorPIN, "nip": anchorPIN,
	"código pin": anchorPIN, "senha do cartão": anchorPIN, "senha numérica": anchorPIN,
	"senha de 4 dígitos": anchorPIN, "senha de 6 dígitos": anchorPIN,
	"clave de la tarjeta": anchorPIN, "clave del cajero": anchorPIN, "pin de la tarjeta": anchorPIN,

	// Password.
	"password": anchorPassword, "passwd": anchorPassword, "pwd": anchorPassword,
	"pass": anchorPassword, "passphrase": anchorPassword, "passcode": anchorPassword,
	"senha": anchorPassword, "contraseña": anchorPassword, "clave": anchorPassword,
	"clave de acceso": anchorPassword, "palavra passe": anchorPassword,

	// One-time codes.
	"otp": anchorOTP, "one time password": anchorOTP, "one time code": anchorOTP,
	"one time pin": anchorOTP, "verification code": anchorOTP, "confirmation code": anchorOTP,
	"authentication code": anchorOTP, "auth code": anchorOTP, "login code": anchorOTP,
	"access code": anchorOTP, "sms code": anchorOTP, "mfa code": anchorOTP, "token": anchorOTP,
	"código de verificação": anchorOTP, "código de confirmação": anchorOTP,
	"código de acesso": anchorOTP, "código de autenticação": anchorOTP,
	"código de ativação": anchorOTP, "código sms": anchorOTP, "código por sms": anchorOTP,
	"código do sms": anchorOTP, "código de verificación": anchorOTP,
	"código de confirmación": anchorOTP, "código de acceso": anchorOTP,
	"código de autenticación": anchorOTP, "código de activación": anchorOTP,
	"clave dinámica": anchorOTP, "clave temporal": anchorOTP, "código de un solo uso": anchorOTP,
}

var anchors = newLexicon(anchorPhrases)

// fillers may sit between an anchor and its value. copula marks the words
// that say "is" ("is", "é", "es"), which a password needs in front of a
// plain word.
var fillers = func() *wordTable {
	m := make(map[string]bool)
	for _, w := range strings.Fields("is was are será sera seria é e eh era são sao es son fue") {
		m[foldString(w)] = true
	}
	for _, w := range strings.Fields(`my your the a an o os as el la los las mi mis tu su seu sua meu minha
		do da dos das de del of on for no nº num nr numero número number code código codigo cod
		card cartão tarjeta date data fecha current atual actual new nova novo nueva nuevo
		digits dígitos digitos back verso atrás tras detrás here aqui aquí`) {
		if _, ok := m[foldString(w)]; !ok {
			m[foldString(w)] = false
		}
	}
	return newWordTable(m)
}()

// passwordStopWords are words that follow "my password is" in ordinary
// complaints ("my password is wrong", "a senha é muito fraca") and are
// therefore not taken as the password.
var passwordStopWords = func() *wordTable {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`
		wrong incorrect invalid expired blocked locked not no too very same correct right weak
		strong short long case sensitive required needed missing forgotten lost reset changed
		different working accepted being still also just now ok okay fine good bad simple easy
		hard secret private safe secure there here that this what which it in on at for with
		and or but so because since all only empty blank saved stored sent asked requested
		supposed set mine yours been getting rejected failing broken unknown something
		errada errado incorreta incorreto inválida invalida inválido invalido expirada expirado
		vencida vencido bloqueada bloqueado nao não muito mesma mesmo igual certa certo correta
		correto fraca forte curta longa diferente nova outra antiga essa esse esta este aquela
		isso isto qual que pra para com sem por porque minha sua tua dele dela obrigatória
		obrigatoria necessária necessaria pedida solicitada cadastrada salva enviada aceita
		válida valida segura simples fácil facil difícil dificil sempre ainda já ja só tambem
		também agora um uma em na no foi está esta sendo
		incorrecta incorrecto equivocada caducada muy misma mismo correcta débil debil fuerte
		corta larga nueva otra antigua esa ese eso esto cual para con sin mi tu su obligatoria
		necesaria segura facil siempre todavía todavia ya solo sólo tambien también ahora el la
		un una del en y es está esta siendo`) {
		m[foldString(w)] = true
	}
	return newWordTable(m)
}()

func (contextDetector) Detect(text string, at int, dst []Span) []Span {
	if isDigit(text[at]) {
		return cardBlock(text, at, dst)
	}
	end, kind, ok := anchors.match(text, at)
	if !ok {
		return dst
	}
	if kind == anchorCVV && end < len(text) && text[end] == '2' && !digitAt(text, end+1) {
		end++ // "cvv2", "cvc2"
	}
	v, copula, sep := skipFiller(text, end)
	if v >= len(text) || (!sep && kind == anchorPassword) {
		return dst // "senha123" is a word, not "senha" and a password
	}
	switch kind {
	case anchorCVV:
		if e, ok := digitsValue(text, v, 3, 4); ok {
			return append(dst, Span{CVV, v, e, scoreAnchored})
		}
	case anchorSecurityCode:
		if e, ok := digitsValue(text, v, 3, 4); ok {
			return append(dst, Span{CVV, v, e, scoreAnchored})
		}
		if e, ok := otpValue(text, v); ok {
			return append(dst, Span{OTP, v, e, scoreAnchored})
		}
	case anchorExpiry:
		if e, ok := expiryValue(text, v, true); ok {
			return append(dst, Span{CardExpiry, v, e, scoreAnchored})
		}
	case anchorPIN:
		if e, ok := digitsValue(text, v, 4, 8); ok {
			return append(dst, Span{PIN, v, e, scoreAnchored})
		}
	case anchorOTP:
		if e, ok := otpValue(text, v); ok {
			return append(dst, Span{OTP, v, e, scoreAnchored})
		}
	case anchorPassword:
		if s, e, score, ok := passwordValue(text, v, copula); ok {
			return append(dst, Span{Password, s, e, score})
		}
	}
	return dst
}

// skipFiller skips what may separate an anchor from its value: spaces,
// ":", "=", "-", "#", dashes and filler words, at most maxFillerBytes in
// all. It returns the value's offset, whether a copula (a word meaning "is",
// or ":" or "=") was seen, and whether anything was skipped at all.
func skipFiller(text string, i int) (v int, copula, sep bool) {
	start := i
	var buf [maxFold]byte
	for i < len(text) && i-start <= maxFillerBytes {
		c := text[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == ':' || c == '=':
			copula = true
			i++
		case c == '-' || c == '#' || c == '(' || c == ',' || c == '>':
			i++
		case strings.HasPrefix(text[i:], "\u00A0"): // no-break space
			i += 2
		case strings.HasPrefix(text[i:], "\u2013"), strings.HasPrefix(text[i:], "\u2014"):
			i += 3 // en and em dashes
		case i > start && (isLetter(c) || c >= 0x80):
			n, end := foldWord(text, i, &buf)
			if cop, ok := fillers.lookup(buf[:n]); n > 0 && ok && !wordAt(text, end) {
				copula = copula || cop
				i = end
				continue
			}
			return i, copula, true
		default:
			return i, copula, i > start
		}
	}
	return i, copula, i > start
}

// valueEnd reports whether a numeric value may end at i: not followed by a
// letter or digit, nor by a separator and a digit (a longer number, a date,
// a decimal).
func valueEnd(text string, i int) bool {
	if wordAt(text, i) {
		return false
	}
	return !(i+1 < len(text) && strings.IndexByte("/.,:-", text[i]) >= 0 && isDigit(text[i+1]))
}

// digitsValue reads minD to maxD digits at i.
func digitsValue(text string, i, minD, maxD int) (int, bool) {
	j := digitRun(text, i)
	if n := j - i; n < minD || n > maxD || !valueEnd(text, j) {
		return 0, false
	}
	return j, true
}

// otpValue reads a one-time code: 4 to 8 digits, or two groups of three or
// four separated by one space or hyphen ("839 201").
func otpValue(text string, i int) (int, bool) {
	j := digitRun(text, i)
	n := j - i
	if (n == 3 || n == 4) && j+1 < len(text) && (text[j] == ' ' || text[j] == '-') {
		k := digitRun(text, j+1)
		if k-j-1 == n && valueEnd(text, k) {
			return k, true
		}
	}
	return digitsValue(text, i, 4, 8)
}

// expiryValue reads a card expiry date: a month 1-12 (one or two digits),
// "/", "-" or "." (optionally surrounded by single spaces), and a two- or
// four-digit year (20xx). With bare, "MMYY" is also accepted. A third group
// ("15/03/2024") makes it a full date, which is rejected.
func expiryValue(text string, i int, bare bool) (int, bool) {
	j := digitRun(text, i)
	n := j - i
	if bare && n == 4 && validMonth(text[i:i+2]) && validExpiryYear(text[i+2:j]) && valueEnd(text, j) {
		return j, true
	}
	if n < 1 || n > 2 || !validMonth(text[i:j]) {
		return 0, false
	}
	k := j
	if k < len(text) && text[k] == ' ' {
		k++
	}
	if k >= len(text) || (text[k] != '/' && text[k] != '-' && text[k] != '.') {
		return 0, false
	}
	k++
	if k < len(text) && text[k] == ' ' {
		k++
	}
	e := digitRun(text, k)
	switch e - k {
	case 2:
		if !validExpiryYear(text[k : k+2]) {
			return 0, false
		}
	case 4:
		if text[k] != '2' || text[k+1] != '0' || !validExpiryYear(text[k+2:k+4]) {
			return 0, false
		}
	default:
		return 0, false
	}
	if !valueEnd(text, e) {
		return 0, false
	}
	return e, true
}

// validExpiryYear reports whether the two-digit year yy (20yy) is one a
// card in use could carry: 2020 to 2049. Besides excluding nonsense it keeps
// day/month dates out, since a month is at most 12 ("vence 06/06").
func validExpiryYear(yy string) bool {
	return yy[0] >= '2' && yy[0] <= '4'
}

func validMonth(s string) bool {
	switch len(s) {
	case 1:
		return s[0] >= '1' && s[0] <= '9'
	case 2:
		return (s[0] == '0' && s[1] >= '1' && s[1] <= '9') || (s[0] == '1' && s[1] >= '0' && s[1] <= '2')
	}
	return false
}

// quotes pairs opening quotation marks with their closing ones.
var quotes = [...]struct{ open, close string }{
	{`"`, `"`}, {"'", "'"}, {"`", "`"},
	{"\u201C", "\u201D"}, {"\u2018", "\u2019"}, {"\u00AB", "\u00BB"},
}

// passwordValue reads the password at i: the text between quotation marks
// if it is quoted, otherwise everything up to the next white space (trailing
// punctuation included: masking a full stop costs nothing, leaking a
// password's last character would).
func passwordValue(text string, i int, copula bool) (start, end int, score float64, ok bool) {
	for _, q := range quotes {
		if !strings.HasPrefix(text[i:], q.open) {
			continue
		}
		s := i + len(q.open)
		lim := min(len(text), s+maxPasswordLen+len(q.close))
		if k := strings.Index(text[s:lim], q.close); k >= minPasswordLen &&
			!strings.ContainsAny(text[s:s+k], "\n\r") {
			return s, s + k, scoreAnchored, true
		}
		break
	}
	end = i
	for end < len(text) && end-i < maxPasswordLen && !isSpace(text[end]) {
		end++
	}
	for end > i && end < len(text) && !utf8.RuneStart(text[end]) {
		end-- // never cut a character
	}
	tok := text[i:end]
	if len(tok) < minPasswordLen && !(len(tok) > 0 && looksSecret(tok)) {
		return 0, 0, 0, false
	}
	if looksSecret(tok) {
		if len(tok) < minPasswordLen {
			return 0, 0, 0, false
		}
		if copula {
			return i, end, scoreAnchored, true
		}
		return i, end, scorePasswordNoCop, true
	}
	// A plain word: a password only after "is" or ":", and not a word
	// that ordinary complaints put there.
	if !copula {
		return 0, 0, 0, false
	}
	var buf [maxFold]byte
	word := strings.TrimRight(tok, ".,;!?)")
	n, wend := foldWord(word, 0, &buf)
	if stop, _ := passwordStopWords.lookup(buf[:n]); wend == len(word) && n > 0 && stop {
		return 0, 0, 0, false
	}
	return i, end, scorePasswordWord, true
}

// looksSecret reports whether a token has what a plain word lacks: a digit,
// a symbol, or upper case after its first letter.
func looksSecret(tok string) bool {
	trimmed := strings.TrimRight(tok, ".,;!?)")
	for k := 0; k < len(trimmed); k++ {
		c := trimmed[k]
		switch {
		case isDigit(c):
			return true
		case isUpper(c) && k > 0:
			return true
		case c < 0x80 && !isLetter(c):
			return true
		}
	}
	return false
}

// cardBlock recognizes an expiry date or a security code that directly
// follows a card number (or a card number and its expiry date), separated by
// one to three spaces or punctuation marks.
func cardBlock(text string, at int, dst []Span) []Span {
	return cardBlockRun(text, at, digitRun(text, at)-at, dst)
}

// cardBlockRun is cardBlock given n, the length of the digit run at at.
func cardBlockRun(text string, at, n int, dst []Span) []Span {
	// The value's shape first (cheap), then the card before it. The
	// length of the leading digit run tells which value it can be: a
	// month has one or two digits, a security code three or four.
	switch {
	case n <= 2:
		if e, ok := expiryValue(text, at, false); ok && afterCard(text, at, 1) {
			dst = append(dst, Span{CardExpiry, at, e, scoreCardBlock})
		}
	case n <= 4:
		// A security code ends the block: "… 3601 05" is a longer number.
		if e, ok := digitsValue(text, at, 3, 4); ok && !(e+1 < len(text) && isBlockSep(text[e]) && isDigit(text[e+1])) &&
			afterCard(text, at, 1) {
			dst = append(dst, Span{CVV, at, e, scoreCardBlock})
		}
	}
	return dst
}

func isBlockSep(c byte) bool {
	return c == ' ' || c == ',' || c == ';' || c == '|' || c == '-' || c == '/' || c == '\t'
}

// afterCard reports whether the value at offset at is preceded by one to
// three separator bytes and a valid card number, or (with depth > 0) by an
// expiry date or security code that is itself after a card number.
func afterCard(text string, at, depth int) bool {
	k := at
	for k > 0 && at-k < 3 && isBlockSep(text[k-1]) {
		k--
	}
	if k == at || k == 0 || !isDigit(text[k-1]) {
		return false
	}
	if cardEndsAt(text, k) {
		return true
	}
	if depth == 0 {
		return false
	}
	s := k
	for s > 0 && k-s < 8 && (isDigit(text[s-1]) || text[s-1] == '/') {
		s--
	}
	for s < k && !isDigit(text[s]) {
		s++
	}
	if s > 0 && isDigit(text[s-1]) {
		return false
	}
	if e, ok := expiryValue(text, s, false); ok && e == k {
		return afterCard(text, s, depth-1)
	}
	if e, ok := digitsValue(text, s, 3, 4); ok && e == k {
		return afterCard(text, s, depth-1)
	}
	return false
}

// cardEndsAt reports whether a valid card number, made of whole digit groups
// with one separator kind and starting a run of groups, ends exactly at k.
func cardEndsAt(text string, k int) bool {
	var buf [maxCardDigits]byte
	n := 0
	i := k
	var sep byte
	for {
		j := i
		for j > 0 && isDigit(text[j-1]) {
			j--
			if n+(i-j) > maxCardDigits {
				return false
			}
		}
		n += copy(buf[maxCardDigits-n-(i-j):], text[j:i])
		grouped := j >= 2 && isDigit(text[j-2]) && (text[j-1] == ' ' || text[j-1] == '-' || text[j-1] == '.')
		if n >= minCardDigits && !grouped {
			// The card must start its run of groups, as detectCard reads it.
			return validPAN(buf[maxCardDigits-n:])
		}
		if !grouped || (sep != 0 && text[j-1] != sep) {
			return false
		}
		sep = text[j-1]
		i = j - 1
	}
}
