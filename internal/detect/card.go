package detect

// Payment card issuer identification.
//
// The first six to eight digits of a card number are its issuer
// identification number (IIN, ISO/IEC 7812-1). The table below holds the
// ranges the schemes are publicly known to own: Visa; Mastercard with the
// 2-series added in 2017; American Express; Discover Global Network with
// Diners Club International; JCB; China UnionPay; and the Brazilian schemes
// Elo and Hipercard, whose BIN lists come from Brazilian acquirers'
// integration guides (they change more often than the others; an unknown
// Elo BIN inside a Visa or Discover range is still a card, under that
// scheme). Ranges are tried in order and the first match wins, so the narrow
// Brazilian ranges come before the broad Visa, Discover and Maestro ranges
// that contain them.

// brand is a card scheme. The zero value is brandUnknown.
type brand uint8

const (
	brandUnknown brand = iota
	brandVisa
	brandMastercard
	brandAmex
	brandDiscover
	brandJCB
	brandDiners
	brandElo
	brandHipercard
	brandUnionPay
	brandMaestro
	brandDankort
	brandUATP
)

// brandInfo describes a scheme: the name CardBrand returns and the set of
// PAN lengths it issues (bit n set: length n is issued).
var brandInfo = [...]struct {
	name    string
	lengths uint32
}{
	brandUnknown:    {"", 0},
	brandVisa:       {"visa", lens(13, 16, 19)},
	brandMastercard: {"mastercard", lens(16)},
	brandAmex:       {"amex", lens(15)},
	brandDiscover:   {"discover", lens(16, 17, 18, 19)},
	brandJCB:        {"jcb", lens(16, 17, 18, 19)},
	brandDiners:     {"diners", lens(14, 15, 16, 17, 18, 19)},
	brandElo:        {"elo", lens(16)},
	brandHipercard:  {"hipercard", lens(13, 16, 19)},
	brandUnionPay:   {"unionpay", lens(16, 17, 18, 19)},
	brandMaestro:    {"maestro", lens(13, 14, 15, 16, 17, 18, 19)},
	brandDankort:    {"dankort", lens(16)},
	brandUATP:       {"uatp", lens(15)},
}

func lens(n ...int) uint32 {
	var m uint32
	for _, v := range n {
		m |= 1 << v
	}
	return m
}

// String returns the scheme's name, "" for brandUnknown.
func (b brand) String() string { return brandInfo[b].name }

// acceptsLength reports whether the scheme issues PANs of n digits.
func (b brand) acceptsLength(n int) bool {
	return n >= 0 && n < 32 && brandInfo[b].lengths&(1<<n) != 0
}

// iinRange is an inclusive range of IIN prefixes of a fixed number of digits.
type iinRange struct {
	digits int // how many leading digits lo and hi cover
	lo, hi int
	brand  brand
}

// iinRanges is ordered: the first range that contains the card's prefix
// names its brand.
var iinRanges = [...]iinRange{
	// Elo (Brazil): published BIN list. Several sit inside Visa (4),
	// Maestro (50) and Discover (65) ranges, hence first.
	{6, 401178, 401179, brandElo},
	{6, 431274, 431274, brandElo},
	{6, 438935, 438935, brandElo},
	{6, 451416, 451416, brandElo},
	{6, 457393, 457393, brandElo},
	{6, 457631, 457632, brandElo},
	{6, 504175, 504175, brandElo},
	{6, 506699, 506778, brandElo},
	{6, 509000, 509999, brandElo},
	{6, 627780, 627780, brandElo},
	{6, 636297, 636297, brandElo},
	{6, 636368, 636368, brandElo},
	{6, 650031, 650033, brandElo},
	{6, 650035, 650051, brandElo},
	{6, 650405, 650439, brandElo},
	{6, 650485, 650538, brandElo},
	{6, 650541, 650598, brandElo},
	{6, 650700, 650718, brandElo},
	{6, 650720, 650727, brandElo},
	{6, 650901, 650978, brandElo},
	{6, 651652, 651679, brandElo},
	{6, 655000, 655019, brandElo},
	{6, 655021, 655058, brandElo},

	// Hipercard (Brazil).
	{6, 606282, 606282, brandHipercard},
	{6, 384100, 384100, brandHipercard},
	{6, 384140, 384140, brandHipercard},
	{6, 384160, 384160, brandHipercard},
	{6, 637095, 637095, brandHipercard},
	{6, 637568, 637568, brandHipercard},
	{6, 637599, 637599, brandHipercard},
	{6, 637609, 637609, brandHipercard},
	{6, 637612, 637612, brandHipercard},

	// American Express.
	{2, 34, 34, brandAmex},
	{2, 37, 37, brandAmex},

	// Diners Club International (processed on the Discover network).
	{3, 300, 305, brandDiners},
	{4, 3095, 3095, brandDiners},
	{2, 36, 36, brandDiners},
	{2, 38, 39, brandDiners},

	// JCB.
	{4, 3528, 3589, brandJCB},

	// Visa.
	{1, 4, 4, brandVisa},

	// Dankort (Denmark), inside the historical Maestro 50 range.
	{4, 5019, 5019, brandDankort},

	// Mastercard: 51-55 and the 2-series 2221-2720.
	{2, 51, 55, brandMastercard},
	{4, 2221, 2720, brandMastercard},

	// Maestro (Mastercard debit).
	{2, 50, 50, brandMaestro},
	{2, 56, 58, brandMaestro},
	{4, 6304, 6304, brandMaestro},
	{4, 6390, 6390, brandMaestro},
	{2, 67, 67, brandMaestro},

	// Discover.
	{4, 6011, 6011, brandDiscover},
	{3, 644, 649, brandDiscover},
	{2, 65, 65, brandDiscover},

	// China UnionPay (62 includes the Discover co-branded 622126-622925).
	{2, 62, 62, brandUnionPay},
	{2, 81, 81, brandUnionPay},

	// UATP (airline cards), major industry identifier 1.
	{1, 1, 1, brandUATP},
}

// cardBrand returns the brand of the ASCII digit string d by its prefix.
func cardBrand(d []byte) brand {
	var prefix [7]int // prefix[n]: value of the first n digits
	n := min(len(d), 6)
	for i := 0; i < n; i++ {
		prefix[i+1] = prefix[i]*10 + int(d[i]-'0')
	}
	for _, r := range iinRanges {
		if r.digits > n {
			continue
		}
		if v := prefix[r.digits]; v >= r.lo && v <= r.hi {
			return r.brand
		}
	}
	return brandUnknown
}
