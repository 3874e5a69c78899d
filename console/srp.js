// Cognito's SRP-6a sign-in maths (USER_SRP_AUTH → PASSWORD_VERIFIER), with BigInt and Web Crypto only.
//
// As AWS's own JavaScript SDKs compute it: the 3072-bit group of RFC 5054 with g = 2, k = H(N | g),
// u = H(A | B), x = H(salt | H(poolName | userId | ":" | password)), S = (B - k·g^x)^(a + u·x) mod N,
// a 16-byte key HKDF(S, salt = u, info = "Caldera Derived Key"), and the claim
// HMAC(key, poolName | userId | secretBlock | timestamp). Every H is SHA-256 over the bytes of the
// "padded hex" of its inputs (even length, a leading 00 when the first byte's high bit is set).
// The password never leaves the page; Cognito checks the claim. tests/browser checks these functions
// against pycognito's implementation for fixed inputs.

const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
  "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
  "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
  "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
  "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
  "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
  "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
  "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
const N = BigInt("0x" + N_HEX);
const G = 2n;
const INFO = "Caldera Derived Key";
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const encoder = new TextEncoder();

export function padHex(value) {
  let hex = typeof value === "bigint" ? value.toString(16) : String(value);
  if (hex.length % 2 === 1) {
    hex = "0" + hex;
  } else if ("89abcdefABCDEF".includes(hex[0])) {
    hex = "00" + hex;
  }
  return hex;
}

function hexToBytes(hex) {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
    throw new Error("not a hex string");
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Decodes as Cognito's SDKs do (Node's Buffer, Python's b64decode): characters outside the alphabet
// are skipped. Cognito's SECRET_BLOCK is plain base64.
function base64ToBytes(text) {
  const binary = atob(String(text).replace(/[^A-Za-z0-9+/=]/g, ""));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function bytesToBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(keyBytes, message) {
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
}

async function hexHash(hex) {
  return bytesToHex(await sha256(hexToBytes(hex)));
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) {
      result = (result * b) % modulus;
    }
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

// "Wed Dec 2 01:11:40 UTC 2026": the TIMESTAMP Cognito expects (UTC, day of month without padding).
export function cognitoTimestamp(date = new Date()) {
  const two = (n) => String(n).padStart(2, "0");
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC ` +
    `${date.getUTCFullYear()}`
  );
}

// The client's secret a (random, < N) and public A = g^a mod N, as hex for SRP_A.
export function newClientSecret(aHex) {
  let a;
  if (aHex) {
    a = BigInt("0x" + aHex) % N;
  } else {
    const random = crypto.getRandomValues(new Uint8Array(128));
    a = BigInt("0x" + bytesToHex(random)) % N;
  }
  const A = modPow(G, a, N);
  if (A % N === 0n) {
    throw new Error("SRP safety check failed: A mod N is 0");
  }
  return { a, A, srpA: A.toString(16) };
}

// PASSWORD_CLAIM_SIGNATURE for the PASSWORD_VERIFIER challenge.
export async function passwordClaimSignature({
  userPoolId,
  userIdForSrp,
  password,
  secret,
  srpB,
  salt,
  secretBlock,
  timestamp,
}) {
  for (const [name, value] of Object.entries({ userIdForSrp, password, srpB, salt, secretBlock, timestamp })) {
    if (typeof value !== "string" || !value) {
      throw new Error(`SRP: ${name} is missing`);
    }
  }
  const poolName = String(userPoolId).split("_")[1];
  if (!poolName) {
    throw new Error("the user pool id has no pool name");
  }
  const B = BigInt("0x" + srpB);
  if (B % N === 0n) {
    throw new Error("SRP safety check failed: B mod N is 0");
  }
  const u = BigInt("0x" + (await hexHash(padHex(secret.A) + padHex(B))));
  if (u === 0n) {
    throw new Error("SRP safety check failed: u is 0");
  }
  const k = BigInt("0x" + (await hexHash(padHex(N) + padHex(G))));
  const identity = bytesToHex(await sha256(encoder.encode(`${poolName}${userIdForSrp}:${password}`)));
  const x = BigInt("0x" + (await hexHash(padHex(BigInt("0x" + salt)) + identity)));
  const S = modPow(B - k * modPow(G, x, N), secret.a + u * x, N);
  const prk = await hmac(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
  const key = (await hmac(prk, concat(encoder.encode(INFO), Uint8Array.of(1)))).slice(0, 16);
  const message = concat(
    encoder.encode(poolName),
    encoder.encode(userIdForSrp),
    base64ToBytes(secretBlock),
    encoder.encode(timestamp),
  );
  return bytesToBase64(await hmac(key, message));
}
