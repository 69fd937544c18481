// The decoder of the developer page (/dev): decodes a JWT (ID token, access token) or a
// base64 SAML Response pasted by the developer and verifies its signature with WebCrypto
// against the keys written into the page (data-keys): the JWKS for RS256/ES256, the SAML
// signing certificates' public keys for XML signatures (exclusive canonicalization done
// here, enough for the signatures this IdP makes). Nothing is sent anywhere.
(function () {
  'use strict';

  var section = document.getElementById('dev-decoder');
  if (!section) return;
  var KEYS = JSON.parse(section.getAttribute('data-keys'));
  var input = document.getElementById('dev-input');
  var result = document.getElementById('dev-result');
  var enc = new TextEncoder();

  // ---- output ---------------------------------------------------------------------
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function verdict(ok, text) {
    var p = el('p', text, ok === true ? 'verdict-valid' : ok === false ? 'verdict-invalid' : 'verdict-unknown');
    p.setAttribute('data-verdict', ok === true ? 'valid' : ok === false ? 'invalid' : 'unknown');
    result.appendChild(p);
  }
  function heading(text) { result.appendChild(el('h3', text)); }
  function pre(text) { var p = el('pre', undefined, 'snippet'); p.tabIndex = 0; p.appendChild(el('code', text)); result.appendChild(p); }
  function facts(pairs) {
    var dl = el('dl', undefined, 'facts');
    pairs.forEach(function (p) { if (p[1] === undefined || p[1] === null || p[1] === '') return; dl.appendChild(el('dt', p[0])); dl.appendChild(el('dd', String(p[1]))); });
    result.appendChild(dl);
  }

  // ---- bytes ----------------------------------------------------------------------
  function b64ToBytes(s) {
    var bin = atob(s.replace(/\s+/g, ''));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function b64urlToBytes(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    return b64ToBytes(s);
  }
  function bytesToB64(bytes) {
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }
  function utf8(bytes) { return new TextDecoder().decode(bytes); }
  function when(seconds) { return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : undefined; }

  // ---- JWT ------------------------------------------------------------------------
  async function verifyJwt(parts, header) {
    var candidates = KEYS.jwks.keys.filter(function (k) { return (!header.kid || k.kid === header.kid); });
    var params;
    if (header.alg === 'RS256') params = { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' }, kty: 'RSA' };
    else if (header.alg === 'ES256') params = { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' }, kty: 'EC' };
    else return { ok: null, why: 'algorithm ' + header.alg + ' is not one this IdP signs with (RS256, ES256)' };
    candidates = candidates.filter(function (k) { return k.kty === params.kty; });
    if (candidates.length === 0) return { ok: false, why: 'no key ' + (header.kid || '') + ' for ' + header.alg + ' in this IdP\u2019s JWKS' };
    var data = enc.encode(parts[0] + '.' + parts[1]);
    var signature = b64urlToBytes(parts[2]);
    for (var i = 0; i < candidates.length; i++) {
      var jwk = Object.assign({}, candidates[i]);
      delete jwk.use; delete jwk.alg;
      var key = await crypto.subtle.importKey('jwk', jwk, params.import, false, ['verify']);
      if (await crypto.subtle.verify(params.verify, key, signature, data)) return { ok: true, kid: candidates[i].kid };
    }
    return { ok: false, why: 'the signature does not match key ' + candidates.map(function (k) { return k.kid; }).join(', ') };
  }

  async function showJwt(text) {
    var parts = text.split('.');
    var header, payload;
    try {
      header = JSON.parse(utf8(b64urlToBytes(parts[0])));
      payload = JSON.parse(utf8(b64urlToBytes(parts[1])));
    } catch (e) {
      verdict(false, 'Not a JWT: its header or payload is not base64url JSON.');
      return;
    }
    var kind = header.typ === 'at+jwt' ? 'access token (JWT)' : payload.nonce !== undefined || payload.at_hash !== undefined || payload.auth_time !== undefined ? 'ID token' : 'JWT';
    heading('JWT: ' + kind);
    var v = await verifyJwt(parts, header);
    verdict(v.ok, v.ok === true ? 'signature valid (' + header.alg + ', key ' + v.kid + ')' : v.ok === false ? 'signature INVALID: ' + v.why : 'signature not checked: ' + v.why);
    var now = Date.now() / 1000;
    facts([
      ['Issuer', payload.iss + (payload.iss === KEYS.issuer ? ' (this IdP)' : ' (NOT this IdP: ' + KEYS.issuer + ')')],
      ['Audience', Array.isArray(payload.aud) ? payload.aud.join(', ') : payload.aud],
      ['Subject', payload.sub],
      ['Issued at', when(payload.iat)],
      ['Expires', payload.exp ? when(payload.exp) + (payload.exp < now ? ' (EXPIRED)' : ' (not expired)') : undefined],
    ]);
    heading('Header');
    pre(JSON.stringify(header, null, 2));
    heading('Payload');
    pre(JSON.stringify(payload, null, 2));
  }

  // ---- XML signature (exclusive c14n, enveloped signature) ------------------------
  var DS = 'http://www.w3.org/2000/09/xmldsig#';
  var XMLNS = 'http://www.w3.org/2000/xmlns/';
  var SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
  var SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
  var HASHES = {
    'http://www.w3.org/2001/04/xmlenc#sha256': 'SHA-256', 'http://www.w3.org/2000/09/xmldsig#sha1': 'SHA-1', 'http://www.w3.org/2001/04/xmlenc#sha512': 'SHA-512',
    'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'SHA-256', 'http://www.w3.org/2000/09/xmldsig#rsa-sha1': 'SHA-1', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'SHA-512',
  };
  var EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
  var ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

  function escText(s) { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;'); }
  function escAttr(s) { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;'); }

  /** Exclusive XML canonicalization (without comments) of `node`, leaving out `skip`. */
  function excC14n(node, skip, inclusive) {
    var out = [];
    function render(e, rendered) {
      var prefix = e.prefix || '';
      var used = {};
      used[prefix] = e.namespaceURI || '';
      var attrs = [];
      for (var i = 0; i < e.attributes.length; i++) {
        var a = e.attributes[i];
        if (a.namespaceURI === XMLNS) continue;
        if (a.prefix && a.prefix !== 'xml') used[a.prefix] = a.namespaceURI;
        attrs.push(a);
      }
      inclusive.forEach(function (p) {
        var uri = e.lookupNamespaceURI(p === '#default' ? null : p);
        if (uri !== null) used[p === '#default' ? '' : p] = uri;
      });
      var mine = Object.assign({}, rendered);
      var decls = Object.keys(used).sort().filter(function (p) {
        var uri = used[p];
        var before = rendered[p] === undefined ? '' : rendered[p];
        if (uri === before) return false;
        mine[p] = uri;
        return true;
      });
      attrs.sort(function (x, y) {
        var nx = x.namespaceURI || '', ny = y.namespaceURI || '';
        if (nx !== ny) return nx < ny ? -1 : 1;
        return x.localName < y.localName ? -1 : x.localName > y.localName ? 1 : 0;
      });
      out.push('<' + e.nodeName);
      decls.forEach(function (p) { out.push(p ? ' xmlns:' + p + '="' + escAttr(used[p]) + '"' : ' xmlns="' + escAttr(used[p]) + '"'); });
      attrs.forEach(function (a) { out.push(' ' + a.name + '="' + escAttr(a.value) + '"'); });
      out.push('>');
      for (var c = e.firstChild; c; c = c.nextSibling) {
        if (c === skip) continue;
        if (c.nodeType === 1) render(c, mine);
        else if (c.nodeType === 3 || c.nodeType === 4) out.push(escText(c.nodeValue));
        else if (c.nodeType === 7) out.push('<?' + c.target + (c.data ? ' ' + c.data : '') + '?>');
      }
      out.push('</' + e.nodeName + '>');
    }
    render(node, {});
    return out.join('');
  }

  function child(e, ns, name) {
    for (var c = e && e.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && c.namespaceURI === ns && c.localName === name) return c;
    return null;
  }

  function spkiKeys() {
    return KEYS.saml.map(function (c) { return { state: c.state, der: b64ToBytes(c.spki) }; });
  }

  /** Verifies one enveloped ds:Signature; what it signs is its parent. */
  async function verifyXmlSignature(doc, signature) {
    var signedInfo = child(signature, DS, 'SignedInfo');
    var reference = child(signedInfo, DS, 'Reference');
    var method = child(signedInfo, DS, 'SignatureMethod');
    if (!signedInfo || !reference || !method) return { ok: false, why: 'no SignedInfo, Reference or SignatureMethod' };
    var uri = reference.getAttribute('URI') || '';
    var target = null;
    var all = doc.getElementsByTagName('*');
    for (var i = 0; i < all.length; i++) if (uri.charAt(0) === '#' && all[i].getAttribute('ID') === uri.slice(1)) { if (target) return { ok: false, why: 'two elements with ID ' + uri }; target = all[i]; }
    if (!target) return { ok: false, why: 'no element with ID ' + uri };
    if (target !== signature.parentNode) return { ok: false, why: 'the signature does not sign the element it is in' };
    var transforms = child(reference, DS, 'Transforms');
    var inclusive = [];
    var enveloped = false;
    for (var t = transforms && transforms.firstChild; t; t = t.nextSibling) {
      if (t.nodeType !== 1) continue;
      var alg = t.getAttribute('Algorithm');
      if (alg === ENVELOPED) enveloped = true;
      else if (alg === EXC_C14N) {
        for (var n = t.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && n.localName === 'InclusiveNamespaces') inclusive = (n.getAttribute('PrefixList') || '').split(/\s+/).filter(Boolean);
      } else return { ok: null, why: 'transform ' + alg + ' is not checked here' };
    }
    var c14nMethod = child(signedInfo, DS, 'CanonicalizationMethod');
    if (!c14nMethod || c14nMethod.getAttribute('Algorithm') !== EXC_C14N) return { ok: null, why: 'canonicalization other than exclusive c14n is not checked here' };
    var digestAlg = HASHES[(child(reference, DS, 'DigestMethod') || { getAttribute: function () { return ''; } }).getAttribute('Algorithm')];
    var sigAlg = HASHES[method.getAttribute('Algorithm')];
    if (!digestAlg || !sigAlg) return { ok: null, why: 'algorithm not checked here' };
    var digest = bytesToB64(new Uint8Array(await crypto.subtle.digest(digestAlg, enc.encode(excC14n(target, enveloped ? signature : null, inclusive)))));
    var expected = (child(reference, DS, 'DigestValue').textContent || '').replace(/\s+/g, '');
    if (digest !== expected) return { ok: false, why: 'the digest of the signed element does not match (the content was changed)' };
    var siInclusive = [];
    for (var m = c14nMethod.firstChild; m; m = m.nextSibling) if (m.nodeType === 1 && m.localName === 'InclusiveNamespaces') siInclusive = (m.getAttribute('PrefixList') || '').split(/\s+/).filter(Boolean);
    var signedBytes = enc.encode(excC14n(signedInfo, null, siInclusive));
    var value = b64ToBytes(child(signature, DS, 'SignatureValue').textContent || '');
    var keys = spkiKeys();
    for (var k = 0; k < keys.length; k++) {
      var key = await crypto.subtle.importKey('spki', keys[k].der, { name: 'RSASSA-PKCS1-v1_5', hash: sigAlg }, false, ['verify']);
      if (await crypto.subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, key, value, signedBytes)) return { ok: true, state: keys[k].state };
    }
    return { ok: false, why: 'the signature does not match this IdP\u2019s certificates' };
  }

  async function showSaml(xml) {
    var doc = new DOMParser().parseFromString(xml, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) { verdict(false, 'Not XML after base64 decoding.'); return; }
    var root = doc.documentElement;
    heading('SAML ' + root.localName);
    var signatures = [];
    var assertion = root.namespaceURI === SAML && root.localName === 'Assertion' ? root : child(root, SAML, 'Assertion');
    var rootSig = child(root, DS, 'Signature');
    if (rootSig) signatures.push([root.localName, rootSig]);
    if (assertion && assertion !== root && child(assertion, DS, 'Signature')) signatures.push(['Assertion', child(assertion, DS, 'Signature')]);
    if (signatures.length === 0) verdict(false, 'unsigned: no signature on the ' + root.localName + (assertion ? ' or its Assertion' : ''));
    for (var i = 0; i < signatures.length; i++) {
      var v = await verifyXmlSignature(doc, signatures[i][1]);
      verdict(v.ok, signatures[i][0] + ' signature ' + (v.ok === true ? 'valid (' + v.state + ' certificate)' : v.ok === false ? 'INVALID: ' + v.why : 'not checked in the browser: ' + v.why + ' (use xmlsec1 below)'));
    }
    if (child(root, SAML, 'EncryptedAssertion')) verdict(null, 'The assertion is encrypted to the SP: only the SP\u2019s private key decrypts it.');
    var issuer = child(root, SAML, 'Issuer');
    var status = child(child(root, SAMLP, 'Status'), SAMLP, 'StatusCode');
    var conditions = child(assertion, SAML, 'Conditions');
    var audience = child(child(conditions, SAML, 'AudienceRestriction'), SAML, 'Audience');
    var subject = child(assertion, SAML, 'Subject');
    var nameId = child(subject, SAML, 'NameID');
    var notAfter = conditions && conditions.getAttribute('NotOnOrAfter');
    facts([
      ['Issuer', issuer && issuer.textContent + (issuer.textContent === KEYS.samlEntityId ? ' (this IdP)' : ' (NOT this IdP: ' + KEYS.samlEntityId + ')')],
      ['Destination', root.getAttribute('Destination')],
      ['InResponseTo', root.getAttribute('InResponseTo')],
      ['Status', status && status.getAttribute('Value')],
      ['Audience', audience && audience.textContent],
      ['NameID', nameId && nameId.textContent + (nameId.getAttribute('Format') ? ' (' + nameId.getAttribute('Format') + ')' : '')],
      ['Conditions', conditions && 'NotBefore ' + conditions.getAttribute('NotBefore') + ', NotOnOrAfter ' + notAfter + (notAfter && Date.parse(notAfter) < Date.now() ? ' (EXPIRED)' : '')],
    ]);
    var attributes = assertion ? assertion.getElementsByTagNameNS(SAML, 'Attribute') : [];
    if (attributes.length) {
      var pairs = [];
      for (var a = 0; a < attributes.length; a++) {
        var values = [];
        var vs = attributes[a].getElementsByTagNameNS(SAML, 'AttributeValue');
        for (var j = 0; j < vs.length; j++) values.push(vs[j].textContent);
        pairs.push([attributes[a].getAttribute('FriendlyName') || attributes[a].getAttribute('Name'), values.join(', ')]);
      }
      heading('Attributes');
      facts(pairs);
    }
    heading('XML');
    pre(xml);
  }

  async function decode() {
    result.textContent = '';
    var text = input.value.trim();
    if (!text) { verdict(null, 'Paste a token or a SAML Response first.'); return; }
    try {
      if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text)) return await showJwt(text);
      var xml;
      try { xml = utf8(b64ToBytes(decodeURIComponent(text))); } catch (e) { xml = ''; }
      if (text.charAt(0) === '<') xml = text;
      if (xml.trim().charAt(0) === '<') return await showSaml(xml);
      verdict(null, 'Neither a JWT nor a base64 SAML message (an opaque access token can only be checked at the introspection endpoint).');
    } catch (e) {
      verdict(false, 'Could not decode: ' + e.message);
    }
  }

  document.getElementById('dev-decode').addEventListener('click', decode);
})();
