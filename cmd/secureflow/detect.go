package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/detect"
)

func newDetectCmd(e *env) *cobra.Command {
	var redact bool
	var entities []string
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Find sensitive data in text: one message per line on standard input",
		Long: `Read UTF-8 text on standard input, one message per line, and write one JSON
object per line: {"entities":[{"type":"CREDIT_CARD","start":10,"end":29,"score":1}]}
with byte offsets into that line and never the matched text. With --redact,
print each line with its sensitive spans replaced by their masks instead.
Useful on its own to audit an exported transcript for leaked personal data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts []detect.Option
			if len(entities) > 0 {
				ents := make([]detect.Entity, len(entities))
				for i, s := range entities {
					ents[i] = detect.Entity(strings.ToUpper(strings.TrimSpace(s)))
				}
				opts = append(opts, detect.WithEntities(ents...))
			}
			sc, err := detect.NewScanner(detect.DefaultRegistry(), opts...)
			if err != nil {
				return err
			}
			in := bufio.NewScanner(e.stdin)
			in.Buffer(make([]byte, 64<<10), 16<<20)
			out := bufio.NewWriter(e.stdout)
			defer out.Flush()
			enc := json.NewEncoder(out)
			type entity struct {
				Type  detect.Entity `json:"type"`
				Start int           `json:"start"`
				End   int           `json:"end"`
				Score float64       `json:"score"`
			}
			var spans []detect.Span
			for n := 1; in.Scan(); n++ {
				line := in.Text()
				if !utf8.ValidString(line) {
					return fmt.Errorf("line %d: not valid UTF-8", n)
				}
				spans = sc.AppendScan(spans[:0], line)
				if redact {
					var b strings.Builder
					last := 0
					for _, s := range spans {
						b.WriteString(line[last:s.Start])
						b.WriteString(detect.Mask(s.Entity, line[s.Start:s.End]))
						last = s.End
					}
					b.WriteString(line[last:])
					if _, err := fmt.Fprintln(out, b.String()); err != nil {
						return err
					}
					continue
				}
				res := struct {
					Entities []entity `json:"entities"`
				}{Entities: make([]entity, 0, len(spans))}
				for _, s := range spans {
					res.Entities = append(res.Entities, entity{s.Entity, s.Start, s.End, s.Score})
				}
				if err := enc.Encode(res); err != nil {
					return err
				}
			}
			return in.Err()
		},
	}
	cmd.Flags().BoolVar(&redact, "redact", false, "print the lines with sensitive spans replaced by masks")
	cmd.Flags().StringSliceVar(&entities, "entities", nil, "only these entity types (default: all), e.g. CREDIT_CARD,BR_CPF")
	return cmd
}
