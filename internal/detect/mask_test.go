package detect

import (
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct {
		e       Entity
		matched string
		want    string
	}{
		{CreditCard, "4111 1111 1111 1111", "[card ••••1111]"},
		{CreditCard, "378282246310005", "[card ••••0005]"},
		{CreditCard, "1234", "[card]"},
		{CPF, "123.456.789-09", "[cpf •••.•••.•••-09]"},
		{CPF, "12345678909", "[cpf •••.•••.•••-09]"},
		{CNPJ, "12.ABC.345/01DE-35", "[cnpj ••.•••.•••/••••-35]"},
		{IBAN, "DE89 3704 0044 0532 0130 00", "[iban DE•• •••• 3000]"},
		{IBAN, "gb82west12345698765432", "[iban GB•• •••• 5432]"},
		{SSN, "078-05-1123", "[ssn]"},
		{Email, "joão.silva@example.com", "[email j•••@example.com]"},
		{Email, "ana@example.com", "[email a•••@example.com]"},
		{Email, "a@example.com", "[email •@example.com]"},
		{Phone, "(11) 98765-4321", "[phone ••••4321]"},
		{IPAddress, "192.168.0.1", "[ip]"},
		{Crypto, "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ", "[crypto ••••BoyZ]"},
		{CVV, "123", "[cvv]"},
		{CardExpiry, "12/27", "[expiry]"},
		{PIN, "4821", "[pin]"},
		{Password, "hunter2", "[password]"},
		{OTP, "839 201", "[otp]"},
		{"ORDER_ID", "PED-123456", "[order_id]"},
	}
	for _, tc := range tests {
		if got := Mask(tc.e, tc.matched); got != tc.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", tc.e, tc.matched, got, tc.want)
		}
	}
}

func TestMaskCard(t *testing.T) {
	for _, tc := range []struct {
		pan      string
		firstSix bool
		want     string
	}{
		{"4111 1111 1111 1111", true, "[card 411111••••••1111]"},
		{"4111111111111111", false, "[card ••••1111]"},
		{"6212345678901234567", true, "[card 621234•••••••••4567]"},
		{"378282246310005", true, "[card ••••0005]"}, // 15 digits: first six would leave five hidden
		{"4222222222222", true, "[card ••••2222]"},
	} {
		if got := MaskCard(tc.pan, tc.firstSix); got != tc.want {
			t.Errorf("MaskCard(%q, %v) = %q, want %q", tc.pan, tc.firstSix, got, tc.want)
		}
	}
}

// TestMasksHideTheSecret checks, for every detection in the corpus, that
// the mask shows no more of the value than its rule allows: at most six
// leading and four trailing digits of a card, the two check digits of a
// CPF or CNPJ, nothing of the context-anchored secrets.
func TestMasksHideTheSecret(t *testing.T) {
	s := MustNewScanner(DefaultRegistry())
	for _, l := range corpus(t, 2000) {
		for _, sp := range s.Scan(l.text) {
			m := l.text[sp.Start:sp.End]
			masked := Mask(sp.Entity, m)
			if strings.Contains(masked, m) {
				t.Fatalf("Mask(%s, %q) = %q contains the value", sp.Entity, m, masked)
			}
			keep := map[Entity]int{CreditCard: 4, CPF: 2, CNPJ: 2, IBAN: 4, Phone: 4, Crypto: 4, Email: -1}[sp.Entity]
			shown := 0
			for i := 0; i < len(masked); i++ {
				if isDigit(masked[i]) {
					shown++
				}
			}
			if keep >= 0 && shown > keep {
				t.Errorf("Mask(%s, %q) = %q shows %d digits, at most %d allowed", sp.Entity, m, masked, shown, keep)
			}
		}
	}
}
