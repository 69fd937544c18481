// `npm start` (`node src/main.ts`): the IdP process, src/server.ts, loaded with Node's
// on-disk compile cache on, so that a restart reuses the code compiled last time (the
// modules are most of the start-up time: bench:startup, bench/README.md). The cache is
// Node's own (NODE_COMPILE_CACHE names its folder; default: the system's temporary
// folder) and is checked against every file's contents, so a changed file is compiled anew.
// Node before 22.1 has no compile cache (the packed IdP runs there too): it starts without.
import * as nodeModule from 'node:module';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./server.ts');
