// A real MCP client, built on the official TypeScript SDK, that drives a
// naftiko MCP block the way an agent host would. cmd/naftiko's end-to-end
// tests (external_clients_e2e_test.go) run it and assert on what it prints.
//
// Usage:
//   node client.mjs http URL                 Streamable HTTP, e.g. http://127.0.0.1:9090/mcp
//   node client.mjs stdio -- CMD [ARGS...]   spawn CMD and speak stdio to it
//
// It connects, lists the tools, calls
//   retrieve-complete-clinical-record-attributed {patientId: "example"},
//   retrieve-fhir-capability-statement {},
//   the first listed tool with no arguments (a tool error is expected),
// and prints one JSON document on stdout:
//   {transport, server: {name, version, protocolVersion, capabilities},
//    tools: [{name, inputSchema, outputSchema}],
//    calls: [{tool, arguments, isError, text, contentTypes, hasStructuredContent} | {tool, arguments, protocolError}]}
// With NAFTIKO_WALK=MEMBER in the environment it also walks that member's
// record page by page, following _meta["io.naftiko/next"] until it is
// absent, and reports walk: {member, pages, maxPageBytes, entries: ["Type/id"...]}.
// It exits 1 when the session fails or any call fails at the protocol level
// (a JSON-RPC error instead of a result), 2 on bad usage. The JSON document
// is printed in every case it got far enough to connect.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const REQUEST_TIMEOUT_MS = 20_000;

function usage(msg) {
  if (msg) console.error(`client.mjs: ${msg}`);
  console.error("usage: node client.mjs http URL | node client.mjs stdio -- CMD [ARGS...]");
  process.exit(2);
}

function makeTransport(argv) {
  const [mode, ...rest] = argv;
  if (mode === "http") {
    if (rest.length !== 1) usage("http wants exactly one URL");
    return new StreamableHTTPClientTransport(new URL(rest[0]));
  }
  if (mode === "stdio") {
    const args = rest[0] === "--" ? rest.slice(1) : rest;
    if (args.length === 0) usage("stdio wants a command after --");
    return new StdioClientTransport({
      command: args[0],
      args: args.slice(1),
      // The SDK hands children a minimal environment by default; the server
      // needs ours (CIGNA_API_KEY supplies the upstream bearer token).
      env: { ...process.env },
      stderr: "inherit",
    });
  }
  usage(`unknown transport ${JSON.stringify(mode)}`);
}

async function call(client, tool, args) {
  const seen = { tool, arguments: args ?? null };
  try {
    const params = args === undefined ? { name: tool } : { name: tool, arguments: args };
    const res = await client.callTool(params, undefined, { timeout: REQUEST_TIMEOUT_MS });
    const content = Array.isArray(res.content) ? res.content : [];
    const firstText = content.find((c) => c.type === "text");
    seen.isError = res.isError === true;
    seen.text = firstText ? firstText.text : null;
    seen.contentTypes = content.map((c) => c.type);
    seen.hasStructuredContent = res.structuredContent !== undefined && res.structuredContent !== null;
  } catch (err) {
    seen.protocolError = String(err?.message ?? err);
    if (err?.code !== undefined) seen.protocolErrorCode = err.code;
  }
  return seen;
}

// walk follows a paged result to its end, as an agent host would.
async function walk(client, member) {
  const out = { member, pages: 0, maxPageBytes: 0, entries: [] };
  let args = { patientId: member };
  while (args) {
    const res = await client.callTool(
      { name: "retrieve-complete-clinical-record-attributed", arguments: args },
      undefined,
      { timeout: REQUEST_TIMEOUT_MS },
    );
    if (res.isError) throw new Error(`page ${out.pages + 1}: ${res.content?.[0]?.text}`);
    out.pages++;
    const text = res.content[0].text;
    out.maxPageBytes = Math.max(out.maxPageBytes, Buffer.byteLength(text));
    for (const e of JSON.parse(text).entry ?? []) {
      out.entries.push(`${e.resource.resourceType}/${e.resource.id}`);
    }
    args = res._meta?.["io.naftiko/next"];
  }
  return out;
}

async function main() {
  const transport = makeTransport(process.argv.slice(2));
  const client = new Client({ name: "naftiko-e2e-ts-client", version: "1.0.0" });
  let closing = false;
  client.onerror = (err) => {
    // Closing aborts the standalone SSE stream; that is not worth a line.
    if (!closing) console.error(`client.mjs: transport error: ${err?.message ?? err}`);
  };

  await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
  const report = {
    transport: process.argv[2],
    server: {
      ...client.getServerVersion(),
      protocolVersion: transport.protocolVersion ?? null,
      capabilities: client.getServerCapabilities() ?? null,
    },
    tools: [],
    calls: [],
  };
  let failed = false;
  try {
    const listed = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    report.tools = listed.tools.map((t) => ({
      name: t.name,
      description: t.description ?? null,
      inputSchema: t.inputSchema ?? null,
      outputSchema: t.outputSchema ?? null,
      annotations: t.annotations ?? null,
    }));
    report.calls.push(await call(client, "retrieve-complete-clinical-record-attributed", { patientId: "example" }));
    report.calls.push(await call(client, "retrieve-fhir-capability-statement", {}));
    if (report.tools.length > 0) {
      report.calls.push(await call(client, report.tools[0].name, undefined));
    }
    failed = report.calls.some((c) => c.protocolError !== undefined);
    if (process.env.NAFTIKO_WALK) {
      report.walk = await walk(client, process.env.NAFTIKO_WALK);
    }
  } catch (err) {
    report.error = String(err?.message ?? err);
    failed = true;
  } finally {
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    closing = true;
    await client.close().catch(() => {});
  }
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`client.mjs: ${err?.stack ?? err}`);
  process.exit(1);
});
