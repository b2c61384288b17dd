/**
 * Worker request signatures. A worker's identity is its Ed25519 key: it signs
 * `farm\nMETHOD\npath\ntimestamp\nsha256(body)` and sends the signature with its id, the
 * timestamp and the body's hash, so that the orchestrator checks the signature before it reads the
 * body (then the body against the hash). `farm` is the farm's id (GET /api/farm): a request signed
 * for one farm is refused by every other, so one seen on the wire cannot be replayed on another
 * farm the same key works for. It rejects unknown ids, bad signatures, timestamps that are not
 * plain millisecond numbers within a short window, and any signature it has already seen
 * (replays).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';

export const SIGNATURE_HEADERS = {
  worker: 'farm-worker',
  timestamp: 'farm-timestamp',
  signature: 'farm-signature',
  /** sha256(body), hex: absent, the request claims an empty body. */
  body: 'farm-body-sha256',
} as const;
/** How far a signed request's clock may be from the orchestrator's. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;
/** The problem title of a signature outside that window. */
export const STALE_SIGNATURE = 'Stale signature';

/**
 * Whether a signed timestamp is well-formed — milliseconds since the epoch as plain digits,
 * nothing else — and within the window around `now`.
 */
export function isFresh(text: string, now = Date.now()): boolean {
  return /^\d{1,15}$/.test(text) && Math.abs(now - Number(text)) <= SIGNATURE_WINDOW_MS;
}

/** A body's sha256 in lowercase hex: what a signature covers, and what the body header carries. */
export const bodyDigest = (body: Uint8Array): string => createHash('sha256').update(body).digest('hex');

/** An empty body's hash: what a request without the body header claims. */
export const EMPTY_BODY_DIGEST = bodyDigest(new Uint8Array());

function signingPayload(farm: string, method: string, path: string, timestamp: string, digest: string): Buffer {
  return Buffer.from(`${farm}\n${method.toUpperCase()}\n${path}\n${timestamp}\n${digest}`);
}

/** The signature of a request, with the timestamp and body digest to send beside it. */
export function signRequest(
  key: KeyObject,
  farm: string,
  method: string,
  path: string,
  body: Uint8Array,
  now = Date.now(),
): { timestamp: string; signature: string; digest: string } {
  const timestamp = String(now);
  const digest = bodyDigest(body);
  return { timestamp, digest, signature: sign(null, signingPayload(farm, method, path, timestamp, digest), key).toString('base64') };
}

/**
 * An Ed25519 signature in strict base64: exactly 64 bytes, one spelling. Node's base64 decoder
 * accepts other spellings of the same bytes, which would let a replay slip past a cache keyed on
 * the text.
 */
const SIGNATURE_TEXT = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/** Whether a registration's key is an Ed25519 public key (other key types sign malleably). */
export function isEd25519PublicKey(publicKeyDer: string): boolean {
  try {
    return createPublicKey({ key: Buffer.from(publicKeyDer, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}

/** Parsed public keys by their DER text: parsing costs more than verifying. */
const publicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE = 10_000;

/** Whether `signature` signs the request whose body hashes to `digest`: checkable before the body arrives. */
export function verifyRequest(
  publicKeyDer: string,
  farm: string,
  method: string,
  path: string,
  digest: string,
  timestamp: string,
  signature: string,
): boolean {
  if (!SIGNATURE_TEXT.test(signature)) return false;
  try {
    let key = publicKeys.get(publicKeyDer);
    if (!key) {
      key = createPublicKey({ key: Buffer.from(publicKeyDer, 'base64'), format: 'der', type: 'spki' });
      if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.clear();
      publicKeys.set(publicKeyDer, key);
    }
    return verify(null, signingPayload(farm, method, path, timestamp, digest), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export function newKeyPair(): { privateKeyPem: string; publicKeyDer: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

export function loadPrivateKey(pem: string): { key: KeyObject; publicKeyDer: string } {
  const key = createPrivateKey(pem);
  return { key, publicKeyDer: createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('base64') };
}

/** A worker's id is derived from its key, so it cannot be chosen or taken over. */
export function workerIdOf(publicKeyDer: string): string {
  return `w${createHash('sha256').update(publicKeyDer).digest('hex').slice(0, 20)}`;
}
