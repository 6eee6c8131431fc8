// The one thing the signing page needs from PKI.js: open a PKCS#12 file with its password, in the
// browser, and hand back a non-extractable WebCrypto signing key with its certificates. Nothing
// here talks to the network; the key never leaves this page.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const X509_CERTIFICATE = '1.2.840.113549.1.9.22.1';
const RSA = '1.2.840.113549.1.1.1';
const EC = '1.2.840.10045.2.1';
const P256 = '1.2.840.10045.3.1.7';

// Errors carry a code the page turns into a Chinese message.
function fail(code, detail) {
  const error = new Error(detail || code);
  error.code = code;
  return error;
}

function bytesOf(buffer) {
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

function algorithmOf(keyInfo) {
  const oid = keyInfo.privateKeyAlgorithm.algorithmId;
  if (oid === RSA) {
    return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
  if (oid === EC) {
    const params = keyInfo.privateKeyAlgorithm.algorithmParams;
    const curve = params && params.valueBlock ? params.valueBlock.toString() : '';
    if (curve === P256) {
      return { name: 'ECDSA', namedCurve: 'P-256' };
    }
    throw fail('unsupported-key', 'EC curve ' + curve);
  }
  throw fail('unsupported-key', 'key algorithm ' + oid);
}

function nameText(name) {
  const short = {
    '2.5.4.3': 'CN', '2.5.4.5': 'serialNumber', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
    '2.5.4.10': 'O', '2.5.4.11': 'OU',
  };
  return name.typesAndValues
    .map((tv) => (short[tv.type] || tv.type) + '=' + tv.value.valueBlock.value)
    .join(', ');
}

function describe(certificate) {
  return {
    subject: nameText(certificate.subject),
    issuer: nameText(certificate.issuer),
    notBefore: certificate.notBefore.value.toISOString(),
    notAfter: certificate.notAfter.value.toISOString(),
  };
}

async function signsFor(key, algorithm, certificate) {
  const probe = new TextEncoder().encode('esign key check');
  const usage = algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : algorithm;
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey(
      'spki', certificate.subjectPublicKeyInfo.toSchema().toBER(false), algorithm, false, ['verify']);
  } catch (_) {
    return false;
  }
  const signature = await crypto.subtle.sign(usage, key, probe);
  return crypto.subtle.verify(usage, publicKey, signature, probe);
}

// Opens `file` (bytes of a .p12/.pfx) with `password` (text). Answers the signing key, the
// signer's certificate (DER) first and the other certificates after it, and what to show of it.
export async function open(file, password) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw fail('no-webcrypto');
  }
  let pfx;
  try {
    pfx = pkijs.PFX.fromBER(new Uint8Array(bytesOf(file)).buffer);
  } catch (error) {
    throw fail('not-pkcs12', String(error && error.message));
  }
  const secret = new TextEncoder().encode(password).buffer;
  try {
    await pfx.parseInternalValues({ password: secret, checkIntegrity: true });
  } catch (error) {
    throw fail('wrong-password', String(error && error.message));
  }
  const safes = pfx.parsedValue.authenticatedSafe;
  const contents = safes.safeContents.map(() => ({ password: secret }));
  try {
    await safes.parseInternalValues({ safeContents: contents });
  } catch (error) {
    throw fail('wrong-password', String(error && error.message));
  }
  const keys = [];
  const certificates = [];
  for (const safe of safes.parsedValue.safeContents) {
    for (const bag of safe.value.safeBags) {
      if (bag.bagId === SHROUDED_KEY_BAG) {
        await bag.bagValue.parseInternalValues({ password: secret });
        keys.push(bag.bagValue.parsedValue);
      } else if (bag.bagId === KEY_BAG) {
        keys.push(bag.bagValue);
      } else if (bag.bagId === CERT_BAG && bag.bagValue.certId === X509_CERTIFICATE) {
        const der = bag.bagValue.certValue.valueBlock.valueHexView.slice();
        certificates.push({ der, parsed: pkijs.Certificate.fromBER(der) });
      }
    }
  }
  if (keys.length !== 1) {
    throw fail(keys.length ? 'several-keys' : 'no-key');
  }
  const algorithm = algorithmOf(keys[0]);
  let key;
  try {
    key = await crypto.subtle.importKey(
      'pkcs8', keys[0].toSchema().toBER(false), algorithm, false, ['sign']);
  } catch (error) {
    throw fail('unsupported-key', String(error && error.message));
  }
  let own = -1;
  for (let i = 0; i < certificates.length && own < 0; i++) {
    if (await signsFor(key, algorithm, certificates[i].parsed)) {
      own = i;
    }
  }
  if (own < 0) {
    throw fail('no-certificate');
  }
  const ordered = [certificates[own]].concat(certificates.filter((_, i) => i !== own));
  return {
    key,
    algorithm: algorithm.name,
    certificates: ordered.map((c) => c.der),
    certificate: describe(certificates[own].parsed),
  };
}

// WebCrypto's ECDSA signature is r || s; CMS wants the DER SEQUENCE of two INTEGERs.
export function ecdsaToDer(raw) {
  const bytes = bytesOf(raw);
  const half = bytes.length / 2;
  const integer = (part) => {
    let start = 0;
    while (start < part.length - 1 && part[start] === 0) start++;
    const trimmed = part.slice(start);
    const padded = trimmed[0] & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
    return new asn1js.Integer({ valueHex: padded.buffer });
  };
  const sequence = new asn1js.Sequence({
    value: [integer(bytes.slice(0, half)), integer(bytes.slice(half))],
  });
  return new Uint8Array(sequence.toBER(false));
}

// Signs `message` (the DER of the CMS signed attributes) with the opened key; DER for ECDSA.
export async function sign(opened, message) {
  if (opened.algorithm === 'ECDSA') {
    const raw = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, opened.key, message);
    return ecdsaToDer(raw);
  }
  return new Uint8Array(await crypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, opened.key, message));
}
