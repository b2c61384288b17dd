/** A worker's Ed25519 identity, kept in a PEM file created on first start (mode 0600). */
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';

export interface Identity {
  id: string;
  key: KeyObject;
  publicKeyDer: string;
}

export async function loadOrCreateIdentity(file: string): Promise<Identity> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    pem = newKeyPair().privateKeyPem;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  }
  return identityOf(pem);
}

/**
 * An existing worker's identity, for the commands that act for a worker (its offers, its stake):
 * a mistyped path must not make a new key, which then acts for nobody.
 */
export async function loadIdentity(file: string): Promise<Identity> {
  try {
    return identityOf(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new Error(`no worker key at ${file}: a worker makes its key when it first starts (farm worker --key ${file})`);
  }
}

function identityOf(pem: string): Identity {
  const { key, publicKeyDer } = loadPrivateKey(pem);
  return { id: workerIdOf(publicKeyDer), key, publicKeyDer };
}
