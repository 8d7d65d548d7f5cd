package flow

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// ActionSpec declares what the linter needs to know of a data action: its
// inputs and outputs. How the action is called (URL, authentication,
// retries) is the action layer's business.
type ActionSpec struct {
	Description string
	// Inputs and Outputs are the action's parameters by name.
	Inputs  map[string]ActionParam
	Outputs map[string]ActionParam
}

// ActionParam is one input or output of a data action.
type ActionParam struct {
	// Type is the value's type (TypeString when empty).
	Type Type
	// Required, for an input, means every action step must bind it.
	Required bool
	// Secret, for an input, means the input may carry a secret: the action
	// reveals it into the outgoing request and nowhere else. A secret may
	// reach no other input. For an output, Secret means the upstream returns
	// sensitive data: a flow may map it only as a secret, or as public
	// through a masking filter.
	Secret bool
	// Kind, for a secret output, is the type of secret it is (for example
	// InputCardNumber), which decides the filters allowed on it; InputSecret
	// when empty.
	Kind InputType
}

func (p ActionParam) typ() Type {
	if p.Type == "" {
		return TypeString
	}
	return p.Type
}

func (p ActionParam) kind() InputType {
	if p.Kind == "" {
		return InputSecret
	}
	return p.Kind
}

var (
	catalogKeys = []string{"actions"}
	actionKeys  = []string{"description", "inputs", "outputs", "http"} // http: how internal/action calls it; ignored here
	paramKeys   = []string{"type", "required", "secret", "kind"}
)

// ParseCatalog decodes a catalog of action specifications from YAML:
//
//	actions:
//	  payments.charge:
//	    description: Charge a card.
//	    inputs:
//	      card:   {type: string, secret: true, required: true}
//	      amount: {type: double, required: true}
//	    outputs:
//	      status: {type: string}
//	      pan:    {type: string, secret: true, kind: card_number}
//
// It returns the catalog and the diagnostics found; the catalog is nil if
// the diagnostics hold an error. filename is used in diagnostics only.
func ParseCatalog(filename string, src []byte) (map[string]ActionSpec, Diagnostics) {
	d := newDecoder(filename, src)
	root := d.document(src)
	if root == nil {
		d.ds.Sort()
		return nil, d.ds
	}
	cat := map[string]ActionSpec{}
	if o := d.object(root, "the catalog", catalogKeys...); o != nil {
		o.require("actions")
		if an, ok := o.vals["actions"]; ok {
			if ao := d.object(an, "actions"); ao != nil {
				for _, name := range ao.keysInOrder() {
					if !reAction.MatchString(name) {
						d.report(ao.keyPos(name), RuleInvalidValue, "action name %q is not valid: %s", name, ruleAction)
						continue
					}
					if spec, ok := d.actionSpec(ao.vals[name], "action "+name); ok {
						cat[name] = spec
					}
				}
			}
		}
	}
	d.ds.Sort()
	if d.ds.HasErrors() {
		return nil, d.ds
	}
	return cat, d.ds
}

func (d *decoder) actionSpec(n *yaml.Node, what string) (ActionSpec, bool) {
	o := d.object(n, what, actionKeys...)
	if o == nil {
		return ActionSpec{}, false
	}
	spec := ActionSpec{Inputs: map[string]ActionParam{}, Outputs: map[string]ActionParam{}}
	if o.has("description") {
		spec.Description, _ = o.str("description")
	}
	for _, side := range []string{"inputs", "outputs"} {
		pn, ok := o.vals[side]
		if !ok {
			continue
		}
		po := d.object(pn, side+" of "+what)
		if po == nil {
			continue
		}
		for _, name := range po.keysInOrder() {
			if !reBinding.MatchString(name) {
				d.report(po.keyPos(name), RuleInvalidValue, "name %q in %s of %s is not valid: %s", name, side, what, ruleBinding)
				continue
			}
			qo := d.object(po.vals[name], side[:len(side)-1]+" "+name+" of "+what, paramKeys...)
			if qo == nil {
				continue
			}
			var p ActionParam
			if t, ok := qo.enum("type", valueTypes...); ok {
				p.Type = Type(t)
			}
			p.Required, _ = qo.boolean("required")
			p.Secret, _ = qo.boolean("secret")
			if qo.has("kind") {
				var kinds []string
				for t := range inputTypes {
					kinds = append(kinds, string(t))
				}
				slices.Sort(kinds)
				if k, ok := qo.enum("kind", kinds...); ok {
					p.Kind = InputType(k)
				}
			}
			if side == "inputs" {
				if qo.has("kind") {
					d.report(qo.keyPos("kind"), RuleInvalidValue, "kind applies to outputs only")
				}
			} else if qo.has("kind") && !p.Secret {
				d.report(qo.keyPos("kind"), RuleInvalidValue, "kind applies to secret outputs only")
			}
			if side == "inputs" {
				spec.Inputs[name] = p
			} else {
				if qo.has("required") {
					d.report(qo.keyPos("required"), RuleInvalidValue, "required applies to inputs only")
				}
				spec.Outputs[name] = p
			}
		}
	}
	return spec, true
}
