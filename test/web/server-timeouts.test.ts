// The HTTP server's own limits (server.headersTimeoutMs, requestTimeoutMs,
// keepAliveTimeoutMs): a client that trickles its headers or body is cut off with 408,
// an idle keep-alive connection is closed, and a normal request is unaffected.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startIdpProcess, type IdpProcess } from '../support/process.ts';

/** Writes `chunks` slowly and resolves with what the server sent before it closed. */
function slowClient(port: number, first: string, trickleMs: number, limitMs: number): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), trickleMs);
    const give = setTimeout(() => finish(false), limitMs);
    const finish = (closed: boolean) => {
      clearInterval(trickle);
      clearTimeout(give);
      socket.destroy();
      resolve({ reply, closed });
    };
    socket.on('data', (d) => (reply += d));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(first);
  });
}

describe('HTTP server timeouts', function () {
  this.timeout(30_000);
  let idp: IdpProcess;
  before(async () => {
    idp = await startIdpProcess({
      REDIS_URL: '', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')),
      IDP_HEADERS_TIMEOUT_MS: '1000', IDP_REQUEST_TIMEOUT_MS: '2000', IDP_KEEP_ALIVE_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    await idp?.kill('SIGTERM');
  });

  it('cuts off a client that never finishes its headers (slowloris) with 408', async () => {
    const r = await slowClient(idp.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', 200, 10_000);
    assert.equal(r.closed, true, 'the server closed the connection');
    assert.match(r.reply, /^HTTP\/1\.1 408/);
  });

  it('cuts off a request body that never arrives in full', async () => {
    const socket = connect(idp.port, '127.0.0.1');
    const result = await new Promise<{ reply: string; closed: boolean }>((resolve) => {
      let reply = '';
      const give = setTimeout(() => resolve({ reply, closed: false }), 10_000);
      socket.on('data', (d) => (reply += d));
      socket.on('close', () => {
        clearTimeout(give);
        resolve({ reply, closed: true });
      });
      socket.write('POST /portal/sign-out HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nab');
    });
    socket.destroy();
    assert.equal(result.closed, true);
    assert.match(result.reply, /^HTTP\/1\.1 408/);
  });

  it('closes idle keep-alive connections, and serves normal requests', async () => {
    const res = await fetch(`http://127.0.0.1:${idp.port}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('keep-alive') ?? '', /timeout=1/);
  });
});
