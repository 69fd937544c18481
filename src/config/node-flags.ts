// V8's memory, sized for a server that keeps its state in Redis and PostgreSQL
// (bench/README.md "Memory"). By default V8 sizes its young generation by the machine's
// memory (semi-spaces up to 16 MiB here, 134 MB under load) and lets the old generation
// grow to about 3.5 times the live heap before collecting it (51 MB live, 180 MB used).
// Capped: 8 MiB semi-spaces, and the old generation collected once it has grown by half.
// RSS under sign-ins 300 -> 200 MB. The semi-spaces were 2 MiB at first: the same CPU for
// sign-ins and SAML, but on the token endpoint (short requests that allocate much) the
// young generation's collections took 18-20 % of the main thread, 11-13 % at 8 MiB, and
// 5 alternating runs of client_credentials cost 355 against 326 µs a request (medians),
// for about 8 MB more RSS under that load (bench/README.md "Memory").
// The cluster's workers get them here (src/server.ts); `npm start` (package.json) and the
// container image (Containerfile ENTRYPOINT) write the same flags, which they cannot import.
export const V8_MEMORY_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];

/** `execArgv` with each of V8_MEMORY_FLAGS the operator has not set (node's arguments or NODE_OPTIONS). */
export function withMemoryFlags(execArgv: string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const own = [...execArgv, ...nodeOptions.split(/\s+/)];
  const named = (flag: string) => flag.split('=')[0]!.replaceAll('_', '-');
  return [...execArgv, ...V8_MEMORY_FLAGS.filter((flag) => !own.some((a) => named(a) === named(flag)))];
}
