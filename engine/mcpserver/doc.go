// Package mcpserver serves one compiled MCP exposes block
// ([engine.MCPSurface]) as a Model Context Protocol server, over Streamable
// HTTP ([Server.Handler]) or newline-delimited JSON-RPC on stdio
// ([Server.ServeStdio]), using the official go-sdk.
//
// The *mcp.Server is built once, in [New]: server info, instructions, and
// every tool with its input schema and annotations are computed at start-up;
// requests only look them up.
//
// # Tools
//
// Each engine.Tool becomes an MCP tool with its name, title, description and
// an input schema built from the action's inputs (declared, or inferred from
// `with` and the consumed operation):
//
//	{"type":"object",
//	 "properties":{"patientId":{"type":"string","description":"…"}},
//	 "required":["patientId"],
//	 "additionalProperties":false}
//
// additionalProperties is false so a model (and a client that validates
// arguments, or a provider's "strict" function calling) sees the complete,
// closed list of what the tool understands instead of inventing arguments.
// The server is nevertheless lenient: an argument outside the schema is
// handed to the engine, which may use it (a `{{x}}` template in `with` is not
// yet listed among inferred inputs), rather than failing the call. Arrays get
// "items": {} because several model providers reject array schemas without
// items.
//
// Hints become annotations (readOnlyHint, destructiveHint, idempotentHint,
// openWorldHint); the tool label becomes both title and annotations.title.
// The go-sdk always serialises readOnlyHint and idempotentHint (false when
// the file does not set them), which is the protocol's default anyway.
//
// # Results
//
// A successful call answers the upstream's JSON as one text content, byte for
// byte (a UTF-8 BOM dropped), and the same JSON as structuredContent when it
// is an object. Values built by an output mapping are encoded once (no HTML
// escaping). An empty successful answer (202 Accepted for a FHIR bulk
// export, 204) is described in words with its Location/Content-Location.
//
// Everything else is a tool result with isError set and a message a model
// can act on: bad or missing arguments (no upstream call was made, and the
// expected arguments are listed), the upstream status with its reason and the
// upstream's own diagnostics (each issue of a FHIR OperationOutcome; other
// bodies truncated to 4 KB), 401/403 explained as the gateway's own
// credentials being refused, timeouts, unreachable upstreams, and bodies that
// are not the JSON the capability declares. Unknown tools are JSON-RPC errors
// (the go-sdk answers them). Every text that leaves the package, results and
// logs alike, goes through the capability's Vars.Redact, successful upstream
// bodies included: an upstream that echoes the bearer token does not leak it.
//
// # Size bound
//
// A passthrough body is read into memory up to 4 MiB ([DefaultMaxResultBytes],
// see [WithMaxResultBytes]); a larger one is an isError result that points
// the caller at the REST route, which streams without a bound. Why 4 MiB:
// the result carries the JSON twice (text and structuredContent) and the
// text is escaped once more inside the JSON-RPC frame, so a 4 MiB body makes
// a frame of roughly 9–10 MiB, safely under the 16 MiB per-message limit the
// go-sdk's own clients apply to stdio lines and SSE events; 4 MiB is also
// about a million tokens, more than any model can read in one tool result.
// 64 MB bodies would cost hundreds of MB per call and be refused by clients.
//
// # Origin policy
//
// The server puts engine/origin in front of every HTTP block, this one
// included: Host checked on loopback listeners, browser Origins refused
// unless loopback or allowed (with CORS for those). The go-sdk's own
// DNS-rebinding check stays on behind it.
//
// # Sessions and logs
//
// Streamable HTTP is stateful (the go-sdk default). Idle sessions are closed
// after 30 minutes ([WithSessionTimeout]) so clients that vanish without a
// DELETE do not accumulate, and at most [WithMaxSessions] are held. Tool calls are logged at Debug (tool, argument
// names — never values, which may be patient identifiers — status, time),
// failures at Warn with the first line of their message only (the upstream's
// diagnostics may quote identifiers), calls refused for bad arguments at
// Info; the go-sdk's own informational logs are demoted to Debug.
// Nothing is written to stdout except protocol messages on stdio.
package mcpserver
