package securelink

import (
	"net/http"
	"strings"

	"github.com/secureflow/secureflow/internal/flow"
)

// Locales the pages are written in; the first is the fallback.
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

// requestLocale picks a locale from Accept-Language, for pages shown
// before any link is known (unknown link, rate limit).
func requestLocale(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if tag == "" || tag == "*" {
			continue
		}
		if l := normLocale(tag); l != locales[0] || strings.HasPrefix(strings.ToLower(tag), "en") {
			return l
		}
	}
	return locales[0]
}

// messages holds the page texts per locale.
var messages = map[string]map[string]string{
	"en": {
		"title":        "Secure form",
		"intro":        "Enter your details below. They go straight to a secure vault: the agent you are chatting with will not see them.",
		"submit":       "Send securely",
		"fix":          "Please check the highlighted fields.",
		"retry":        "Something went wrong on our side. Please try again.",
		"received":     "Received ✓",
		"received_sub": "We received your details securely:",
		"return":       "You can return to WhatsApp now.",
		"gone_title":   "This link is no longer valid",
		"gone_body":    "It has expired or has already been used. Ask for a new link in the WhatsApp conversation.",
		"nf_title":     "Link not found",
		"nf_body":      "Check that you opened the whole link, or ask for a new one in the WhatsApp conversation.",
		"rate_title":   "Too many requests",
		"rate_body":    "Please wait a moment and try again.",
		"csrf_title":   "This form could not be verified",
		"csrf_body":    "Open the link again from the WhatsApp conversation and try once more.",
		"err_title":    "Something went wrong",
		"err_body":     "Please try again in a moment.",
		"ph_expiry":    "MM/YY",
		"ph_date":      "DD/MM/YYYY",
		"value":        "Value",
		"required":     "This field is required.",
		"bad":          "This value is not valid. Please check it.",
		"secure_note":  "Secure connection · one-time link",
	},
	"pt-BR": {
		"title":        "Formulário seguro",
		"intro":        "Informe seus dados abaixo. Eles vão direto para um cofre seguro: o atendente com quem você conversa não os verá.",
		"submit":       "Enviar com segurança",
		"fix":          "Verifique os campos destacados.",
		"retry":        "Algo deu errado do nosso lado. Tente novamente.",
		"received":     "Recebido ✓",
		"received_sub": "Recebemos seus dados com segurança:",
		"return":       "Você já pode voltar ao WhatsApp.",
		"gone_title":   "Este link não é mais válido",
		"gone_body":    "Ele expirou ou já foi usado. Peça um novo link na conversa do WhatsApp.",
		"nf_title":     "Link não encontrado",
		"nf_body":      "Confira se você abriu o link completo ou peça um novo na conversa do WhatsApp.",
		"rate_title":   "Muitas tentativas",
		"rate_body":    "Aguarde um momento e tente novamente.",
		"csrf_title":   "Não foi possível verificar este formulário",
		"csrf_body":    "Abra o link novamente a partir da conversa do WhatsApp e tente outra vez.",
		"err_title":    "Algo deu errado",
		"err_body":     "Tente novamente em instantes.",
		"ph_expiry":    "MM/AA",
		"ph_date":      "DD/MM/AAAA",
		"value":        "Valor",
		"required":     "Este campo é obrigatório.",
		"bad":          "Este valor não é válido. Confira, por favor.",
		"secure_note":  "Conexão segura · link de uso único",
	},
	"es": {
		"title":        "Formulario seguro",
		"intro":        "Ingresa tus datos a continuación. Van directo a una bóveda segura: el agente con quien conversas no los verá.",
		"submit":       "Enviar de forma segura",
		"fix":          "Revisa los campos marcados.",
		"retry":        "Algo salió mal de nuestro lado. Inténtalo de nuevo.",
		"received":     "Recibido ✓",
		"received_sub": "Recibimos tus datos de forma segura:",
		"return":       "Ya puedes volver a WhatsApp.",
		"gone_title":   "Este enlace ya no es válido",
		"gone_body":    "Expiró o ya fue usado. Pide un nuevo enlace en la conversación de WhatsApp.",
		"nf_title":     "Enlace no encontrado",
		"nf_body":      "Comprueba que abriste el enlace completo o pide uno nuevo en la conversación de WhatsApp.",
		"rate_title":   "Demasiadas solicitudes",
		"rate_body":    "Espera un momento e inténtalo de nuevo.",
		"csrf_title":   "No se pudo verificar este formulario",
		"csrf_body":    "Abre el enlace de nuevo desde la conversación de WhatsApp e inténtalo otra vez.",
		"err_title":    "Algo salió mal",
		"err_body":     "Inténtalo de nuevo en un momento.",
		"ph_expiry":    "MM/AA",
		"ph_date":      "DD/MM/AAAA",
		"value":        "Valor",
		"required":     "Este campo es obligatorio.",
		"bad":          "Este valor no es válido. Revísalo, por favor.",
		"secure_note":  "Conexión segura · enlace de un solo uso",
	},
}

// msg returns the text key in locale.
func msg(locale, key string) string {
	if s, ok := messages[locale][key]; ok {
		return s
	}
	return messages[locales[0]][key]
}

// fieldErrors are per-type error texts; other types get "bad".
var fieldErrors = map[flow.InputType]map[string]string{
	flow.InputCardNumber: {"en": "Enter a valid card number.", "pt-BR": "Informe um número de cartão válido.", "es": "Ingresa un número de tarjeta válido."},
	flow.InputCardExpiry: {"en": "Enter a valid expiry date that has not passed (MM/YY).", "pt-BR": "Informe uma validade válida e não vencida (MM/AA).", "es": "Ingresa una fecha de vencimiento válida y no vencida (MM/AA)."},
	flow.InputCVV:        {"en": "Enter the 3 or 4 digit security code.", "pt-BR": "Informe o código de segurança de 3 ou 4 dígitos.", "es": "Ingresa el código de seguridad de 3 o 4 dígitos."},
	flow.InputCPF:        {"en": "Enter a valid CPF.", "pt-BR": "Informe um CPF válido.", "es": "Ingresa un CPF válido."},
	flow.InputDate:       {"en": "Enter a valid date (DD/MM/YYYY).", "pt-BR": "Informe uma data válida (DD/MM/AAAA).", "es": "Ingresa una fecha válida (DD/MM/AAAA)."},
	flow.InputEmail:      {"en": "Enter a valid email address.", "pt-BR": "Informe um e-mail válido.", "es": "Ingresa un correo electrónico válido."},
	flow.InputPhone:      {"en": "Enter a valid phone number.", "pt-BR": "Informe um telefone válido.", "es": "Ingresa un teléfono válido."},
}

func fieldError(t flow.InputType, locale string, empty bool) string {
	if empty {
		return msg(locale, "required")
	}
	if m, ok := fieldErrors[t]; ok {
		return m[locale]
	}
	return msg(locale, "bad")
}
