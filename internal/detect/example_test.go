package detect_test

import (
	"fmt"
	"strings"

	"github.com/secureflow/secureflow/internal/detect"
)

// A relay rewrites a customer's message before the contact centre sees it.
func Example() {
	scanner := detect.MustNewScanner(detect.DefaultRegistry())
	msg := "my card is 4111 1111 1111 1111, exp 12/27, cvv 123"

	var b strings.Builder
	last := 0
	for _, sp := range scanner.Scan(msg) {
		b.WriteString(msg[last:sp.Start])
		b.WriteString(detect.Mask(sp.Entity, msg[sp.Start:sp.End]))
		last = sp.End
	}
	b.WriteString(msg[last:])
	fmt.Println(b.String())
	// Output: my card is [card ••••1111], exp [expiry], cvv [cvv]
}

func ExampleScanner_Scan() {
	scanner := detect.MustNewScanner(detect.DefaultRegistry())
	msg := "meu CPF é 123.456.789-09 e a senha é Abc@1234"
	for _, sp := range scanner.Scan(msg) {
		fmt.Println(sp.Entity, sp.Start, sp.End, sp.Score)
	}
	// Output:
	// BR_CPF 11 25 1
	// PASSWORD 39 47 0.9
}

func ExampleValidCNPJ() {
	fmt.Println(detect.ValidCNPJ("12.ABC.345/01DE-35")) // alphanumeric, from July 2026
	fmt.Println(detect.ValidCNPJ("11.222.333/0001-81"))
	fmt.Println(detect.ValidCNPJ("11.222.333/0001-82"))
	// Output:
	// true
	// true
	// false
}

func ExampleCardBrand() {
	fmt.Println(detect.CardBrand(detect.Digits("6362 9700 0045 7013")))
	fmt.Println(detect.CardBrand("2223003122003222"))
	// Output:
	// elo
	// mastercard
}
