// A real Shibboleth SP 3 for interoperability tests: Debian's shibd and mod_shib in an
// Apache httpd of its own (apt-get install apache2 libapache2-mod-shib; .ci/run does it),
// each started here from a temporary folder (configuration, keys, socket, pid files,
// caches and logs there; its own port on 127.0.0.1) and stopped afterwards. Nothing under
// /etc/shibboleth or /etc/apache2 is used or changed but the stock files copied from it.
//
// The SP's configuration is Debian's stock one: attribute-map.xml, attribute-policy.xml,
// protocols.xml, security-policy.xml and the templates are copied unchanged (checked
// against the package's own checksums, so a machine whose copy was edited fails rather
// than passes for the wrong reason), and shibboleth2.xml is the stock file with only these
// changes, made by string replacement so that a changed stock file shows here:
//   - entityID: the SP's; <SSO entityID>: the IdP's;
//   - handlerSSL="false" (the test's Apache serves plain HTTP on 127.0.0.1);
//   - the stock file's commented example of remote metadata, with the IdP's /saml/metadata
//     as url, and without its Signature filter (the IdP's metadata is not signed) and
//     DiscoveryFilter: shibd fetches it itself and checks its validUntil (RequireValidUntil).
// Its keys are made by Debian's shib-keygen, as an SP administrator makes them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './redis.ts';

const STOCK = '/etc/shibboleth';
const MOD_SHIB = '/usr/lib/apache2/modules/mod_shib.so';
const APACHE_MODULES = '/usr/lib/apache2/modules';
const SHIBD = '/usr/sbin/shibd';
const APACHE = '/usr/sbin/apache2';
const KEYGEN = '/usr/sbin/shib-keygen';
/** The user Apache's children run as (Apache refuses to serve as root). */
const WWW_USER = 'www-data';

/** What is missing to run the SP (empty when it can run), with the Debian package to install. */
function shibbolethMissing(): string[] {
  const need: Array<[string, string]> = [[SHIBD, 'shibboleth-sp-utils'], [KEYGEN, 'shibboleth-sp-utils'], [MOD_SHIB, 'libapache2-mod-shib'], [APACHE, 'apache2'], [`${STOCK}/shibboleth2.xml`, 'shibboleth-sp-common'], [`${STOCK}/attribute-map.xml`, 'shibboleth-sp-common']];
  return need.filter(([file]) => !existsSync(file)).map(([file, pkg]) => `${file} (Debian package ${pkg})`);
}

export interface ShibbolethSp {
  /** http://127.0.0.1:<port> */
  url: string;
  entityId: string;
  /** A page under a Shibboleth session: a CGI script that prints its environment. */
  protectedUrl: string;
  /** The SP's own metadata (its MetadataGenerator handler). */
  metadataUrl: string;
  /** e.g. "shibboleth 3.4.1, Apache/2.4.71 (Debian)" */
  versions: string;
  /** shibd's, mod_shib's and Apache's logs so far (for assertion messages). */
  logs(): string;
  close(): Promise<void>;
}

/** Debian's md5sums of a package's conffiles: path → md5. */
function conffileSums(pkg: string): Map<string, string> {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Conffiles}\\n', pkg], { encoding: 'utf8' });
  const sums = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [file, md5] = line.trim().split(/\s+/);
    if (file && md5) sums.set(file, md5);
  }
  return sums;
}

/** Copies a stock file, refusing one that is not as the package shipped it. */
function copyStock(name: string, to: string, sums: Map<string, string>): string {
  const from = path.join(STOCK, name);
  const text = readFileSync(from, 'utf8');
  const shipped = sums.get(from);
  if (!shipped) throw new Error(`${from}: dpkg knows no checksum for it (is shibboleth-sp-common installed?)`);
  if (createHash('md5').update(readFileSync(from)).digest('hex') !== shipped) {
    throw new Error(`${from} is not Debian's stock file (its checksum differs from the package's): the Shibboleth interop test needs the stock configuration`);
  }
  writeFileSync(path.join(to, name), text);
  return text;
}

/** Replaces `from` (which must occur exactly once) in the stock shibboleth2.xml. */
function replaceOnce(xml: string, from: string, to: string): string {
  const at = xml.indexOf(from);
  if (at < 0 || xml.indexOf(from, at + 1) >= 0) throw new Error(`stock shibboleth2.xml: expected exactly one ${JSON.stringify(from)}`);
  return xml.slice(0, at) + to + xml.slice(at + from.length);
}

function waitFor(what: string, check: () => boolean | Promise<boolean>, alive: () => string | undefined, logs: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      if (await check()) return;
      const dead = alive();
      if (dead) throw new Error(`${what}: ${dead}\n${logs()}`);
      if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms\n${logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}

function exited(child: ChildProcess): string | undefined {
  return child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : undefined;
}

function stop(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts shibd and Apache with mod_shib for the IdP whose metadata is `idpMetadataXml`.
 * The SP's entityID is `<url>/shibboleth` (the form shib-keygen and the docs use).
 */
export async function startShibbolethSp(idpMetadataUrl: string): Promise<ShibbolethSp> {
  const missing = shibbolethMissing();
  if (missing.length) throw new Error(`Shibboleth SP not installed: ${missing.join(', ')} (apt-get install -y apache2 libapache2-mod-shib; .ci/run does it)`);
  const idpEntityId = /entityID="([^"]+)"/.exec(await (await fetch(idpMetadataUrl)).text())?.[1];
  if (!idpEntityId) throw new Error(`no entityID in the IdP metadata at ${idpMetadataUrl}`);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const entityId = `${url}/shibboleth`;
  // The layout shibd expects under its prefixes: <dir>/shibboleth/ (SHIBSP_CFGDIR, _RUNDIR, _CACHEDIR).
  const root = mkdtempSync(path.join(tmpdir(), 'shib-sp-'));
  const etc = path.join(root, 'etc', 'shibboleth');
  const run = path.join(root, 'run', 'shibboleth');
  const cache = path.join(root, 'cache', 'shibboleth');
  const log = path.join(root, 'log');
  const cgi = path.join(root, 'cgi');
  for (const d of [etc, run, cache, log, cgi]) mkdirSync(d, { recursive: true });
  // Apache's children (www-data) read the configuration, reach shibd's socket and write the native log.
  chmodSync(root, 0o755);
  for (const d of [path.join(root, 'etc'), etc, path.join(root, 'run'), run, path.join(root, 'cache'), cgi]) chmodSync(d, 0o755);
  const www = spawnSync('id', ['-u', WWW_USER], { encoding: 'utf8' });
  const wwwUid = Number(www.stdout.trim());
  const wwwGid = Number(spawnSync('id', ['-g', WWW_USER], { encoding: 'utf8' }).stdout.trim());
  if (www.status !== 0 || !Number.isInteger(wwwUid)) throw new Error(`no ${WWW_USER} user (Debian's apache2 package creates it)`);
  chownSync(log, wwwUid, wwwGid);

  // Stock files, unchanged.
  const sums = conffileSums('shibboleth-sp-common');
  for (const name of readdirSync(STOCK).filter((n) => /\.(html|xml)$/.test(n) && n !== 'shibboleth2.xml' && !n.startsWith('example-'))) copyStock(name, etc, sums);
  // shibboleth2.xml: the stock file with the deltas above.
  let config = copyStock('shibboleth2.xml', etc, sums);
  config = replaceOnce(config, 'entityID="https://sp.example.org/shibboleth"', `entityID="${entityId}"`);
  config = replaceOnce(config, '<SSO entityID="https://idp.example.org/idp/shibboleth"', `<SSO entityID="${idpEntityId}"`);
  config = replaceOnce(config, 'handlerSSL="true"', 'handlerSSL="false"');
  config = replaceOnce(config, [
    '        <!--',
    '        <MetadataProvider type="XML" validate="true"',
    '\t            url="http://federation.org/federation-metadata.xml"',
    '              backingFilePath="federation-metadata.xml" maxRefreshDelay="7200">',
    '            <MetadataFilter type="RequireValidUntil" maxValidityInterval="2419200"/>',
    '            <MetadataFilter type="Signature" certificate="fedsigner.pem" verifyBackup="false"/>',
  ].join('\n'), [
    '        <MetadataProvider type="XML" validate="true"',
    `\t            url="${idpMetadataUrl}"`,
    '              backingFilePath="school-idp-metadata.xml" maxRefreshDelay="7200">',
    '            <MetadataFilter type="RequireValidUntil" maxValidityInterval="2419200"/>',
    '        </MetadataProvider>',
    '        <!--',
    '        <MetadataProvider>',
  ].join('\n'));
  writeFileSync(path.join(etc, 'shibboleth2.xml'), config);
  // Logging to files here (Debian's go to /var/log/shibboleth and syslog).
  writeFileSync(path.join(etc, 'shibd.logger'), readFileSync(path.join(STOCK, 'shibd.logger'), 'utf8').replaceAll('/var/log/shibboleth', log));
  writeFileSync(path.join(etc, 'native.logger'), [
    'log4j.rootCategory=INFO, native_log',
    'log4j.appender.native_log=org.apache.log4j.FileAppender',
    `log4j.appender.native_log.fileName=${log}/native.log`,
    'log4j.appender.native_log.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.native_log.layout.ConversionPattern=%d{%Y-%m-%d %H:%M:%S} %p %c %x: %m%n',
    '',
  ].join('\n'));
  // Keys as an SP administrator makes them on Debian (shib-keygen), readable by shibd (root here) only.
  for (const name of ['sp-signing', 'sp-encrypt']) {
    const k = spawnSync(KEYGEN, ['-o', etc, '-n', name, '-h', '127.0.0.1', '-e', entityId, '-y', '1', '-u', 'root', '-g', 'root'], { encoding: 'utf8' });
    if (k.status !== 0) throw new Error(`shib-keygen failed: ${k.stderr}${k.stdout}`);
  }

  // The protected page: a CGI script printing what mod_shib gives the application.
  const script = path.join(cgi, 'env');
  writeFileSync(script, '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv | LC_ALL=C sort\n');
  chmodSync(script, 0o755);

  const apacheConf = path.join(root, 'apache2.conf');
  writeFileSync(apacheConf, [
    `LoadModule mpm_prefork_module ${APACHE_MODULES}/mod_mpm_prefork.so`,
    `LoadModule authn_core_module ${APACHE_MODULES}/mod_authn_core.so`,
    `LoadModule authz_core_module ${APACHE_MODULES}/mod_authz_core.so`,
    `LoadModule alias_module ${APACHE_MODULES}/mod_alias.so`,
    `LoadModule cgi_module ${APACHE_MODULES}/mod_cgi.so`,
    `LoadModule mod_shib ${MOD_SHIB}`,
    `ServerName ${url}`,
    'UseCanonicalName On',
    `Listen 127.0.0.1:${port}`,
    `PidFile ${root}/run/apache2.pid`,
    `DefaultRuntimeDir ${root}/run`,
    `ErrorLog ${log}/apache-error.log`,
    'LogLevel warn',
    `User ${WWW_USER}`,
    `Group ${WWW_USER}`,
    'StartServers 1',
    'MinSpareServers 1',
    'MaxSpareServers 2',
    'MaxRequestWorkers 4',
    `ShibConfig ${etc}/shibboleth2.xml`,
    // As Debian's conf-available/shib.conf:
    'ShibCompatValidUser Off',
    '<Location /Shibboleth.sso>',
    '  AuthType None',
    '  Require all granted',
    '</Location>',
    `ScriptAlias /secure/ ${cgi}/`,
    '<Location /secure>',
    '  AuthType shibboleth',
    '  ShibRequestSetting requireSession 1',
    '  Require shib-session',
    '</Location>',
    '',
  ].join('\n'));

  const env = { ...process.env, SHIBSP_CFGDIR: path.join(root, 'etc'), SHIBSP_RUNDIR: path.join(root, 'run'), SHIBSP_CACHEDIR: path.join(root, 'cache'), SHIBSP_LOGDIR: log };
  const logs = () => {
    const parts: string[] = [];
    for (const f of ['shibd.log', 'native.log', 'apache-error.log']) {
      const file = path.join(log, f);
      if (existsSync(file)) parts.push(`--- ${f}\n${readFileSync(file, 'utf8').split('\n').slice(-60).join('\n')}`);
    }
    return parts.join('\n');
  };
  const output: string[] = [];
  const started: ChildProcess[] = [];
  // They run in process groups of their own: should the test runner exit without close(), they go too.
  const orphans = () => {
    for (const child of started) if (child.pid && !exited(child)) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  process.once('exit', orphans);
  const close = async () => {
    for (const child of started.reverse()) await stop(child);
    process.removeListener('exit', orphans);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const shibd = spawn(SHIBD, ['-F', '-f', '-c', path.join(etc, 'shibboleth2.xml'), '-p', path.join(run, 'shibd.pid')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.push(shibd);
    shibd.stdout!.on('data', (d) => output.push(String(d)));
    shibd.stderr!.on('data', (d) => output.push(String(d)));
    const all = () => `${output.join('')}\n${logs()}`;
    await waitFor('shibd', () => existsSync(path.join(run, 'shibd.sock')), () => exited(shibd), all);

    // A process group of its own: Apache in the foreground stops its children by signalling its
    // whole group, which would otherwise be the test runner's.
    const apache = spawn(APACHE, ['-f', apacheConf, '-DFOREGROUND'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.push(apache);
    apache.stdout!.on('data', (d) => output.push(String(d)));
    apache.stderr!.on('data', (d) => output.push(String(d)));
    // Ready when mod_shib answers for shibd (its Status handler, open to 127.0.0.1).
    await waitFor('Apache with mod_shib', async () => {
      const res = await fetch(`${url}/Shibboleth.sso/Status`).catch(() => undefined);
      return res?.status === 200 && /<OK\/>/.test(await res.text());
    }, () => exited(apache), all);
  } catch (err) {
    await close();
    throw err;
  }
  const version = (cmd: string, arg: string) => spawnSync(cmd, [arg], { encoding: 'utf8' }).stdout.split('\n')[0]!.replace(/^Server version: /, '').trim();
  return {
    url,
    entityId,
    protectedUrl: `${url}/secure/env`,
    metadataUrl: `${url}/Shibboleth.sso/Metadata`,
    versions: `${version(SHIBD, '-v')}, ${version(APACHE, '-v')}`,
    logs: () => `${output.join('')}\n${logs()}`,
    close,
  };
}
