package flow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
)

// Lint checks a parsed flow against every rule of the language: paths and
// ends, agent reservation, variables and CEL types, the action catalog in
// opts, the taint of secrets and the channel policy. It returns the
// diagnostics sorted. Lint expects a flow whose [Parse] found no error;
// given anything else it does not panic, but may report less.
func Lint(f *Flow, opts Options) Diagnostics {
	if f == nil {
		return nil
	}
	c := newChecker(f, opts)
	c.check()
	c.ds.Sort()
	return c.ds
}

// checker holds the state of one Lint.
type checker struct {
	f    *Flow
	opts Options
	ds   Diagnostics

	index map[string]int
	out   [][]edge // resolved transitions per step
	in    [][]edge // reversed: in[j] holds edges i→j as {label, i}
	roots []root
	reach []bool // reachable from some root

	vars     map[string]*variable
	varList  []*variable
	env      *cel.Env
	asts     map[*Expr]*cel.Ast
	exprRefs map[*Expr][]exprRef

	defined []bitset // definite-assignment state on entry to each step
	taint   *taintState
}

// edge is a resolved transition; to is the index of the other step.
type edge struct {
	label string
	to    int
}

// root is an entry point of the flow: start or a handler.
type root struct {
	key  string // "start", "on_agent_gone", "on_cancel" or "on_timeout"
	step int
	pos  Pos
}

func newChecker(f *Flow, opts Options) *checker {
	return &checker{f: f, opts: opts, index: map[string]int{}, vars: map[string]*variable{}}
}

func (c *checker) report(p Pos, r Rule, path []string, format string, args ...any) {
	c.ds = append(c.ds, Diagnostic{
		File: c.f.File, Line: p.Line, Column: p.Column,
		Severity: severityOf(r), Rule: r, Message: fmt.Sprintf(format, args...), Path: path,
	})
}

func (c *checker) check() {
	c.graph()
	c.reachability()
	c.deadEnds()
	c.inputFreeCycles()
	c.modeRules()
	c.channelPolicy()
	c.declare()
	c.compile()
	c.catalogTypes()
	c.definedness()
	c.taintAnalysis()
	c.unusedSecrets()
}

// ids returns the step ids of a path of step indices.
func (c *checker) ids(path []int) []string {
	out := make([]string, len(path))
	for i, s := range path {
		out[i] = c.f.Steps[s].ID
	}
	return out
}

// rootIDs is ids for a path that starts at an entry point: a path entered
// through a handler starts with the handler's key ("on_agent_gone").
func (c *checker) rootIDs(path []int) []string {
	ids := c.ids(path)
	if len(path) == 0 {
		return ids
	}
	key := ""
	for _, r := range c.roots {
		if r.step == path[0] && (key == "" || r.key == "start") {
			key = r.key
		}
	}
	if key != "" && key != "start" {
		ids = append([]string{key}, ids...)
	}
	return ids
}

func arrow(path []string) string { return strings.Join(path, " → ") }

// graph indexes steps, resolves transitions and reports dangling ones.
func (c *checker) graph() {
	f := c.f
	for i, s := range f.Steps {
		if prev, dup := c.index[s.ID]; dup {
			c.report(s.Pos, RuleDuplicateID, nil, "step id %q is already used at line %d", s.ID, f.Steps[prev].Pos.Line)
			continue
		}
		c.index[s.ID] = i
	}
	ids := make([]string, 0, len(f.Steps))
	for _, s := range f.Steps {
		ids = append(ids, s.ID)
	}
	c.out = make([][]edge, len(f.Steps))
	c.in = make([][]edge, len(f.Steps))
	resolve := func(t Target, what string, at Pos) (int, bool) {
		j, ok := c.index[t.Step]
		if !ok {
			p := t.Pos
			if p == (Pos{}) {
				p = at
			}
			msg := fmt.Sprintf("%s names step %q, which does not exist", what, t.Step)
			if s := closest(t.Step, ids); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			c.report(p, RuleDanglingTarget, nil, "%s", msg)
		}
		return j, ok
	}
	for i, s := range f.Steps {
		if s.Body == nil {
			c.report(s.Pos, RuleMissingField, nil, "step %s has no type", s.ID)
			continue
		}
		seen := map[Target]bool{} // on_timeout defaults to a target already checked
		for _, e := range s.Edges() {
			if seen[e.Target] && e.Target.Pos != (Pos{}) {
				continue
			}
			seen[e.Target] = true
			if e.Target.IsZero() {
				if e.Label != "on_timeout" { // defaults to on_failure / no
					c.report(s.Pos, RuleMissingField, nil, "step %s needs %q", s.ID, e.Label)
				}
				continue
			}
			if j, ok := resolve(e.Target, e.Label+" of step "+s.ID, s.Pos); ok {
				c.out[i] = append(c.out[i], edge{e.Label, j})
				c.in[j] = append(c.in[j], edge{e.Label, i})
			}
		}
	}
	if len(f.Steps) == 0 {
		c.report(f.pos("steps"), RuleMissingField, nil, "the flow has no steps")
		return
	}
	start := f.Start
	if start.IsZero() {
		start = Target{Step: f.Steps[0].ID, Pos: f.Steps[0].Pos}
	}
	for _, r := range []struct {
		key string
		t   Target
	}{{"start", start}, {"on_agent_gone", f.OnAgentGone}, {"on_cancel", f.OnCancel}, {"on_timeout", f.OnTimeout}} {
		if r.t.IsZero() {
			continue
		}
		if j, ok := resolve(r.t, r.key, f.pos(r.key)); ok {
			c.roots = append(c.roots, root{key: r.key, step: j, pos: r.t.Pos})
		}
	}
}

// rootOf returns the root with the given key, if any.
func (c *checker) rootOf(key string) (root, bool) {
	for _, r := range c.roots {
		if r.key == key {
			return r, true
		}
	}
	return root{}, false
}

// isHandler reports whether step i is the target of a handler (on_agent_gone,
// on_cancel, on_timeout), which the engine may jump to from anywhere.
func (c *checker) isHandler(i int) bool {
	for _, r := range c.roots {
		if r.key != "start" && r.step == i {
			return true
		}
	}
	return false
}

// shortestPath returns a shortest path of step indices from one of from to a
// step satisfying goal, following edges that ok accepts (all when ok is
// nil), or nil.
func (c *checker) shortestPath(from []int, goal func(int) bool, ok func(i int, e edge) bool) []int {
	parent := make([]int, len(c.f.Steps))
	for i := range parent {
		parent[i] = -2
	}
	var queue []int
	for _, s := range from {
		if parent[s] == -2 {
			parent[s] = -1
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if goal(s) {
			var path []int
			for x := s; x != -1; x = parent[x] {
				path = append(path, x)
			}
			slices.Reverse(path)
			return path
		}
		for _, e := range c.out[s] {
			if parent[e.to] == -2 && (ok == nil || ok(s, e)) {
				parent[e.to] = s
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}

// reachable returns the steps reachable from the given ones.
func (c *checker) reachable(from ...int) []bool {
	seen := make([]bool, len(c.f.Steps))
	stack := slices.Clone(from)
	for _, s := range from {
		seen[s] = true
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range c.out[s] {
			if !seen[e.to] {
				seen[e.to] = true
				stack = append(stack, e.to)
			}
		}
	}
	return seen
}

func (c *checker) rootSteps() []int {
	var out []int
	for _, r := range c.roots {
		out = append(out, r.step)
	}
	return out
}

func (c *checker) reachability() {
	c.reach = c.reachable(c.rootSteps()...)
	for i, s := range c.f.Steps {
		if !c.reach[i] {
			c.report(s.Pos, RuleUnreachable, nil, "step %s is unreachable: no path from start or a handler leads to it", s.ID)
		}
	}
}

// deadEnds reports steps from which no end step can be reached.
func (c *checker) deadEnds() {
	n := len(c.f.Steps)
	live := make([]bool, n)
	var stack []int
	for i, s := range c.f.Steps {
		if s.Kind().IsEnd() {
			live[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range c.in[s] {
			if !live[e.to] {
				live[e.to] = true
				stack = append(stack, e.to)
			}
		}
	}
	for i, s := range c.f.Steps {
		if !live[i] && s.Body != nil {
			c.report(s.Pos, RuleDeadEnd, nil, "no end step (return_to_agent, transfer or disconnect) is reachable from step %s: a customer who gets here is stranded", s.ID)
		}
	}
}

// inputFreeCycles reports each strongly connected set of steps that loops
// without a collect or confirm step, which would spin without the customer.
func (c *checker) inputFreeCycles() {
	n := len(c.f.Steps)
	skip := func(i int) bool { return c.f.Steps[i].Kind().ConsumesInput() }
	// Tarjan's algorithm, iterative.
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack, comp []int
	next := 0
	type frame struct{ v, e int }
	for s := range n {
		if index[s] >= 0 || skip(s) {
			continue
		}
		call := []frame{{s, 0}}
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for len(call) > 0 {
			fr := &call[len(call)-1]
			v := fr.v
			if fr.e < len(c.out[v]) {
				w := c.out[v][fr.e].to
				fr.e++
				if skip(w) {
					continue
				}
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			comp = comp[:0]
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			c.reportCycle(comp)
		}
	}
}

func (c *checker) reportCycle(comp []int) {
	in := make([]bool, len(c.f.Steps))
	for _, s := range comp {
		in[s] = true
	}
	first := slices.Min(comp)
	selfLoop := slices.ContainsFunc(c.out[first], func(e edge) bool { return e.to == first })
	if len(comp) == 1 && !selfLoop {
		return
	}
	// A cycle through first: a path from one of its successors inside the
	// component back to it.
	var cycle []int
	if selfLoop {
		cycle = []int{first, first}
	} else {
		var succ []int
		for _, e := range c.out[first] {
			if in[e.to] && e.to != first {
				succ = append(succ, e.to)
			}
		}
		p := c.shortestPath(succ, func(s int) bool { return s == first }, func(_ int, e edge) bool { return in[e.to] })
		cycle = append([]int{first}, p...)
	}
	path := c.ids(cycle)
	c.report(c.f.Steps[first].Pos, RuleInputFreeCycle, path, "steps %s loop without waiting for customer input: add a collect or confirm step to the loop, or a way out", arrow(path))
}

// returnSteps returns the indices of return_to_agent steps.
func (c *checker) returnSteps() []int {
	var out []int
	for i, s := range c.f.Steps {
		if s.Kind() == KindReturnToAgent {
			out = append(out, i)
		}
	}
	return out
}

// modeRules applies the seed's rules on who may be returned to an agent.
func (c *checker) modeRules() {
	f := c.f
	returns := c.returnSteps()
	isReturn := func(i int) bool { return f.Steps[i].Kind() == KindReturnToAgent }
	reportEach := func(rule Rule, why string) {
		for _, r := range returns {
			p := c.shortestPath(c.rootSteps(), func(s int) bool { return s == r }, nil)
			if p == nil {
				continue
			}
			path := c.rootIDs(p)
			c.report(f.Steps[r].Pos, rule, path, "%s, but step %s returns to the agent (path %s): end with transfer or disconnect", why, f.Steps[r].ID, arrow(path))
		}
	}
	switch f.Mode {
	case ModeSelfService:
		reportEach(RuleSelfServiceReturn, "a self-service flow has no agent to return to")
	case ModeAgentReferred:
		if !f.ReserveAgent {
			reportEach(RuleUnreservedReturn, "this flow does not reserve the agent (reserve_agent is false), so no agent waits for the customer")
			if !f.OnAgentGone.IsZero() {
				c.report(f.OnAgentGone.Pos, RuleUnusedAgentGone, nil, "on_agent_gone is never taken: the flow does not reserve the agent")
			}
			return
		}
		at := f.pos("reserve_agent")
		if st, ok := c.rootOf("start"); ok && c.shortestPath([]int{st.step}, isReturn, nil) == nil {
			c.report(at, RuleReserveNoReturn, nil, "the flow reserves the agent, but no path from start reaches return_to_agent: the agent would wait in vain; end a path with return_to_agent or set reserve_agent: false")
		}
		if f.OnAgentGone.IsZero() {
			c.report(at, RuleAgentGone, nil, "the flow reserves the agent but has no on_agent_gone: name the step (a transfer) where a customer whose agent left continues")
			return
		}
		if g, ok := c.rootOf("on_agent_gone"); ok {
			if p := c.shortestPath([]int{g.step}, isReturn, nil); p != nil {
				path := append([]string{"on_agent_gone"}, c.ids(p)...)
				c.report(f.OnAgentGone.Pos, RuleAgentGone, path, "on_agent_gone leads to return_to_agent (path %s), but the agent has left: end that path with transfer or disconnect", arrow(path))
			}
		}
	}
}

// channelPolicy applies WhatsApp's Business Messaging Policy and the
// capture modes' channel constraints.
func (c *checker) channelPolicy() {
	f := c.f
	whatsapp := f.HasChannel(ChannelWhatsApp)
	var others []string
	for _, ch := range f.Channels {
		if ch != ChannelWhatsApp {
			others = append(others, string(ch))
		}
	}
	for _, s := range f.Steps {
		b, ok := s.Body.(*Collect)
		if !ok {
			continue
		}
		at := b.capturePos
		if at == (Pos{}) {
			at = s.Pos
		}
		if b.Capture == CaptureWhatsAppFlow && len(others) > 0 {
			c.report(at, RuleCaptureChannel, nil, "step %s captures with a WhatsApp Flow, but the flow also runs on %s: use capture: link, or set channels: [whatsapp]", s.ID, strings.Join(others, ", "))
		}
		if !whatsapp || b.Capture == CaptureLink {
			continue
		}
		for _, fd := range b.Fields {
			if !fd.Type.LinkOnWhatsApp() {
				continue
			}
			how := "in chat"
			if b.Capture == CaptureWhatsAppFlow {
				how = "in a WhatsApp Flow"
			}
			why := "WhatsApp's Business Messaging Policy forbids asking for full card numbers, bank account numbers and national identity numbers"
			if fd.Type == InputCVV {
				why = "a card security code is sensitive authentication data that PCI DSS keeps out of messaging"
			}
			c.report(at, RuleWhatsAppPolicy, nil, "step %s asks for %s (%s) %s on a flow enabled for WhatsApp: %s; use capture: link", s.ID, fd.Var, fd.Type, how, why)
		}
	}
}
