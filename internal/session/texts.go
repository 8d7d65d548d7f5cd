package session

import (
	"fmt"
	"strings"
)

// Built-in texts, in the locales the example flows support. A flow's own
// texts always win; these cover what the engine says by itself.
var texts = map[string]map[string]string{
	"en": {
		"reprompt":       "That doesn't look right. Please try again.",
		"use_link":       "Please use the secure link I sent to enter your details. Reply CANCEL to stop.",
		"use_form":       "Please use the form I sent (tap its button) to enter your details. Reply CANCEL to stop.",
		"form_cta":       "Open secure form",
		"wait":           "One moment please…",
		"confirm_again":  "Please answer with one of the buttons.",
		"yes":            "Yes",
		"no":             "No",
		"link_prompt":    "Secure link (single use): %s",
		"cancelled":      "The secure session was cancelled.",
		"unavailable":    "Sorry, this step is not available right now.",
		"agent_started":  "🔒 Secure session started: %s (%s). What the customer enters is hidden from this conversation; you will see progress here.",
		"agent_released": "🔒 Secure session started: %s (%s). You are released from this conversation: the flow ends by transferring or closing it.",
		"agent_progress": "🔒 %s",
		"agent_returned": "🔒 Secure session ended (%s): %s",
		"agent_transfer": "🔒 Secure session ended (%s): transferring to %s.",
		"agent_held":     "🔒 The customer is in a secure session; your message will be delivered when it ends.",
		"agent_busy":     "🔒 A secure session (%s) is already running in this conversation.",
		"agent_unknown":  "🔒 Cannot start a secure session: %s",
		"agent_cancel":   "🔒 Secure session cancelled by the agent.",
		"agent_status":   "🔒 Secure session %s (%s): step %s.",
		"agent_none":     "🔒 No secure session is running in this conversation.",
	},
	"pt-BR": {
		"reprompt":      "Isso não parece correto. Tente novamente.",
		"use_link":      "Use o link seguro que enviei para informar seus dados. Responda CANCELAR para parar.",
		"use_form":      "Use o formulário que enviei (toque no botão) para informar seus dados. Responda CANCELAR para parar.",
		"form_cta":      "Abrir formulário",
		"wait":          "Um momento, por favor…",
		"confirm_again": "Responda com um dos botões, por favor.",
		"yes":           "Sim",
		"no":            "Não",
		"link_prompt":   "Link seguro (uso único): %s",
		"cancelled":     "A sessão segura foi cancelada.",
		"unavailable":   "Desculpe, esta etapa não está disponível agora.",
	},
	"es": {
		"reprompt":      "Eso no parece correcto. Inténtalo de nuevo.",
		"use_link":      "Usa el enlace seguro que te envié para ingresar tus datos. Responde CANCELAR para detener.",
		"use_form":      "Usa el formulario que te envié (toca su botón) para ingresar tus datos. Responde CANCELAR para detener.",
		"form_cta":      "Abrir formulario",
		"wait":          "Un momento, por favor…",
		"confirm_again": "Responde con uno de los botones, por favor.",
		"yes":           "Sí",
		"no":            "No",
		"link_prompt":   "Enlace seguro (un solo uso): %s",
		"cancelled":     "La sesión segura fue cancelada.",
		"unavailable":   "Lo sentimos, este paso no está disponible ahora.",
	},
}

// say returns the built-in text key in locale (English when missing).
func say(locale, key string, args ...any) string {
	t, ok := texts[locale][key]
	if !ok {
		t = texts["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(t, args...)
	}
	return t
}

// cancelWords end a session from the customer's side in any locale
// (the seed's "cancel", "cancelar", "sair").
var cancelWords = map[string]bool{"cancel": true, "cancelar": true, "sair": true, "stop": true, "parar": true, "salir": true}

// yesWords and noWords answer a confirm step typed rather than tapped.
var (
	yesWords = map[string]bool{"yes": true, "y": true, "sim": true, "s": true, "sí": true, "si": true, "ok": true, "confirm": true, "confirmar": true}
	noWords  = map[string]bool{"no": true, "n": true, "não": true, "nao": true}
)

func normWord(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), ".!?¡¿ "))
}
