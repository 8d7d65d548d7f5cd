package flow

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/detect"
)

// InputType is the type of a value a collect step asks for, and more
// generally the kind of a secret: it decides how input is validated and
// normalised and which masking filters may be applied to the value.
type InputType string

// Input types. Every collected value is a secret whatever its type.
const (
	InputCardNumber InputType = "card_number" // payment card number (PAN)
	InputCardExpiry InputType = "card_expiry" // card expiry, MM/YY
	InputCVV        InputType = "cvv"         // card security code
	InputCPF        InputType = "cpf"         // Brazilian individual taxpayer id
	InputCNPJ       InputType = "cnpj"        // Brazilian company id, numeric or alphanumeric
	InputIBAN       InputType = "iban"        // international bank account number
	InputSSN        InputType = "ssn"         // US Social Security number
	InputEmail      InputType = "email"       // e-mail address
	InputPhone      InputType = "phone"       // telephone number, E.164 digits
	InputDate       InputType = "date"        // calendar date
	InputDigits     InputType = "digits"      // exactly Length digits; written digits(n)
	InputPattern    InputType = "pattern"     // matches Pattern
	InputOTP        InputType = "otp"         // one-time code of Length digits (default 6)
	InputPassword   InputType = "password"    // password, MinLength..MaxLength
	InputText       InputType = "text"        // free secret text, up to MaxLength
	// InputSecret is a secret of no particular type: an action output the
	// catalog gives no type, or a value computed with set from a secret. It
	// cannot be collected.
	InputSecret InputType = "secret"
)

// maxInputBytes bounds any customer input before it is looked at.
const maxInputBytes = 1024

// inputInfo describes one input type.
type inputInfo struct {
	// filters are the masking filters that may be applied to the value.
	filters filterSet
	// linkOnWhatsApp: WhatsApp's Business Messaging Policy (or PCI DSS for
	// the card security code) forbids asking for it in chat or a Flow.
	linkOnWhatsApp bool
	// collectable is false for InputSecret.
	collectable bool
	// params lists the field keys the type accepts besides var, type and
	// label.
	params []string
	// label is the default form label, per built-in locale.
	label map[string]string
	// entity is the detect entity whose mask the type uses.
	entity detect.Entity
}

var inputTypes = map[InputType]*inputInfo{
	InputCardNumber: {
		filters:        filtersOf(FilterMask, FilterLast4, FilterFirst6Last4, FilterBrand, FilterLength, FilterToken),
		linkOnWhatsApp: true, collectable: true, entity: detect.CreditCard,
		label: map[string]string{"en": "Card number", "pt-BR": "Número do cartão", "es": "Número de tarjeta"},
	},
	InputCardExpiry: {
		filters: filtersOf(FilterMask, FilterToken), collectable: true, entity: detect.CardExpiry,
		label: map[string]string{"en": "Expiry date (MM/YY)", "pt-BR": "Validade (MM/AA)", "es": "Fecha de vencimiento (MM/AA)"},
	},
	InputCVV: {
		// Sensitive authentication data: no token (it must not outlive the
		// action that uses it) and nothing derived from it.
		filters: filtersOf(FilterMask), linkOnWhatsApp: true, collectable: true, entity: detect.CVV,
		label: map[string]string{"en": "Security code (CVV)", "pt-BR": "Código de segurança (CVV)", "es": "Código de seguridad (CVV)"},
	},
	InputCPF: {
		filters: filtersOf(FilterMask, FilterLast4, FilterToken), linkOnWhatsApp: true, collectable: true, entity: detect.CPF,
		label: map[string]string{"en": "CPF", "pt-BR": "CPF", "es": "CPF"},
	},
	InputCNPJ: {
		filters: filtersOf(FilterMask, FilterLast4, FilterToken), linkOnWhatsApp: true, collectable: true, entity: detect.CNPJ,
		label: map[string]string{"en": "CNPJ", "pt-BR": "CNPJ", "es": "CNPJ"},
	},
	InputIBAN: {
		filters: filtersOf(FilterMask, FilterLast4, FilterLength, FilterToken), linkOnWhatsApp: true, collectable: true, entity: detect.IBAN,
		label: map[string]string{"en": "IBAN", "pt-BR": "IBAN", "es": "IBAN"},
	},
	InputSSN: {
		filters: filtersOf(FilterMask, FilterLast4, FilterToken), linkOnWhatsApp: true, collectable: true, entity: detect.SSN,
		label: map[string]string{"en": "Social Security number", "pt-BR": "Número do Seguro Social (SSN)", "es": "Número de Seguro Social (SSN)"},
	},
	InputEmail: {
		filters: filtersOf(FilterMask, FilterToken), collectable: true, entity: detect.Email,
		label: map[string]string{"en": "Email", "pt-BR": "E-mail", "es": "Correo electrónico"},
	},
	InputPhone: {
		filters: filtersOf(FilterMask, FilterLast4, FilterToken), collectable: true, entity: detect.Phone,
		label: map[string]string{"en": "Phone number", "pt-BR": "Telefone", "es": "Teléfono"},
	},
	InputDate: {
		filters: filtersOf(FilterMask, FilterToken), collectable: true, entity: "DATE",
		label: map[string]string{"en": "Date", "pt-BR": "Data", "es": "Fecha"},
	},
	InputDigits: {
		filters: filtersOf(FilterMask, FilterLast4, FilterLength, FilterToken), collectable: true, entity: "CODE",
		params: []string{"length"},
		label:  map[string]string{"en": "Code", "pt-BR": "Código", "es": "Código"},
	},
	InputPattern: {
		filters: filtersOf(FilterMask, FilterLength, FilterToken), collectable: true, entity: "VALUE",
		params: []string{"pattern", "max_length"},
		label:  map[string]string{"en": "Value", "pt-BR": "Valor", "es": "Valor"},
	},
	InputOTP: {
		filters: filtersOf(FilterMask), collectable: true, entity: detect.OTP,
		params: []string{"length"},
		label:  map[string]string{"en": "One-time code", "pt-BR": "Código de verificação", "es": "Código de verificación"},
	},
	InputPassword: {
		filters: filtersOf(FilterMask), collectable: true, entity: detect.Password,
		params: []string{"min_length", "max_length"},
		label:  map[string]string{"en": "Password", "pt-BR": "Senha", "es": "Contraseña"},
	},
	InputText: {
		filters: filtersOf(FilterMask, FilterLength, FilterToken), collectable: true, entity: "TEXT",
		params: []string{"max_length"},
		label:  map[string]string{"en": "Answer", "pt-BR": "Resposta", "es": "Respuesta"},
	},
	InputSecret: {
		filters: filtersOf(FilterMask, FilterLength, FilterToken), entity: "SECRET",
	},
}

// Label returns the built-in label of a field of type t in locale (en,
// pt-BR or es), the one a parsed field without a label of its own gets;
// "" when the type has none or the locale is not built in. Forms (secure
// links, WhatsApp Flows) use it for fields described without a flow.
func (t InputType) Label(locale string) string {
	if info, ok := inputTypes[t]; ok {
		return info.label[locale]
	}
	return ""
}

// VaultKind names the kind a value of type t is kept under in the vault
// ("card", "cvv", "cpf", ...: the names of vault.Kind, on which reveal
// policies and token formats depend); "secret" for types with no kind of
// their own.
func (t InputType) VaultKind() string {
	switch t {
	case InputCardNumber:
		return "card"
	case InputCVV:
		return "cvv"
	case InputCardExpiry:
		return "expiry"
	case InputCPF:
		return "cpf"
	case InputCNPJ:
		return "cnpj"
	case InputIBAN:
		return "iban"
	case InputSSN:
		return "ssn"
	case InputEmail:
		return "email"
	case InputPhone:
		return "phone"
	case InputPassword:
		return "password"
	case InputOTP, InputDigits:
		return "pin"
	default:
		return "secret"
	}
}

// Valid reports whether t is a known input type.
func (t InputType) Valid() bool { _, ok := inputTypes[t]; return ok }

// Allows reports whether filter f may be applied to a secret of type t.
// Every filter is allowed on public values.
func (t InputType) Allows(f Filter) bool {
	info, ok := inputTypes[t]
	return ok && info.filters.has(f)
}

// Filters returns the masking filters allowed on a secret of type t.
func (t InputType) Filters() []Filter {
	info, ok := inputTypes[t]
	if !ok {
		return nil
	}
	return info.filters.list()
}

// LinkOnWhatsApp reports whether, on WhatsApp, values of type t may only be
// captured by secure link: WhatsApp's Business Messaging Policy forbids
// asking in chat for full card numbers, bank account numbers and national
// identity numbers, and a card security code is sensitive authentication
// data that PCI DSS keeps out of messaging.
func (t InputType) LinkOnWhatsApp() bool {
	info, ok := inputTypes[t]
	return ok && info.linkOnWhatsApp
}

// Defaults for field parameters.
const (
	defaultOTPLength         = 6
	defaultPasswordMinLength = 8
	defaultPasswordMaxLength = 128
	defaultTextMaxLength     = 256
)

// InputError is the error of [Field.Validate]. It wraps [ErrInvalidInput]
// and says why the input was refused; it never holds the input.
type InputError struct {
	Var    string
	Type   InputType
	Reason string
}

// Error implements error.
func (e *InputError) Error() string {
	return "flow: invalid input for " + e.Var + " (" + string(e.Type) + "): " + e.Reason
}

// Unwrap returns [ErrInvalidInput].
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// Validate checks raw, one value the customer gave for f, and returns its
// normal form: digits only for card numbers, CPF, SSN and the like; upper
// case without separators for CNPJ and IBAN; MM/YY for card expiry; ISO
// 8601 (YYYY-MM-DD) for dates. now decides whether a card has expired. The
// error, an [*InputError], never contains raw. Secure-link forms and chat
// share this one definition of valid input.
func (f *Field) Validate(raw string, now time.Time) (string, error) {
	bad := func(reason string) (string, error) {
		return "", &InputError{Var: f.Var, Type: f.Type, Reason: reason}
	}
	if len(raw) > maxInputBytes {
		return bad("too long")
	}
	if !utf8.ValidString(raw) {
		return bad("not valid UTF-8")
	}
	s := strings.TrimSpace(raw)
	switch f.Type {
	case InputCardNumber:
		if !detect.ValidCard(s) {
			return bad("not a valid card number")
		}
		return detect.Digits(s), nil
	case InputCardExpiry:
		v, ok := cardExpiry(s, now)
		if !ok {
			return bad("not a valid, unexpired MM/YY date")
		}
		return v, nil
	case InputCVV:
		if (len(s) != 3 && len(s) != 4) || !allDigits(s) {
			return bad("not 3 or 4 digits")
		}
		return s, nil
	case InputCPF:
		if !detect.ValidCPF(s) {
			return bad("not a valid CPF")
		}
		return detect.Digits(s), nil
	case InputCNPJ:
		s = strings.ToUpper(s)
		if !detect.ValidCNPJ(s) {
			return bad("not a valid CNPJ")
		}
		return strings.NewReplacer(".", "", "/", "", "-", "").Replace(s), nil
	case InputIBAN:
		s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
		if !detect.ValidIBAN(s) {
			return bad("not a valid IBAN")
		}
		return s, nil
	case InputSSN:
		if !detect.ValidSSN(s) {
			return bad("not a valid Social Security number")
		}
		return detect.Digits(s), nil
	case InputEmail:
		at := strings.LastIndexByte(s, '@')
		// The domain check guards against detect.ValidEmail accepting an
		// empty host ("joao@").
		if !detect.ValidEmail(s) || at < 0 || at == len(s)-1 {
			return bad("not a valid e-mail address")
		}
		return s[:at+1] + strings.ToLower(s[at+1:]), nil
	case InputPhone:
		v, ok := phone(s)
		if !ok {
			return bad("not a valid phone number")
		}
		return v, nil
	case InputDate:
		v, ok := date(s)
		if !ok {
			return bad("not a valid date (YYYY-MM-DD or DD/MM/YYYY)")
		}
		return v, nil
	case InputDigits, InputOTP:
		s = strings.Join(strings.Fields(s), "")
		n := f.Length
		if n == 0 && f.Type == InputOTP {
			n = defaultOTPLength
		}
		if len(s) != n || !allDigits(s) {
			return bad("not " + strconv.Itoa(n) + " digits")
		}
		return s, nil
	case InputPattern:
		if f.MaxLength > 0 && utf8.RuneCountInString(s) > f.MaxLength {
			return bad("too long")
		}
		if f.Pattern == nil || !f.Pattern.MatchString(s) {
			return bad("does not match the expected format")
		}
		return s, nil
	case InputPassword:
		// A password is taken as typed: surrounding spaces may be part of it.
		minLen, maxLen := f.MinLength, f.MaxLength
		if minLen == 0 {
			minLen = defaultPasswordMinLength
		}
		if maxLen == 0 {
			maxLen = defaultPasswordMaxLength
		}
		n := utf8.RuneCountInString(raw)
		if n < minLen {
			return bad("shorter than " + strconv.Itoa(minLen) + " characters")
		}
		if n > maxLen {
			return bad("longer than " + strconv.Itoa(maxLen) + " characters")
		}
		if strings.ContainsFunc(raw, isControl) {
			return bad("contains control characters")
		}
		return raw, nil
	case InputText:
		maxLen := f.MaxLength
		if maxLen == 0 {
			maxLen = defaultTextMaxLength
		}
		if s == "" {
			return bad("empty")
		}
		if utf8.RuneCountInString(s) > maxLen {
			return bad("longer than " + strconv.Itoa(maxLen) + " characters")
		}
		return s, nil
	}
	return bad(fmt.Sprintf("input type %q cannot be collected", f.Type))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// cardExpiry parses M/YY, MM/YY, MM/YYYY (with '/', '-' or nothing between,
// spaces ignored) and reports whether the card is still valid at now (a card
// is valid through the last day of its expiry month) and expires within 20
// years. The normal form is MM/YY.
func cardExpiry(s string, now time.Time) (string, bool) {
	s = strings.Join(strings.Fields(s), "")
	var mm, yy string
	if i := strings.IndexAny(s, "/-"); i >= 0 {
		mm, yy = s[:i], s[i+1:]
	} else if len(s) == 4 || len(s) == 6 {
		mm, yy = s[:2], s[2:]
	} else {
		return "", false
	}
	if len(mm) < 1 || len(mm) > 2 || !allDigits(mm) || (len(yy) != 2 && len(yy) != 4) || !allDigits(yy) {
		return "", false
	}
	m, _ := strconv.Atoi(mm)
	y, _ := strconv.Atoi(yy)
	if m < 1 || m > 12 {
		return "", false
	}
	if len(yy) == 2 {
		y += now.Year() / 100 * 100
		if y < now.Year()-50 {
			y += 100
		}
	}
	// The first instant after the expiry month everywhere on Earth: midnight
	// at UTC-12 on the first day of the next month.
	end := time.Date(y, time.Month(m)+1, 1, 12, 0, 0, 0, time.UTC)
	if !now.Before(end) || y > now.Year()+20 {
		return "", false
	}
	return fmt.Sprintf("%02d/%02d", m, y%100), true
}

// phone accepts 8 to 15 digits (E.164 allows at most 15), an optional
// leading '+', and spaces, dots, dashes and parentheses between digits.
func phone(s string) (string, bool) {
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '.' || c == '-' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	d := b.String()
	if len(d) < 8 || len(d) > 15 {
		return "", false
	}
	if plus {
		return "+" + d, true
	}
	return d, true
}

// date accepts YYYY-MM-DD and DD/MM/YYYY (also with '-' or '.'), years 1900
// to 2199, and returns YYYY-MM-DD.
func date(s string) (string, bool) {
	for _, layout := range [...]string{"2006-01-02", "02/01/2006", "02-01-2006", "02.01.2006", "2/1/2006"} {
		t, err := time.Parse(layout, s)
		if err == nil && t.Year() >= 1900 && t.Year() < 2200 {
			return t.Format("2006-01-02"), true
		}
	}
	return "", false
}
