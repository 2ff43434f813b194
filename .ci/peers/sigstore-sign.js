// A key-signed Sigstore bundle made by sigstore-js's own producer (@sigstore/sign's
// DSSEBundleBuilder, no witnesses: no log, no timestamp), for interop tests: vouch must accept
// what another Sigstore client writes. Usage:
//   node sigstore-sign.js PRIVATE_KEY.pem PAYLOAD_FILE PAYLOAD_TYPE > bundle.json
// PRIVATE_KEY.pem: an ECDSA P-256 key (PKCS#8 or SEC1 PEM). The bundle carries a public-key
// hint (the SPKI's SHA-256, base64), as cosign and sigstore-go write it.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { DSSEBundleBuilder } = require('@sigstore/sign');
const { bundleToJSON } = require('@sigstore/bundle');

async function main() {
  const [keyFile, payloadFile, payloadType] = process.argv.slice(2);
  if (!keyFile || !payloadFile || !payloadType) {
    console.error('usage: node sigstore-sign.js PRIVATE_KEY.pem PAYLOAD_FILE PAYLOAD_TYPE');
    process.exit(2);
  }
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const spki = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const hint = crypto.createHash('sha256').update(spki).digest('base64');
  const signer = {
    sign: async (data) => ({
      key: { $case: 'publicKey', publicKey: crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }), hint },
      signature: crypto.sign('sha256', data, key),
    }),
  };
  const builder = new DSSEBundleBuilder({ signer, witnesses: [] });
  const bundle = await builder.create({ data: fs.readFileSync(payloadFile), type: payloadType });
  process.stdout.write(JSON.stringify(bundleToJSON(bundle)));
}

main().catch((e) => {
  console.error(`sigstore-sign: ${e.message}`);
  process.exit(1);
});
