// What SPs read to trust this IdP.
//   GET  /saml/metadata              the IdP's metadata
//   GET  /saml/certificate.pem       the signing certificate (a stable URL, e.g. for Google Workspace)
//   GET  /saml/certificate-next.pem  the next one while a rotation is under way
import type { Context } from 'koa';
import { AppError } from '../../../domain/errors.ts';
import { servedMetadata } from '../metadata.ts';
import type { SamlDeps } from './scope.ts';

export function metadataHandlers(deps: SamlDeps) {
  return {
    metadata: (ctx: Context) => {
      ctx.type = 'application/samlmetadata+xml';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('Content-Disposition', 'inline; filename="idp-metadata.xml"');
      ctx.body = servedMetadata(deps.metadataXml, deps.clock());
    },
    // LF line endings whatever the key file holds (node-forge writes CRLF). Read per request:
    // the certificates change when keys rotate (README "Key rotation").
    certificate: (ctx: Context) => {
      ctx.type = 'application/x-pem-file';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('Content-Disposition', 'attachment; filename="idp-signing-certificate.pem"');
      ctx.body = deps.certificatePem.replace(/\r\n?/g, '\n');
    },
    // For SPs configured by hand (e.g. Google Workspace).
    nextCertificate: (ctx: Context) => {
      const next = deps.nextCertificatePem?.();
      if (!next) throw new AppError('SSPR 5404');
      ctx.type = 'application/x-pem-file';
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('Content-Disposition', 'attachment; filename="idp-next-signing-certificate.pem"');
      ctx.body = next.replace(/\r\n?/g, '\n');
    },
  };
}
