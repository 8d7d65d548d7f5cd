package flow

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The taint analysis is a forward may-analysis over the step graph. A fact
// says "variable v may hold the secret that originated at origin o". Origins
// are the places a secret is born: a collect field, an action output mapped
// secret, and a set assignment whose expression reads a secret (which
// derives a new secret from older ones). A set assignment whose expression
// reads no secret, and an action output mapped public, clear the variable.
// Handlers (on_agent_gone, on_cancel, on_timeout) can be entered from any
// point of the flow, so they start from the union of every state.
//
// Sinks (messages, summaries, attributes, outputs, logs, progress, action
// inputs) are then checked against the state where they are evaluated. An
// expression is a secret if it reads one, whatever it computes: a CEL
// expression never declassifies; only template filters do, and each secret
// accepts only the filters of its type.

// origin is where a secret is born.
type origin struct {
	step  int
	v     string
	typ   InputType // for set origins, computed from the sources
	set   bool
	label string // "collected", "secret output of action x"
}

// taintState holds the facts at each step and what the analysis learnt.
type taintState struct {
	origins []origin
	byKey   map[[2]string]int
	// in[i][v] is the set of origins variable index v may hold on entry
	// to step i.
	in [][]bitset
	// derive[o] lists the origins a set origin o was computed from.
	derive map[int]bitset
	// types caches the input types an origin may stand for.
	types map[int][]InputType
}

func (c *checker) originOf(step int, v string) int {
	return c.taint.byKey[[2]string{c.f.Steps[step].ID, v}]
}

// genTaint returns the facts after step i along label, given facts st on
// entry. It records derivations of set origins.
func (c *checker) genTaint(i int, label string, st []bitset) []bitset {
	if label != "next" {
		return st
	}
	s := c.f.Steps[i]
	set := func(st []bitset, name string, b bitset) []bitset {
		v := c.vars[name]
		if v == nil {
			return st
		}
		st = slices.Clone(st)
		st[v.idx] = b
		return st
	}
	switch b := s.Body.(type) {
	case *Collect:
		for _, fd := range b.Fields {
			st = set(st, fd.Var, bitset(nil).add(c.originOf(i, fd.Var)))
		}
	case *Action:
		for _, m := range b.Outputs {
			if m.Visibility == VisibilitySecret {
				st = set(st, m.Var, bitset(nil).add(c.originOf(i, m.Var)))
			} else {
				st = set(st, m.Var, nil)
			}
		}
	case *Set:
		for _, a := range b.Assign {
			var src bitset
			for _, r := range c.exprRefs[a.Value] {
				if v := c.vars[r.name]; v != nil && v.idx < len(st) {
					src, _ = src.or(st[v.idx])
				}
			}
			if src.empty() {
				st = set(st, a.Var, nil)
				continue
			}
			o := c.originOf(i, a.Var)
			c.taint.derive[o], _ = c.taint.derive[o].or(src)
			st = set(st, a.Var, bitset(nil).add(o))
		}
	}
	return st
}

func joinTaint(dst, src []bitset) ([]bitset, bool) {
	grew := false
	for v := range dst {
		var g bool
		dst[v], g = dst[v].or(src[v])
		grew = grew || g
	}
	return dst, grew
}

// taintAnalysis computes the facts and checks every sink.
func (c *checker) taintAnalysis() {
	ts := &taintState{byKey: map[[2]string]int{}, derive: map[int]bitset{}, types: map[int][]InputType{}}
	c.taint = ts
	addOrigin := func(o origin) {
		key := [2]string{c.f.Steps[o.step].ID, o.v}
		if _, dup := ts.byKey[key]; !dup {
			ts.byKey[key] = len(ts.origins)
			ts.origins = append(ts.origins, o)
		}
	}
	for i, s := range c.f.Steps {
		switch b := s.Body.(type) {
		case *Collect:
			for _, fd := range b.Fields {
				addOrigin(origin{step: i, v: fd.Var, typ: fd.Type, label: "collected at step " + s.ID})
			}
		case *Action:
			spec := c.opts.Actions[b.Name]
			for _, m := range b.Outputs {
				if m.Visibility == VisibilitySecret {
					kind := InputSecret
					if p, ok := spec.Outputs[m.From]; ok {
						kind = p.kind()
					}
					addOrigin(origin{step: i, v: m.Var, typ: kind, label: "secret output " + m.From + " of action " + b.Name + " at step " + s.ID})
				}
			}
		case *Set:
			for _, a := range b.Assign {
				addOrigin(origin{step: i, v: a.Var, set: true, label: "computed at step " + s.ID})
			}
		}
	}

	n, nv := len(c.f.Steps), len(c.varList)
	ts.in = make([][]bitset, n)
	for i := range ts.in {
		ts.in[i] = make([]bitset, nv)
	}
	handler := make([]bool, n)
	for i := range n {
		handler[i] = c.isHandler(i)
	}
	global := make([]bitset, nv) // union of every state, for handlers
	for changed := true; changed; {
		changed = false
		next := make([]bitset, nv)
		for i := range n {
			if !c.reach[i] {
				continue
			}
			st := make([]bitset, nv)
			for _, e := range c.in[i] {
				if c.reach[e.to] {
					st, _ = joinTaint(st, c.genTaint(e.to, e.label, ts.in[e.to]))
				}
			}
			if handler[i] {
				st, _ = joinTaint(st, global)
			}
			if _, grew := joinTaint(ts.in[i], st); grew {
				changed = true
			}
			next, _ = joinTaint(next, ts.in[i])
			for _, e := range c.out[i] {
				next, _ = joinTaint(next, c.genTaint(i, e.label, ts.in[i]))
			}
		}
		if _, grew := joinTaint(global, next); grew {
			changed = true
		}
	}
	c.computeTypes()
	c.checkSinks()
}

// computeTypes finds the input types each origin may stand for: its own
// for a collect or action origin; for a set origin that copies one variable
// (x: card), the types of everything it may copy, through any chain or loop
// of copies; the generic secret type for any other set origin. It is a
// fixpoint: the sets only grow, so it ends.
func (c *checker) computeTypes() {
	ts := c.taint
	sets := make([]map[InputType]bool, len(ts.origins))
	copies := make([]bool, len(ts.origins))
	for i, o := range ts.origins {
		sets[i] = map[InputType]bool{}
		switch {
		case !o.set:
			sets[i][o.typ] = true
		case c.isCopy(o):
			copies[i] = true
		default:
			sets[i][InputSecret] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for i := range ts.origins {
			if !copies[i] {
				continue
			}
			for _, src := range ts.derive[i].members() {
				for t := range sets[src] {
					if !sets[i][t] {
						sets[i][t] = true
						changed = true
					}
				}
			}
		}
	}
	for i, set := range sets {
		if len(set) == 0 {
			set[InputSecret] = true
		}
		ts.types[i] = slices.Sorted(maps.Keys(set))
	}
}

// originTypes returns the input types origin o may stand for.
func (c *checker) originTypes(o int) []InputType { return c.taint.types[o] }

// isCopy reports whether the set assignment behind a set origin is a bare
// variable reference (x: card).
func (c *checker) isCopy(org origin) bool {
	b, ok := c.f.Steps[org.step].Body.(*Set)
	if !ok {
		return false
	}
	for _, a := range b.Assign {
		if a.Var == org.v {
			src := strings.TrimSpace(a.Value.Source)
			return isIdent(src) && len(c.exprRefs[a.Value]) == 1
		}
	}
	return false
}

// rootOrigin follows derivations of a set origin back to a collect or
// action origin, for messages.
func (c *checker) rootOrigin(o int) int {
	seen := map[int]bool{}
	for c.taint.origins[o].set && !seen[o] {
		seen[o] = true
		m := c.taint.derive[o].members()
		if len(m) == 0 {
			break
		}
		o = m[0]
	}
	return o
}

// describeOrigin says where the secret in v comes from.
func (c *checker) describeOrigin(v string, o int) string {
	org := c.taint.origins[o]
	r := c.taint.origins[c.rootOrigin(o)]
	if org.set && !r.set {
		return fmt.Sprintf("%s, computed at step %s from %s (%s %s)", v, c.f.Steps[org.step].ID, r.v, r.typ, r.label)
	}
	return fmt.Sprintf("%s (%s %s)", v, org.typ, org.label)
}

func (c *checker) checkSinks() {
	ts := c.taint
	for _, u := range c.uses() {
		if u.sink == sinkNone || !c.reach[u.step] {
			continue
		}
		st := ts.in[u.step]
		if u.after {
			st = c.genTaint(u.step, "next", st)
		}
		whole := u.tpl.whole()
		for _, r := range c.reads(u) {
			v := c.vars[r.name]
			if v == nil || v.idx >= len(st) || st[v.idx].empty() {
				continue
			}
			origins := st[v.idx].members()
			o := origins[0]
			var types []InputType
			for _, x := range origins {
				for _, t := range c.originTypes(x) {
					if !slices.Contains(types, t) {
						types = append(types, t)
					}
				}
			}
			slices.Sort(types)
			if len(r.ref.Filters) == 0 {
				if u.sink == sinkActionInput {
					if whole != nil {
						if c.opts.Actions[u.action].Inputs[u.param].Secret {
							continue // revealed into the outgoing request only
						}
						path := c.taintPath(o, u)
						c.report(r.pos, RuleTaint, path, "secret %s reaches %s, which the catalog does not mark secret, so the action would treat it as public (path %s): bind it only to a secret input", c.describeOrigin(v.name, o), u.what, arrow(path))
						continue
					}
					path := c.taintPath(o, u)
					c.report(r.pos, RuleTaint, path, "secret %s reaches %s inside text (path %s): a secret reaches an action only as a whole value, {{ %s }}, bound to a secret input", c.describeOrigin(v.name, o), u.what, arrow(path), v.name)
					continue
				}
				path := c.taintPath(o, u)
				c.report(r.pos, RuleTaint, path, "secret %s reaches %s unmasked (path %s): use a masking filter, as in {{ %s | %s }}", c.describeOrigin(v.name, o), u.what, arrow(path), v.name, suggestFilter(types))
				continue
			}
			f := r.ref.Filters[0]
			if !f.Valid() {
				continue // reported by definedness
			}
			for _, t := range types {
				if !t.Allows(f) {
					path := c.taintPath(o, u)
					c.report(r.pos, RuleUnsafeFilter, path, "filter %s would disclose part of secret %s in %s; %s allows %s", f, c.describeOrigin(v.name, o), u.what, t, filterList(t.Filters()))
					break
				}
			}
		}
	}
}

// suggestFilter picks a filter every type allows, preferring last4.
func suggestFilter(types []InputType) Filter {
	for _, f := range []Filter{FilterLast4, FilterMask} {
		ok := true
		for _, t := range types {
			ok = ok && t.Allows(f)
		}
		if ok {
			return f
		}
	}
	return FilterMask
}

// taintPath returns a sequence of step ids along which the secret of origin
// o travels to the use u: for a secret computed by set, first the path of
// the secret it was computed from to that set step. A jump to a handler is
// shown by the handler's key (for example "on_agent_gone").
func (c *checker) taintPath(o int, u use) []string {
	return c.taintPathTo(o, u.step, u.after, 0)
}

func (c *checker) taintPathTo(o, target int, after bool, depth int) []string {
	ts := c.taint
	org := ts.origins[o]
	var prefix []string
	if org.set && depth < 16 {
		srcs := ts.derive[o].members()
		pick := -1
		for _, s := range srcs {
			if ts.origins[s].step != org.step {
				pick = s
				break
			}
		}
		if pick < 0 && len(srcs) > 0 {
			pick = srcs[0]
		}
		if pick >= 0 {
			prefix = c.taintPathTo(pick, org.step, false, depth+1)
			prefix = prefix[:len(prefix)-1] // the segment below starts at the set step
		}
	}
	return append(prefix, c.segment(o, target, after)...)
}

// segment is a shortest walk from the step where origin o is born to
// target, through steps whose state keeps o in its variable; on entry to
// target (or, if after, once target completes) the variable holds o.
func (c *checker) segment(o, target int, after bool) []string {
	ts := c.taint
	org := ts.origins[o]
	v := c.vars[org.v]
	if v == nil {
		return []string{c.f.Steps[target].ID}
	}
	if org.step == target && after {
		return []string{c.f.Steps[target].ID}
	}
	type entry struct {
		step, prev int
		via        string // handler key when the hop is a jump to a handler
	}
	var handlers []root
	for _, r := range c.roots {
		if r.key != "start" {
			handlers = append(handlers, r)
		}
	}
	entries := []entry{{step: org.step, prev: -1}}
	seen := make([]bool, len(c.f.Steps))
	goal := -1
	for k := 0; k < len(entries) && goal < 0; k++ {
		s := entries[k].step
		visit := func(to int, via string) {
			switch {
			case to == target:
				entries = append(entries, entry{step: to, prev: k, via: via})
				goal = len(entries) - 1
			case !seen[to]:
				seen[to] = true
				entries = append(entries, entry{step: to, prev: k, via: via})
			}
		}
		for _, e := range c.out[s] {
			if goal < 0 && c.genTaint(s, e.label, ts.in[s])[v.idx].has(o) {
				visit(e.to, "")
			}
		}
		for _, h := range handlers {
			if goal < 0 && ts.in[h.step][v.idx].has(o) {
				visit(h.step, h.key)
			}
		}
	}
	if goal < 0 {
		return []string{c.f.Steps[org.step].ID, c.f.Steps[target].ID}
	}
	var rev []string
	for k := goal; k >= 0; k = entries[k].prev {
		rev = append(rev, c.f.Steps[entries[k].step].ID)
		if entries[k].via != "" {
			rev = append(rev, entries[k].via)
		}
	}
	slices.Reverse(rev)
	return rev
}
