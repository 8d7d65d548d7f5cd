package flow

import (
	"fmt"
	"slices"
	"strings"
)

// sink is where a template's output goes. Every sink but sinkNone is
// visible outside the secure session, so secrets reach it only masked.
type sink int

const (
	sinkNone        sink = iota // switch conditions and set expressions
	sinkMessage                 // a message to the customer
	sinkSummary                 // the summary the agent sees
	sinkAttribute               // a custom attribute on the conversation
	sinkOutput                  // a public result of the session
	sinkLog                     // a log field
	sinkProgress                // a progress line the agent sees
	sinkActionInput             // an input of a data action
)

// use is one place a step reads variables: a template or an expression.
type use struct {
	step int
	// after: read once the step completes along "next" (progress, log).
	after bool
	// assign: for a set step, the index of the assignment; it sees the
	// assignments before it. -1 otherwise.
	assign int
	tpl    *Template
	expr   *Expr
	sink   sink
	what   string // for messages: "the message of step thanks"
	param  string // for sinkActionInput: the input's name
	action string // for sinkActionInput: the action's name
}

// uses lists every read of a variable in the flow, in step order.
func (c *checker) uses() []use {
	var out []use
	for i, s := range c.f.Steps {
		add := func(t Text, k sink, what string) {
			for _, tpl := range t.templates() {
				out = append(out, use{step: i, assign: -1, tpl: tpl, sink: k, what: what})
			}
		}
		binds := func(bs []*Binding, k sink, what string) {
			for _, b := range bs {
				if b.Value != nil {
					out = append(out, use{step: i, assign: -1, tpl: b.Value, sink: k, what: fmt.Sprintf(what, b.Name)})
				}
			}
		}
		id := s.ID
		switch b := s.Body.(type) {
		case *Say:
			add(b.Text, sinkMessage, "the message of step "+id)
		case *Collect:
			add(b.Prompt, sinkMessage, "the prompt of step "+id)
			add(b.Reprompt, sinkMessage, "the reprompt of step "+id)
			for _, fd := range b.Fields {
				add(fd.Label, sinkMessage, "the label of field "+fd.Var+" of step "+id)
			}
		case *Confirm:
			add(b.Text, sinkMessage, "the read-back of step "+id)
			add(b.YesLabel, sinkMessage, "the yes label of step "+id)
			add(b.NoLabel, sinkMessage, "the no label of step "+id)
		case *Action:
			for _, w := range b.With {
				if w.Value != nil {
					out = append(out, use{step: i, assign: -1, tpl: w.Value, sink: sinkActionInput,
						what: "input " + w.Name + " of action " + b.Name + " at step " + id, param: w.Name, action: b.Name})
				}
			}
		case *Switch:
			for _, cs := range b.Cases {
				if cs.When != nil {
					out = append(out, use{step: i, assign: -1, expr: cs.When})
				}
			}
		case *Set:
			for k, a := range b.Assign {
				if a.Value != nil {
					out = append(out, use{step: i, assign: k, expr: a.Value})
				}
			}
		case *ReturnToAgent:
			add(b.Summary, sinkSummary, "the summary shown to the agent at step "+id)
			add(b.Message, sinkMessage, "the message of step "+id)
			binds(b.Outputs, sinkOutput, "session output %s of step "+id)
		case *Transfer:
			binds(b.Attributes, sinkAttribute, "transfer attribute %s of step "+id)
			add(b.Message, sinkMessage, "the message of step "+id)
			binds(b.Outputs, sinkOutput, "session output %s of step "+id)
		case *Disconnect:
			add(b.Message, sinkMessage, "the closing message of step "+id)
			binds(b.Outputs, sinkOutput, "session output %s of step "+id)
		}
		for _, tpl := range s.Progress.templates() {
			out = append(out, use{step: i, after: true, assign: -1, tpl: tpl, sink: sinkProgress, what: "the progress shown to the agent at step " + id})
		}
		for _, b := range s.Log {
			if b.Value != nil {
				out = append(out, use{step: i, after: true, assign: -1, tpl: b.Value, sink: sinkLog, what: "log field " + b.Name + " of step " + id})
			}
		}
	}
	return out
}

// reads returns the variables a use reads with their file positions, and,
// for templates, the references themselves.
type read struct {
	name string
	pos  Pos
	ref  *Ref // nil for expressions
}

func (c *checker) reads(u use) []read {
	var out []read
	if u.tpl != nil {
		for _, r := range u.tpl.Refs() {
			out = append(out, read{name: r.Var, pos: u.tpl.posOf(r.Offset), ref: &r})
		}
		return out
	}
	for _, r := range c.exprRefs[u.expr] {
		p := u.expr.Pos
		if u.expr.at != nil {
			p = u.expr.at(r.offset)
		}
		out = append(out, read{name: r.name, pos: p})
	}
	return out
}

// assigns returns the variables step s assigns along the edge label, in
// order.
func assigns(s *Step, label string) []string {
	if label != "next" {
		return nil
	}
	var out []string
	switch b := s.Body.(type) {
	case *Collect:
		for _, fd := range b.Fields {
			out = append(out, fd.Var)
		}
	case *Action:
		for _, m := range b.Outputs {
			out = append(out, m.Var)
		}
	case *Set:
		for _, a := range b.Assign {
			out = append(out, a.Var)
		}
	}
	return out
}

// genDefined returns the definite-assignment state after step i along
// label, given the state d on entry.
func (c *checker) genDefined(i int, label string, d bitset) bitset {
	d = d.clone()
	for _, name := range assigns(c.f.Steps[i], label) {
		if v := c.vars[name]; v != nil {
			d = d.add(v.idx)
		}
	}
	return d
}

// definedness computes, for each step, the variables assigned on every path
// to it (a must analysis), then reports reads of variables that some path
// leaves unassigned, with that path.
func (c *checker) definedness() {
	n := len(c.f.Steps)
	var start, all bitset
	for _, v := range c.varList {
		all = all.add(v.idx)
		if v.source == "input" || v.source == "builtin" {
			start = start.add(v.idx)
		}
	}
	c.defined = make([]bitset, n)
	for i := range c.defined {
		c.defined[i] = all.clone()
	}
	isRoot := make([]bool, n)
	for _, r := range c.roots {
		isRoot[r.step] = true
		// A handler may be entered before anything is assigned, and start
		// is entered with the inputs alone.
		c.defined[r.step] = start.clone()
	}
	for changed := true; changed; {
		changed = false
		for i := range n {
			if !c.reach[i] || isRoot[i] {
				continue
			}
			d := all.clone()
			for _, e := range c.in[i] {
				if c.reach[e.to] {
					d = d.and(c.genDefined(e.to, e.label, c.defined[e.to]))
				}
			}
			if !d.equal(c.defined[i]) {
				c.defined[i], changed = d, true
			}
		}
	}
	for _, u := range c.uses() {
		state := c.defined[u.step]
		if u.after {
			state = c.genDefined(u.step, "next", state)
		}
		if u.assign > 0 {
			state = state.clone()
			for _, a := range c.f.Steps[u.step].Body.(*Set).Assign[:u.assign] {
				if v := c.vars[a.Var]; v != nil {
					state = state.add(v.idx)
				}
			}
		}
		for _, r := range c.reads(u) {
			v := c.vars[r.name]
			if v == nil {
				if u.tpl != nil { // expressions were reported by CEL
					c.undefinedVar(r.pos, r.name, strings.TrimPrefix(u.what, "the "))
				}
				continue
			}
			v.used = true
			if r.ref != nil {
				for _, f := range r.ref.Filters {
					if !f.Valid() {
						c.report(r.pos, RuleUnknownFilter, nil, "filter %q does not exist; filters are %s", f, filterNames())
					}
				}
			}
			if !c.reach[u.step] || state.has(v.idx) {
				continue
			}
			path := c.unsetPath(v, u)
			c.report(r.pos, RuleUndefinedVariable, path, "%s may be unset at step %s: it is not assigned on the path %s", v.name, c.f.Steps[u.step].ID, arrow(path))
		}
	}
}

// unsetPath returns a path from an entry point to the use along which v is
// never assigned.
func (c *checker) unsetPath(v *variable, u use) []string {
	goal := func(s int) bool { return s == u.step }
	keep := func(i int, e edge) bool {
		return !slices.Contains(assigns(c.f.Steps[i], e.label), v.name)
	}
	p := c.shortestPath(c.rootSteps(), goal, keep)
	if p == nil {
		p = []int{u.step}
	}
	return c.rootIDs(p)
}

// unusedSecrets warns about collected values nothing reads.
func (c *checker) unusedSecrets() {
	for _, v := range c.varList {
		if v.used || len(v.collected) == 0 {
			continue
		}
		for _, fd := range v.collected {
			c.report(fd.Pos, RuleUnusedSecret, nil, "%s is collected but never used: do not ask for what the flow does not need (data minimisation, PCI DSS and LGPD)", v.name)
		}
	}
}
