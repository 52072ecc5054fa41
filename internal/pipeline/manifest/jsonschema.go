package manifest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// JSON Schema of manifests, generated from the node types of a Schema so
// that registering a Type is the only change a new node kind needs: its
// config, ports and events appear here too.
//
// The document follows JSON Schema draft 2020-12 (json-schema-core §8,
// json-schema-validation §6); each node type is an if/then branch on
// `type` (core §10.2.2.1), which editors (the YAML language server) use
// for completion. It checks the shape only: unique ids, resolvable
// inputs, cycles, media compatibility and `when` are Validate's.

// JSONSchemaDialect is the $schema of the document.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Patterns of ids, ports (`node` or `node.rendition`), events
// (`node.event`) and Go durations, as ECMA-262 regular expressions.
const (
	idPattern       = `^[a-z0-9][a-z0-9_-]{0,62}$`
	portPattern     = `^[a-z0-9][a-z0-9_-]{0,62}(\.[a-z0-9][a-z0-9_-]{0,62})?$`
	eventPattern    = `^[a-z0-9][a-z0-9_-]{0,62}\.[a-z_]+$`
	durationPattern = `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	bitratePattern  = `^[0-9]+(\.[0-9]+)?[kM]?$`
	namePattern     = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
)

// JSONSchema returns the JSON Schema of manifests of s, as plain values
// ready for encoding/json. id is its $id (the URL it is served at).
func (s *Schema) JSONSchema(id string) map[string]any {
	defs := map[string]any{}
	var branches []any
	for _, name := range s.Names() {
		t := s.types[name]
		ref := "config." + name
		defs[ref] = configSchema(t)
		then := map[string]any{
			"properties": map[string]any{"config": map[string]any{"$ref": "#/$defs/" + ref}},
		}
		var required []string
		if hasRequired(t.Config) {
			required = append(required, "config")
		}
		props := then["properties"].(map[string]any)
		switch {
		case t.Triggered:
			props["inputs"] = map[string]any{"maxItems": 0}
			props["on"] = map[string]any{"minItems": 1}
			required = append(required, "on")
		case t.Accepts == 0:
			props["inputs"] = map[string]any{"maxItems": 0}
			props["on"] = map[string]any{"maxItems": 0}
		default:
			in := map[string]any{"minItems": t.MinInputs}
			if t.MaxInputs > 0 {
				in["maxItems"] = t.MaxInputs
			}
			props["inputs"] = in
			props["on"] = map[string]any{"maxItems": 0}
			if t.MinInputs > 0 {
				required = append(required, "inputs")
			}
		}
		if len(required) > 0 {
			then["required"] = required
		}
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": name}}, "required": []string{"type"}},
			"then": then,
		})
	}
	var facts []string
	for _, v := range WhenVars() {
		facts = append(facts, v.Name+" ("+v.Type+")")
	}
	typeDoc := make([]string, 0, len(s.types))
	for _, name := range s.Names() {
		typeDoc = append(typeDoc, name+": "+s.types[name].Doc)
	}
	defs["node"] = map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id", "type"},
		"properties": map[string]any{
			"id":   map[string]any{"type": "string", "pattern": idPattern, "description": "Unique in the pipeline: 1 to 63 of a-z, 0-9, _ and -."},
			"type": map[string]any{"type": "string", "enum": s.Names(), "description": "The node type. " + strings.Join(typeDoc, " ")},
			"inputs": map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": portPattern},
				"uniqueItems": true, "description": "Ports read: `node` or `node.rendition`."},
			"when": map[string]any{"type": "string", "minLength": 1, "maxLength": MaxWhenLen,
				"description": fmt.Sprintf("A CEL condition on the source, evaluated when it goes live (cost at most %d). Facts: %s.", MaxWhenCost, strings.Join(facts, ", "))},
			"on": map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": eventPattern},
				"description": "Events that trigger the node: `node.event`."},
			"config": map[string]any{"type": "object", "description": "Checked by the node type."},
		},
		"allOf": branches,
	}
	return map[string]any{
		"$schema":              JSONSchemaDialect,
		"$id":                  id,
		"title":                "MpegFlow pipeline manifest",
		"description":          "A pipeline: a DAG of nodes applied with PUT /v1/pipelines/{name} or `mpegflow apply -f`.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"api_version", "kind", "metadata", "spec"},
		"properties": map[string]any{
			"api_version": map[string]any{"const": APIVersion},
			"kind":        map[string]any{"const": KindPipeline},
			"metadata": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"name"},
				"properties": map[string]any{
					"name": map[string]any{"type": "string", "pattern": namePattern, "description": "A DNS label; the pipeline's key."},
					"labels": map[string]any{"type": "object",
						"propertyNames":        map[string]any{"minLength": 1, "maxLength": 63},
						"additionalProperties": map[string]any{"type": "string", "maxLength": 253}},
				},
			},
			"spec": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"nodes"},
				"properties": map[string]any{
					"nodes": map[string]any{"type": "array", "minItems": 1, "maxItems": MaxNodes, "items": map[string]any{"$ref": "#/$defs/node"}},
				},
			},
		},
		"$defs": defs,
	}
}

func hasRequired(fields map[string]Field) bool {
	for _, f := range fields {
		if f.Required {
			return true
		}
	}
	return false
}

func configSchema(t Type) map[string]any {
	o := objectSchema(t.Config)
	if t.Doc != "" {
		o["description"] = t.Doc
	}
	return o
}

func objectSchema(fields map[string]Field) map[string]any {
	props := map[string]any{}
	var required []string
	for name, f := range fields {
		props[name] = fieldSchema(f)
		if f.Required {
			required = append(required, name)
		}
	}
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	return o
}

func fieldSchema(f Field) map[string]any {
	var o map[string]any
	bounded := f.Min != 0 || f.Max != 0
	switch f.Kind {
	case KindString:
		o = map[string]any{"type": "string"}
		if f.Required {
			o["minLength"] = 1
		}
		if len(f.Enum) > 0 {
			o["enum"] = f.Enum
		}
	case KindBool:
		o = map[string]any{"type": "boolean"}
	case KindInt:
		o = map[string]any{"type": "integer"}
		if bounded {
			o["minimum"], o["maximum"] = f.Min, f.Max
		}
	case KindDuration:
		o = map[string]any{"type": "string", "pattern": durationPattern}
		if bounded {
			o["description"] = fmt.Sprintf("A duration between %s and %s.", time.Duration(f.Min), time.Duration(f.Max))
		}
	case KindBitrate:
		num := map[string]any{"type": "integer", "minimum": 0}
		if bounded {
			num["minimum"], num["maximum"] = f.Min, f.Max
		}
		o = map[string]any{"oneOf": []any{num, map[string]any{"type": "string", "pattern": bitratePattern}}}
	case KindObjects:
		o = map[string]any{"type": "array", "items": objectSchema(f.Fields)}
		if f.Min > 0 {
			o["minItems"] = f.Min
		}
	}
	if f.Doc != "" {
		if d, ok := o["description"].(string); ok {
			o["description"] = f.Doc + " " + d
		} else {
			o["description"] = f.Doc
		}
	}
	return o
}
