package flow

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
)

// ErrEval is wrapped by the errors of [Expr.Eval], [Switch.Choose] and
// [Set.Apply]. The error says where the expression is, not what went wrong
// inside it: CEL's messages can quote the values involved, and those may be
// secrets.
var ErrEval = errors.New("flow: expression failed")

// Expr is a CEL expression of a flow: a switch condition or a set
// assignment. Expressions are type-checked when the flow is linted; those
// of a flow returned by [Load] are compiled and can be evaluated.
type Expr struct {
	Source string
	Pos    Pos

	file string
	at   func(offset int) Pos
	prog cel.Program
	vars []string
}

// String returns the source.
func (e *Expr) String() string { return e.Source }

// Vars returns the variables the expression reads, in source order, each
// once (for a flow returned by [Load]; nil otherwise). An engine uses it to
// reveal only the secrets a condition needs.
func (e *Expr) Vars() []string { return append([]string(nil), e.vars...) }

// Limits on expressions: their size and nesting at parse time, and the cost
// of one evaluation, so that no expression can stall the engine.
const (
	maxExprSize    = 4096
	maxExprDepth   = 64
	maxExprCost    = 1_000_000
	interruptEvery = 100
)

// baseEnv is the CEL environment every flow's extends: the standard library
// with parse limits. It is built once and never changed.
var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.ParserRecursionLimit(maxExprDepth),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.CrossTypeNumericComparisons(true),
	)
})

// celType maps a flow Type to CEL.
func celType(t Type) *cel.Type {
	switch t {
	case TypeInt:
		return cel.IntType
	case TypeDouble:
		return cel.DoubleType
	case TypeBool:
		return cel.BoolType
	}
	return cel.StringType
}

// EvalError is the error of a failed evaluation. It wraps [ErrEval].
type EvalError struct {
	// File and Pos locate the expression in its flow file.
	File string
	Pos  Pos
}

// Error implements error.
func (e *EvalError) Error() string {
	return fmt.Sprintf("flow: expression at %s:%d:%d failed", e.File, e.Pos.Line, e.Pos.Column)
}

// Unwrap returns [ErrEval].
func (e *EvalError) Unwrap() error { return ErrEval }

// Eval evaluates the expression over vars, which maps each variable the
// expression reads to a string, int64, float64 or bool (secrets in their
// normal form: conditions may read them, and nothing an expression computes
// from a secret is ever public, see the taint rule). It returns a string,
// int64, uint64, float64 or bool. Errors wrap [ErrEval], or [ErrNotLoaded] if the
// flow did not come from [Load].
func (e *Expr) Eval(vars map[string]any) (any, error) {
	if e.prog == nil {
		return nil, ErrNotLoaded
	}
	v, _, err := e.prog.Eval(vars)
	if err != nil {
		return nil, &EvalError{File: e.file, Pos: e.Pos}
	}
	switch x := v.Value().(type) {
	case string, int64, float64, bool:
		return x, nil
	case uint64:
		return x, nil
	}
	return nil, &EvalError{File: e.file, Pos: e.Pos}
}

// Choose evaluates the cases in order over vars (see [Expr.Eval]) and
// returns the target of the first whose condition is true, or Default.
func (b *Switch) Choose(vars map[string]any) (Target, error) {
	for _, c := range b.Cases {
		v, err := c.When.Eval(vars)
		if err != nil {
			return Target{}, err
		}
		if v == true {
			return c.Next, nil
		}
	}
	return b.Default, nil
}

// Apply evaluates the assignments in order over vars (see [Expr.Eval]);
// each sees the values of those before it. It returns the assigned values
// and leaves vars unchanged.
func (b *Set) Apply(vars map[string]any) (map[string]any, error) {
	scope := make(map[string]any, len(vars)+len(b.Assign))
	for k, v := range vars {
		scope[k] = v
	}
	out := make(map[string]any, len(b.Assign))
	for _, a := range b.Assign {
		v, err := a.Value.Eval(scope)
		if err != nil {
			return nil, err
		}
		scope[a.Var], out[a.Var] = v, v
	}
	return out, nil
}

// exprRef is a variable an expression reads.
type exprRef struct {
	name   string
	offset int // byte offset in the source
}

// freeVars returns the variables e reads, in source order, leaving out the
// variables comprehension macros bind (all(x, ...), map(x, ...), ...).
func freeVars(a *cel.Ast, src string) []exprRef {
	native := a.NativeRep()
	info := native.SourceInfo()
	var out []exprRef
	bound := map[string]int{}
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			name := e.AsIdent()
			if bound[name] == 0 {
				off := 0
				if r, ok := info.GetOffsetRange(e.ID()); ok {
					off = runeToByteOffset(src, int(r.Start))
				}
				out = append(out, exprRef{name: name, offset: off})
			}
		case ast.SelectKind:
			walk(e.AsSelect().Operand())
		case ast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, arg := range c.Args() {
				walk(arg)
			}
		case ast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		case ast.StructKind:
			for _, fl := range e.AsStruct().Fields() {
				walk(fl.AsStructField().Value())
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange())
			walk(c.AccuInit())
			vars := []string{c.IterVar(), c.AccuVar()}
			if c.HasIterVar2() {
				vars = append(vars, c.IterVar2())
			}
			for _, v := range vars {
				bound[v]++
			}
			walk(c.LoopCondition())
			walk(c.LoopStep())
			walk(c.Result())
			for _, v := range vars {
				bound[v]--
			}
		}
	}
	walk(native.Expr())
	return out
}

// runeToByteOffset converts an offset in code points to one in bytes.
func runeToByteOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	i := 0
	for i < len(s) && n > 0 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n--
	}
	return i
}

// celErrorOffset converts a CEL error location (1-based line, 0-based
// column in code points) into a byte offset in src.
func celErrorOffset(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	return off + runeToByteOffset(src[off:], col)
}
