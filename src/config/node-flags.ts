// V8's memory, sized for a server that keeps its state in Redis and PostgreSQL
// (bench/README.md "Memory"). By default V8 sizes its young generation by the machine's
// memory (semi-spaces up to 16 MiB here, 134 MB under load) and lets the old generation
// grow to about 3.5 times the live heap before collecting it (51 MB live, 180 MB used).
// Capped: 2 MiB semi-spaces, and the old generation collected once it has grown by half.
// Same CPU per journey in bench:profile and bench:soak; RSS under sign-ins 300 -> 200 MB.
// The cluster's workers get them here (src/server.ts); `npm start` (package.json) and the
// container image (Containerfile ENTRYPOINT) write the same flags, which they cannot import.
export const V8_MEMORY_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=50'];

/** `execArgv` with each of V8_MEMORY_FLAGS the operator has not set (node's arguments or NODE_OPTIONS). */
export function withMemoryFlags(execArgv: string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const own = [...execArgv, ...nodeOptions.split(/\s+/)];
  const named = (flag: string) => flag.split('=')[0]!.replaceAll('_', '-');
  return [...execArgv, ...V8_MEMORY_FLAGS.filter((flag) => !own.some((a) => named(a) === named(flag)))];
}
