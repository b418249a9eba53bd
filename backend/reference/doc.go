// Package reference is the oracle: a compute backend made of short, plain
// loops transcribed from each primitive's definition (convolutions,
// pooling, batch norm and linear layers accumulate in float64), written
// for clarity and never optimised. The conformance suite
// (backend/backendtest) judges every other backend against it, and the
// layers' gradient checks run on it. It shares no code with the backends
// it judges.
package reference
