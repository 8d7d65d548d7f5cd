package waflows

import (
	"strings"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
)

// Screen names. FormScreen is the one screen of the gateway's Flows: its
// Flow JSON must name its inputs after the step's field vars and declare
// the data keys of [FormData]. SuccessScreen is reserved by WhatsApp: an
// answer naming it closes the Flow (whatsapp.md §3.4, §3.5).
const (
	FormScreen    = "FORM"
	SuccessScreen = "SUCCESS"
)

// Data keys of the form screen (see FormData).
const (
	keyTitle  = "title"
	keyIntro  = "intro"
	keySubmit = "submit"
	// keyError is the optional snackbar text of a screen (whatsapp.md §3.5).
	keyError = "error_message"
)

// FormData returns the data the endpoint sends with the form screen for
// the fields, in locale, with the given per-field errors (may be nil) and
// snackbar text (may be ""): "title", "intro", "submit", and for each field
// var V the keys V+"_label" and V+"_error" (the error text, "" when
// valid). "error_message" is present only with a snackbar text. A Flow
// JSON written for those fields declares these keys in its screen data.
func FormData(fields []securelink.FieldSpec, locale string, errs []string, snackbar string) map[string]any {
	locale = normLocale(locale)
	d := map[string]any{
		keyTitle:  msg(locale, "title"),
		keyIntro:  msg(locale, "intro"),
		keySubmit: msg(locale, "submit"),
	}
	for i, f := range fields {
		d[f.Var+"_label"] = label(f, locale)
		e := ""
		if i < len(errs) {
			e = errs[i]
		}
		d[f.Var+"_error"] = e
	}
	if snackbar != "" {
		d[keyError] = snackbar
	}
	return d
}

// locales are the supported locales; the first is the fallback.
var locales = []string{"en", "pt-BR", "es"}

// normLocale maps a requested locale to a supported one: an exact match,
// else the same language (pt → pt-BR), else English.
func normLocale(l string) string {
	l = strings.TrimSpace(l)
	for _, s := range locales {
		if strings.EqualFold(l, s) {
			return s
		}
	}
	lang, _, _ := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-")
	for _, s := range locales {
		if base, _, _ := strings.Cut(s, "-"); strings.EqualFold(lang, base) {
			return s
		}
	}
	return locales[0]
}

var messages = map[string]map[string]string{
	"en": {
		"title":    "Secure form",
		"intro":    "What you type here goes straight to a secure vault: the agent you are chatting with will not see it.",
		"submit":   "Send securely",
		"fix":      "Please check the highlighted fields.",
		"retry":    "Something went wrong on our side. Please try again.",
		"expired":  "This form has expired or was already used. Ask for a new one in the chat.",
		"required": "This field is required.",
		"bad":      "This value is not valid. Please check it.",
		"value":    "Value",
	},
	"pt-BR": {
		"title":    "Formulário seguro",
		"intro":    "O que você digitar aqui vai direto para um cofre seguro: o atendente com quem você conversa não verá.",
		"submit":   "Enviar com segurança",
		"fix":      "Verifique os campos destacados.",
		"retry":    "Algo deu errado do nosso lado. Tente novamente.",
		"expired":  "Este formulário expirou ou já foi usado. Peça um novo na conversa.",
		"required": "Este campo é obrigatório.",
		"bad":      "Este valor não é válido. Confira, por favor.",
		"value":    "Valor",
	},
	"es": {
		"title":    "Formulario seguro",
		"intro":    "Lo que escribas aquí va directo a una bóveda segura: el agente con quien conversas no lo verá.",
		"submit":   "Enviar de forma segura",
		"fix":      "Revisa los campos marcados.",
		"retry":    "Algo salió mal de nuestro lado. Inténtalo de nuevo.",
		"expired":  "Este formulario expiró o ya fue usado. Pide uno nuevo en la conversación.",
		"required": "Este campo es obligatorio.",
		"bad":      "Este valor no es válido. Revísalo, por favor.",
		"value":    "Valor",
	},
}

// msg returns the text key in locale.
func msg(locale, key string) string {
	if s, ok := messages[locale][key]; ok {
		return s
	}
	return messages[locales[0]][key]
}

// label returns the field's label in locale: the field's own, else the
// built-in one of its type.
func label(f securelink.FieldSpec, locale string) string {
	if s, ok := f.Label[locale]; ok {
		return s
	}
	if s, ok := f.Label[""]; ok {
		return s
	}
	if l := f.Type.Label(locale); l != "" {
		return l
	}
	return msg(locale, "value")
}

// fieldErrors are per-type error texts; other types get "bad".
var fieldErrors = map[flow.InputType]map[string]string{
	flow.InputDate:  {"en": "Enter a valid date (DD/MM/YYYY).", "pt-BR": "Informe uma data válida (DD/MM/AAAA).", "es": "Ingresa una fecha válida (DD/MM/AAAA)."},
	flow.InputEmail: {"en": "Enter a valid email address.", "pt-BR": "Informe um e-mail válido.", "es": "Ingresa un correo electrónico válido."},
	flow.InputPhone: {"en": "Enter a valid phone number.", "pt-BR": "Informe um telefone válido.", "es": "Ingresa un teléfono válido."},
	flow.InputOTP:   {"en": "Enter the code you received.", "pt-BR": "Informe o código que você recebeu.", "es": "Ingresa el código que recibiste."},
}

// fieldError is the error text of an invalid field; it never quotes the
// value.
func fieldError(t flow.InputType, locale string, empty bool) string {
	if empty {
		return msg(locale, "required")
	}
	if m, ok := fieldErrors[t]; ok {
		return m[locale]
	}
	return msg(locale, "bad")
}
