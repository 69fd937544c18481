// CPU time of processes, from /proc: what a benchmark charges the IdP, its redis-server and
// the rest, each on its own.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** CPU seconds (user + system, every thread) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** The pid of the redis-server listening on this port (INFO server). */
export function redisServerPid(port: number): number {
  return Number(/process_id:(\d+)/.exec(spawnSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' }).stdout)![1]);
}
