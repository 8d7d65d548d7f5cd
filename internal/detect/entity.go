package detect

// Entity names a kind of sensitive data. The built-in names follow Microsoft
// Presidio's where Presidio has one, so that findings can be compared with
// Presidio's and fed to tools that speak its vocabulary.
type Entity string

// Built-in entities. See the package documentation for what each one covers
// and how it is validated.
const (
	CreditCard Entity = "CREDIT_CARD"   // payment card number (PAN)
	CPF        Entity = "BR_CPF"        // Brazilian individual taxpayer number
	CNPJ       Entity = "BR_CNPJ"       // Brazilian company number, numeric or alphanumeric
	IBAN       Entity = "IBAN_CODE"     // International Bank Account Number
	SSN        Entity = "US_SSN"        // US Social Security number
	Email      Entity = "EMAIL_ADDRESS" // e-mail address
	Phone      Entity = "PHONE_NUMBER"  // telephone number
	IPAddress  Entity = "IP_ADDRESS"    // IPv4 or IPv6 address, optionally with a prefix length
	Crypto     Entity = "CRYPTO"        // Bitcoin address (Base58Check or Bech32/Bech32m)
	CVV        Entity = "CVV"           // card security code (CVV2, CVC2, CID), in context
	CardExpiry Entity = "CARD_EXPIRY"   // card expiry date, in context
	PIN        Entity = "PIN"           // personal identification number, in context
	Password   Entity = "PASSWORD"      // password or passphrase, in context
	OTP        Entity = "OTP"           // one-time password or verification code, in context
)

// Span is one finding: the entity and where it is in the scanned text.
// A Span never holds the matched text itself, so it is safe to log.
type Span struct {
	Entity Entity
	// Start and End are byte offsets into the scanned text, Start inclusive,
	// End exclusive. Both fall on UTF-8 character boundaries.
	Start, End int
	// Score is the detector's confidence in (0, 1]: 1 means the value passed
	// a checksum or an equally strong test, lower scores mean shape (and
	// possibly context) alone. Scanners drop spans below their minimum score
	// (see WithMinScore).
	Score float64
}

// Len returns the length of the span in bytes.
func (s Span) Len() int { return s.End - s.Start }
