// Package spec is the capability document and everything that can be said
// about it without serving it: the typed model that mirrors the YAML with
// source positions (Document and friends), the loader (LoadFile, Parse,
// ResolveImports; Validator.Load parses and validates in one go),
// naftiko's embedded JSON Schema for spec 1.0.0-alpha2, the semantic rules
// behind `naftiko validate` (Validator, Rules), and the
// reading of inputs that validate and run share: Signature (what a consumed
// operation reads per call) and ResolveInputs (which caller input, `with`
// entry or step result feeds each of those values).
//
// It knows nothing about HTTP: the engine compiles a checked Document into a
// runtime plan and never looks at YAML again.
package spec
