// Prints a new P-256 signing key for the test provider as one JSON object:
// { "jwk": private JWK with kid, alg ES256, use sig; "pkcs8": base64 DER of the same key }.
// The provider signs with the JWK; the test signs its own tokens with the PKCS#8 form.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = privateKey.export({ format: 'jwk' });
jwk.kid = randomBytes(8).toString('hex');
jwk.alg = 'ES256';
jwk.use = 'sig';
const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
console.log(JSON.stringify({ jwk, pkcs8 }));
