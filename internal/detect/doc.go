// Package detect finds secrets and personal data in free text (chat
// messages, transcripts) so that they can be masked or tokenized before a
// contact centre, a log or a database sees them.
//
// # Scanning
//
// A [Scanner] makes one left-to-right pass over the bytes of a message and
// returns typed [Span]s: entity, byte offsets, confidence. It is built from
// a [Registry], the one place that lists the detectors, optionally
// restricted to some entities ([WithEntities]) and to a minimum score
// ([WithMinScore], default [DefaultMinScore]). Spans are sorted and never
// overlap; where two readings compete, the longer reading of one entity, or
// else the higher score, wins. A Scanner is immutable and safe for
// concurrent use; [Scanner.AppendScan] scans without allocating.
//
//	s := detect.MustNewScanner(detect.DefaultRegistry())
//	for _, sp := range s.Scan(msg) {
//		masked := detect.Mask(sp.Entity, msg[sp.Start:sp.End])
//		...
//	}
//
// # Entities
//
// Names follow Microsoft Presidio's where it has one.
//
//   - CREDIT_CARD: a payment card number of 13 to 19 digits, bare or
//     grouped by spaces, hyphens or full stops, whose issuer prefix belongs
//     to a scheme (Visa, Mastercard 51-55 and 2221-2720, American Express,
//     Discover, JCB, Diners Club, Elo, Hipercard, UnionPay, Maestro, Dankort,
//     UATP) that issues that length, and whose Luhn digit is right.
//   - BR_CPF: a Brazilian CPF, 000.000.000-00 or bare, with the Receita
//     Federal check digits; numbers of one repeated digit are rejected.
//   - BR_CNPJ: a Brazilian CNPJ, numeric or in the alphanumeric form the
//     Receita Federal issues from July 2026, punctuated or bare.
//   - IBAN_CODE: an IBAN (ISO 13616) of a country in the SWIFT registry,
//     with that country's length and BBAN structure and a valid ISO 7064
//     MOD 97-10 check, with or without grouping.
//   - US_SSN: a US Social Security number that follows the SSA's rules
//     (area not 000, 666 or 900-999; group not 00; serial not 0000), not a
//     published example. Nine bare digits count only next to an SSN word.
//   - EMAIL_ADDRESS, PHONE_NUMBER, IP_ADDRESS (IPv4 and IPv6), CRYPTO
//     (Bitcoin addresses with a valid Base58Check or Bech32/Bech32m checksum).
//   - CVV, CARD_EXPIRY, PIN, PASSWORD, OTP: secrets with no shape of their
//     own, found after an anchor phrase in English, Portuguese or Spanish
//     ("cvv 123", "código de segurança 123", "my password is …", "minha
//     senha é …", "mi contraseña es …", "código de verificação 839 201"), or,
//     for an expiry date and a security code, right after a card number.
//
// docs/detection.md lists every rule with its source, the measured
// agreement with Presidio's own test cases, and precision and recall on a
// generated chat corpus.
//
// # Design: one pass, no backtracking
//
// There are no regular expressions on the scanning path. Each detector
// declares [Trigger]s: the bytes at which a value can start, what may
// precede them, and a few bytes of fixed lookbehind and lookahead. The
// scanner compiles all triggers into a dispatch table indexed by the class
// of the previous byte and the current byte, plus per-offset bit masks, so
// that for most bytes the work is one table lookup, and a detector is
// called only where its value could begin. Detectors are hand-written
// parsers that read a bounded neighbourhood of that position (a card number
// at most 19 digits and its separators, a local part at most 64 bytes): the
// total cost is linear in the length of the text, whatever it contains, and
// no input can make the scanner backtrack. Checksums (Luhn, mod 11, mod 97,
// double SHA-256) run only on candidates that already have the right shape.
//
// The built-in detectors are not called through the interface: where they
// trigger together at a digit (cards, CPF, SSN, CNPJ, phone, IP, Bitcoin,
// and an expiry date or security code after a card), the scanner reads the
// digit run once, the length of its first group and the byte after it,
// and parses its groups (digits separated by single spaces, hyphens or full
// stops) only when they hold the nine digits the longest readings need;
// each detector then checks its shape and checksum on that shared parse.
// Custom detectors are called through [Detector.Detect], which the built-in
// ones also implement in full.
//
// # Validators and masks
//
// The validators ([ValidCard], [ValidCPF], [ValidCNPJ], [ValidIBAN],
// [ValidSSN], [ValidEmail], [CardBrand], [Digits]) are the scanner's own
// checks, exported so that other packages validating typed input apply the
// same definitions. [Mask] gives the form an agent may see: at most the last
// four digits of a card ([MaskCard] can add the first six), the check digits
// of a CPF or CNPJ, nothing at all of a CVV, PIN, password or one-time code.
//
// # Extending
//
// A new entity is a type implementing [Detector], registered with
// [Registry.Register]. Each entity belongs to exactly one detector, so that
// enabling, disabling and auditing an entity has a single meaning. The
// scanner enforces the span contract (bounds, character boundaries, score
// range) on every detector's output.
//
// Nothing in this package logs, stores or returns the text it scans: spans
// carry offsets only.
package detect
