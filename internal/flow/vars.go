package flow

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
)

// variable is a flow variable: a builtin, an input, or a value assigned by a
// collect field, an action output or a set step.
type variable struct {
	name string
	idx  int
	typ  *cel.Type
	// how and where it is first defined, for messages.
	source string // "builtin", "input", "collect", "action", "set"
	step   string
	pos    Pos
	// collected lists the fields that collect it (for unused-secret).
	collected []*Field
	used      bool
}

func (c *checker) varNames() []string {
	names := make([]string, 0, len(c.varList))
	for _, v := range c.varList {
		names = append(names, v.name)
	}
	return names
}

// define records that a variable of type t is assigned at pos, reporting a
// conflict with an earlier definition.
func (c *checker) define(name string, t *cel.Type, source, step string, pos Pos) *variable {
	if v, ok := c.vars[name]; ok {
		switch {
		case v.source == "input" || v.source == "builtin":
			c.report(pos, RuleInvalidValue, nil, "%s is an input of the flow and cannot be reassigned; choose another name", name)
		case t != nil && v.typ != nil && !sameType(v.typ, t):
			c.report(pos, RuleCELType, nil, "%s is %s (%s at step %s) but is assigned %s here", name, aType(v.typ), v.source, v.step, aType(t))
		case v.typ == nil:
			v.typ = t
		}
		return v
	}
	v := &variable{name: name, idx: len(c.varList), typ: t, source: source, step: step, pos: pos}
	c.vars[name] = v
	c.varList = append(c.varList, v)
	return v
}

func sameType(a, b *cel.Type) bool {
	return a.IsExactType(b) || a.IsAssignableType(b) && b.IsAssignableType(a)
}

// declare defines every variable and checks data actions against the
// catalog. Set variables take the type of their expression, inferred in as
// many rounds as dependencies between them need.
func (c *checker) declare() {
	names := make([]string, 0, len(builtinVars))
	for n := range builtinVars {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c.define(n, celType(builtinVars[n]), "builtin", "", Pos{})
	}
	for _, in := range c.f.Inputs {
		c.define(in.Name, celType(in.Type), "input", "", in.Pos)
	}
	for _, s := range c.f.Steps {
		switch b := s.Body.(type) {
		case *Collect:
			for _, fd := range b.Fields {
				if fd.Var == "" {
					continue
				}
				v := c.define(fd.Var, cel.StringType, "collect", s.ID, fd.Pos)
				v.collected = append(v.collected, fd)
			}
		case *Action:
			c.declareAction(s, b)
		}
	}
	c.inferSets()
}

func (c *checker) declareAction(s *Step, b *Action) {
	spec, known := c.opts.Actions[b.Name]
	if !known {
		var names []string
		for n := range c.opts.Actions {
			names = append(names, n)
		}
		slices.Sort(names)
		msg := fmt.Sprintf("action %q is not in the catalog", b.Name)
		if near := closest(b.Name, names); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		at := b.NamePos
		if at == (Pos{}) {
			at = s.Pos
		}
		c.report(at, RuleUnknownAction, nil, "%s", msg)
	} else {
		bound := map[string]bool{}
		inputs := slices.Sorted(maps.Keys(spec.Inputs))
		for _, w := range b.With {
			bound[w.Name] = true
			if _, ok := spec.Inputs[w.Name]; !ok {
				msg := fmt.Sprintf("action %s has no input %q", b.Name, w.Name)
				if near := closest(w.Name, inputs); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				c.report(w.Pos, RuleActionInput, nil, "%s", msg)
			}
		}
		for _, name := range inputs {
			if spec.Inputs[name].Required && !bound[name] {
				c.report(s.Pos, RuleActionInput, nil, "step %s does not bind input %q, which action %s requires", s.ID, name, b.Name)
			}
		}
	}
	outputs := slices.Sorted(maps.Keys(spec.Outputs))
	for _, m := range b.Outputs {
		t := cel.StringType
		if known {
			out, ok := spec.Outputs[m.From]
			switch {
			case !ok:
				msg := fmt.Sprintf("action %s has no output %q", b.Name, m.From)
				if near := closest(m.From, outputs); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				c.report(m.Pos, RuleUnknownOutput, nil, "%s", msg)
			case out.Secret && m.Visibility == VisibilityPublic && m.Filter == "":
				c.report(m.Pos, RuleTaint, []string{s.ID}, "output %s of action %s is secret, and mapping it to %s as public would disclose it: use visibility: secret, or a masking filter (%s)", m.From, b.Name, m.Var, filterList(out.kind().Filters()))
			case out.Secret && m.Filter != "" && !out.kind().Allows(m.Filter):
				c.report(m.Pos, RuleUnsafeFilter, []string{s.ID}, "filter %s would disclose part of output %s of action %s (%s); allowed: %s", m.Filter, m.From, b.Name, out.kind(), filterList(out.kind().Filters()))
			case m.Filter == "":
				t = celType(out.typ())
			}
		}
		c.define(m.Var, t, "action", s.ID, m.Pos)
	}
}

func filterList(fs []Filter) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// flowEnv returns a CEL environment declaring every variable with a known
// type.
func (c *checker) flowEnv() (*cel.Env, error) {
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	var opts []cel.EnvOption
	for _, v := range c.varList {
		if v.typ != nil {
			opts = append(opts, cel.Variable(v.name, v.typ))
		}
	}
	return base.Extend(opts...)
}

// inferSets gives each set variable the type of its expression. An
// expression can be typed once the flow variables it reads are; it is
// compiled once, as soon as they are, so that inference costs one
// compilation per assignment however the assignments depend on each other.
// What cannot be typed is reported by compile.
func (c *checker) inferSets() {
	type pending struct {
		s     *Step
		a     *Assignment
		reads []string
	}
	base, err := baseEnv()
	if err != nil {
		return
	}
	assigned := map[string]bool{}
	var todo []pending
	for _, s := range c.f.Steps {
		b, ok := s.Body.(*Set)
		if !ok {
			continue
		}
		for _, a := range b.Assign {
			if a.Value == nil || a.Var == "" {
				continue
			}
			assigned[a.Var] = true
			parsed, iss := base.Parse(a.Value.Source)
			if iss.Err() != nil {
				continue // reported by compile
			}
			var reads []string
			for _, r := range freeVars(parsed, a.Value.Source) {
				reads = append(reads, r.name)
			}
			todo = append(todo, pending{s, a, reads})
		}
	}
	ready := func(p pending) bool {
		for _, name := range p.reads {
			if v := c.vars[name]; assigned[name] && (v == nil || v.typ == nil) {
				return false
			}
		}
		return true
	}
	for len(todo) > 0 {
		var now, later []pending
		for _, p := range todo {
			if ready(p) {
				now = append(now, p)
			} else {
				later = append(later, p)
			}
		}
		if len(now) == 0 {
			return
		}
		env, err := c.flowEnv()
		if err != nil {
			return
		}
		for _, p := range now {
			if a, iss := env.Compile(p.a.Value.Source); iss.Err() == nil {
				c.define(p.a.Var, a.OutputType(), "set", p.s.ID, p.a.Pos)
			} else if v := c.vars[p.a.Var]; v == nil {
				// Declare the variable untyped so that later rounds do not
				// wait for it: its expression's error is reported by compile.
				c.define(p.a.Var, nil, "set", p.s.ID, p.a.Pos)
			}
		}
		todo = later
	}
}

var reUndeclared = regexp.MustCompile(`undeclared reference to '([^']+)'`)

// compile type-checks every expression with the final environment.
func (c *checker) compile() {
	env, err := c.flowEnv()
	if err != nil {
		c.report(Pos{}, RuleCELType, nil, "cannot build the CEL environment: %v", err)
		return
	}
	c.env = env
	c.asts = map[*Expr]*cel.Ast{}
	c.exprRefs = map[*Expr][]exprRef{}
	for _, s := range c.f.Steps {
		switch b := s.Body.(type) {
		case *Switch:
			for i, cs := range b.Cases {
				a := c.compileExpr(cs.When, fmt.Sprintf("condition of case #%d of step %s", i+1, s.ID))
				if a != nil && !a.OutputType().IsExactType(cel.BoolType) && !a.OutputType().IsExactType(cel.DynType) {
					c.report(cs.When.Pos, RuleCELType, nil, "condition of case #%d of step %s is %s, not a bool", i+1, s.ID, aType(a.OutputType()))
				}
			}
		case *Set:
			for _, as := range b.Assign {
				a := c.compileExpr(as.Value, as.Var+" in step "+s.ID)
				if a == nil {
					continue
				}
				switch t := a.OutputType(); {
				case t.IsExactType(cel.StringType), t.IsExactType(cel.IntType), t.IsExactType(cel.UintType),
					t.IsExactType(cel.DoubleType), t.IsExactType(cel.BoolType):
				default:
					c.report(as.Value.Pos, RuleCELType, nil, "%s would hold %s; variables hold strings, numbers and booleans", as.Var, aType(t))
				}
			}
		}
	}
}

// compileExpr parses and checks e, reporting errors at their position in
// the file; it returns the checked AST, or nil.
func (c *checker) compileExpr(e *Expr, what string) *cel.Ast {
	if e == nil {
		return nil
	}
	at := func(line, col int) Pos {
		if e.at == nil {
			return e.Pos
		}
		return e.at(celErrorOffset(e.Source, line, col))
	}
	parsed, iss := c.env.Parse(e.Source)
	if iss.Err() != nil {
		for _, er := range iss.Errors() {
			c.report(at(er.Location.Line(), er.Location.Column()), RuleCELSyntax, nil, "%s: %s", what, oneLine(er.Message))
		}
		return nil
	}
	// Record what the expression reads even if it does not check, so
	// that definedness and taint still see it.
	c.exprRefs[e] = freeVars(parsed, e.Source)
	checked, iss := c.env.Check(parsed)
	if iss.Err() != nil {
		for _, er := range iss.Errors() {
			p := at(er.Location.Line(), er.Location.Column())
			if m := reUndeclared.FindStringSubmatch(er.Message); m != nil {
				c.undefinedVar(p, m[1], what)
				continue
			}
			c.report(p, RuleCELType, nil, "%s: %s", what, oneLine(er.Message))
		}
		return nil
	}
	c.asts[e] = checked
	c.exprRefs[e] = freeVars(checked, e.Source)
	return checked
}

// undefinedVar reports a variable that no step, input or builtin defines.
func (c *checker) undefinedVar(p Pos, name, what string) {
	msg := fmt.Sprintf("%s reads %s, which is not defined", what, name)
	if near := closest(name, c.varNames()); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	c.report(p, RuleUndefinedVariable, nil, "%s", msg)
}

// catalogTypes checks that action inputs get values of their declared type.
func (c *checker) catalogTypes() {
	for _, s := range c.f.Steps {
		b, ok := s.Body.(*Action)
		if !ok {
			continue
		}
		spec, ok := c.opts.Actions[b.Name]
		if !ok {
			continue
		}
		for _, w := range b.With {
			param, ok := spec.Inputs[w.Name]
			if !ok || param.typ() == TypeString || w.Value == nil {
				continue
			}
			want := param.typ()
			if r := w.Value.whole(); r != nil {
				v := c.vars[r.Var]
				if v == nil || v.typ == nil {
					continue // reported as undefined
				}
				if !sameType(v.typ, celType(want)) && !(want == TypeDouble && v.typ.IsExactType(cel.IntType)) {
					c.report(w.Pos, RuleActionInput, nil, "input %s of action %s is %s, but %s is %s", w.Name, b.Name, aType(want), r.Var, aType(v.typ))
				}
				continue
			}
			if len(w.Value.Refs()) > 0 {
				c.report(w.Pos, RuleActionInput, nil, "input %s of action %s is %s, but a template with text around its references renders a string; bind one variable, as in {{ name }}", w.Name, b.Name, aType(want))
				continue
			}
			if !literalOf(want, w.Value.Source) {
				c.report(w.Pos, RuleActionInput, nil, "input %s of action %s is %s, not %q", w.Name, b.Name, aType(want), w.Value.Source)
			}
		}
	}
}

// literalOf reports whether s is a literal of type t.
func literalOf(t Type, s string) bool {
	var err error
	switch t {
	case TypeInt:
		_, err = strconv.ParseInt(s, 10, 64)
	case TypeDouble:
		_, err = strconv.ParseFloat(s, 64)
	case TypeBool:
		_, err = strconv.ParseBool(s)
	}
	return err == nil
}

// aType names a type with its article: "a string", "an int".
func aType(t any) string {
	s := fmt.Sprint(t)
	if strings.HasPrefix(s, "int") {
		return "an " + s
	}
	return "a " + s
}
