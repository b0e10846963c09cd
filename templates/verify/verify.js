// The verification page's script. It checks a letter's seal on the citizen's own device:
//
// 1. read the seal from the URL fragment (HTTPS://HOST/V#<base32>; the fragment never reaches
//    the server) and decode it: base32 (RFC 4648), COSE_Sign1 (RFC 9052) in CBOR (RFC 8949);
// 2. fetch the trust list and check its JWS signature (RFC 7515, ES256) with the root keys
//    this page carries;
// 3. check the seal's ES256 signature over the COSE Sig_structure with WebCrypto, then the
//    issuer, the key's validity on the issue date, and the expiry;
// 4. only then ask the server for the letter's status by its reference.
//
// No external resources, no innerHTML: every text goes in through textContent.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const ECDSA_KEY = { name: 'ECDSA', namedCurve: 'P-256' };
  const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
  const DAY_MS = 86400000;

  // ---- Texts: Thai first, English beside it -------------------------------------------

  const TEXT = {
    checking: ['กำลังตรวจสอบ…', 'Checking…'],
    genuine: ['จดหมายฉบับจริง', 'Genuine letter'],
    notGenuine: ['ไม่ใช่จดหมายฉบับจริง', 'Not genuine'],
    unknown: ['ตรวจสอบไม่สำเร็จ', 'Could not verify'],
    genuineNote: [
      'ลายมือชื่อดิจิทัลถูกต้อง ตรวจในเครื่องของท่านด้วยกุญแจของหน่วยงานที่ประกาศไว้',
      'The digital signature is valid, checked on your device against the published agency keys.',
    ],
    agency: ['หน่วยงานผู้ส่ง', 'Issuing agency'],
    issueDate: ['วันที่ออกหนังสือ', 'Issue date'],
    documentType: ['ประเภทหนังสือ', 'Document type'],
    status: ['สถานะ', 'Delivery status'],
    replyBy: ['ตอบกลับภายใน', 'Reply by'],
    reference: ['เลขอ้างอิง', 'Reference'],
    withdrawn: ['เพิกถอนแล้ว', 'Withdrawn'],
    lookupNotFound: ['ไม่พบจดหมายที่มีเลขอ้างอิงนี้', 'No letter has this reference'],
    lookupFound: ['พบจดหมายในระบบ', 'The letter is in the system'],
    lookupFailed: ['ตรวจสอบไม่ได้ในขณะนี้ กรุณาลองใหม่', 'Could not check right now; please try again'],
    pinWrong: ['รหัส PIN ไม่ถูกต้อง', 'The PIN is not correct'],
    pinTooMany: ['ใส่รหัสผิดหลายครั้งเกินไป กรุณารอประมาณ {n} นาทีแล้วลองใหม่', 'Too many wrong PINs; try again in about {n} minutes'],
    copyReady: ['เปิดจดหมายได้แล้ว', 'Your letter is ready'],
    copyUnavailable: ['รหัสถูกต้อง แต่ยังไม่มีสำเนาดิจิทัลของจดหมายฉบับนี้', 'The PIN is right, but no digital copy is available yet'],
    withdrawnRefused: ['จดหมายฉบับนี้ถูกเพิกถอน จึงเปิดไม่ได้', 'This letter was withdrawn and cannot be opened'],
    failed: ['เกิดข้อผิดพลาด กรุณาลองใหม่', 'Something went wrong; please try again'],
    optinSent: [
      'ส่งลิงก์ยืนยันไปที่อีเมลแล้ว กรุณาเปิดลิงก์ในอีเมลเพื่อยืนยัน เมื่อยืนยันแล้ว เราจะส่งจดหมายแจ้งการเปลี่ยนแปลงไปยังที่อยู่ของท่านทางไปรษณีย์ และจดหมายฉบับต่อไปจะส่งทางอีเมลหลังพ้นระยะเวลารอ',
      'A confirmation link was sent; open it to confirm your address. We then post a letter about the change to your postal address, and your letters come by e-mail once the waiting period has passed.',
    ],
    optinLimit: [
      'ขอรับจดหมายทางอีเมลจากจดหมายฉบับนี้ครบจำนวนครั้งแล้ว กรุณาเปิดลิงก์ในอีเมลที่ได้รับ หรือลองใหม่ในวันถัดไป',
      'The e-mail requests from this letter have reached their limit; open the link you were sent, or try again tomorrow.',
    ],
    optinNoCitizenId: [
      'จดหมายฉบับนี้ไม่ได้ระบุเลขประจำตัวประชาชนของผู้รับ จึงสมัครรับจดหมายทางอีเมลไม่ได้ กรุณาติดต่อหน่วยงานผู้ส่ง',
      "This letter was sent without the recipient's citizen ID, so it cannot be linked to an e-mail address. Please contact the agency that sent it.",
    ],
    optinBadEmail: ['อีเมลไม่ถูกต้อง', 'This is not a valid e-mail address'],
  };

  const REASONS = {
    malformed: ['ไม่ใช่ตรารับรองที่อ่านได้ อาจสแกนไม่ครบหรือไม่ใช่คิวอาร์โค้ดของบริการนี้', 'This is not a readable seal: it may be cut short or not from this service.'],
    bad_signature: ['ลายมือชื่อดิจิทัลไม่ถูกต้อง ข้อมูลในตรารับรองถูกแก้ไข', 'The digital signature does not match: the seal has been altered.'],
    unknown_key: ['ตรารับรองลงนามด้วยกุญแจที่ไม่อยู่ในรายการกุญแจที่เชื่อถือได้', 'The seal was signed with a key that is not in the trust list.'],
    issuer_mismatch: ['ผู้ออกที่ระบุในตรารับรองไม่ตรงกับเจ้าของกุญแจที่ลงนาม', "The issuer named in the seal is not the signing key's owner."],
    key_not_valid: ['กุญแจที่ใช้ลงนามไม่อยู่ในช่วงอายุการใช้งานในวันที่ออกหนังสือ', "The signing key was not valid on the letter's issue date."],
    expired: ['ตรารับรองหมดอายุแล้วเมื่อ {date_th}', 'The seal expired on {date_en}.'],
    withdrawn: ['จดหมายฉบับนี้ถูกเพิกถอน: {reason_th}', 'This letter was withdrawn: {reason_en}.'],
    trust_list: ['ตรวจรายการกุญแจที่เชื่อถือได้ไม่สำเร็จในขณะนี้ กรุณาลองใหม่', 'The trust list could not be checked right now; please try again.'],
    no_crypto: ['เบราว์เซอร์นี้ตรวจลายมือชื่อดิจิทัลไม่ได้ กรุณาใช้เบราว์เซอร์รุ่นใหม่', 'This browser cannot check digital signatures; please use a current browser.'],
    unknown_reference: ['ลายมือชื่อถูกต้อง แต่ไม่พบจดหมายฉบับนี้ในระบบ กรุณาติดต่อหน่วยงานผู้ส่ง', 'The signature is valid, but this letter is not in the system; please contact the agency.'],
    status_unavailable: ['ลายมือชื่อถูกต้อง แต่ตรวจสถานะจดหมายไม่ได้ในขณะนี้', "The signature is valid, but the letter's status cannot be checked right now."],
    agency_mismatch: ['หน่วยงานในตรารับรองไม่ตรงกับข้อมูลในระบบ', 'The agency in the seal does not match the records.'],
    test_letter: [
      'นี่คือจดหมายทดสอบที่หน่วยงานสร้างขึ้นเพื่อทดลองระบบ ไม่ใช่หนังสือราชการจริง ไม่มีผลใด ๆ',
      'This is a TEST letter an agency made to try the system. It is not a real letter and has no effect.',
    ],
  };

  const WITHDRAWAL = {
    cancelled: ['หน่วยงานยกเลิกจดหมายฉบับนี้', 'cancelled by the agency'],
    superseded: ['มีจดหมายฉบับใหม่แทนฉบับนี้', 'replaced by a newer letter'],
    reported_lost: ['มีการแจ้งว่าจดหมายสูญหาย', 'reported lost'],
  };

  const STATUS = {
    accepted: ['หน่วยงานส่งเรื่องแล้ว รอพิมพ์หรือส่ง', 'Sent by the agency, waiting to be printed or sent'],
    in_print: ['อยู่ระหว่างการพิมพ์', 'Being printed'],
    posted: ['ส่งทางไปรษณีย์แล้ว', 'Posted'],
    delivered: ['นำจ่ายถึงผู้รับแล้ว', 'Delivered'],
    returned: ['ถูกตีกลับ นำจ่ายไม่ได้', 'Returned undelivered'],
    sent_digitally: ['ส่งทางอิเล็กทรอนิกส์แล้ว', 'Sent digitally'],
    read_digitally: ['ผู้รับเปิดอ่านทางอิเล็กทรอนิกส์แล้ว', 'Read digitally'],
    cancelled: ['หน่วยงานยกเลิกแล้ว', 'Cancelled by the agency'],
    reply_received: ['ได้รับหนังสือตอบกลับแล้ว', 'Reply received'],
  };

  const DOCUMENT_TYPES = [
    ['หนังสือทั่วไป', 'Letter'],
    ['หนังสือแจ้ง', 'Notice'],
    ['หนังสือแจ้งให้ชำระเงิน', 'Payment demand'],
    ['หนังสือแจ้งผลการพิจารณา', 'Decision'],
    ['หนังสือรับรอง', 'Certificate'],
    ['หนังสือเตือน', 'Reminder'],
  ];

  const MONTHS_TH = ['มกราคม', 'กุมภาพันธ์', 'มีนาคม', 'เมษายน', 'พฤษภาคม', 'มิถุนายน', 'กรกฎาคม', 'สิงหาคม', 'กันยายน', 'ตุลาคม', 'พฤศจิกายน', 'ธันวาคม'];
  const MONTHS_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : ''));
  }

  // ---- Dates: days since 1970-01-01, as the seal counts them --------------------------

  function daysToDate(days) {
    return new Date(days * DAY_MS);
  }
  function isoToDays(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text || '')) throw new SealError('malformed', 'not a date: ' + text);
    return Math.round(Date.parse(text + 'T00:00:00Z') / DAY_MS);
  }
  /** Today in Thailand (UTC+7). */
  function todayDays() {
    return Math.floor((Date.now() + 7 * 3600000) / DAY_MS);
  }
  /** [Thai with Buddhist-era year, English with Gregorian year]. */
  function formatDate(days) {
    const d = daysToDate(days);
    const y = d.getUTCFullYear(), m = d.getUTCMonth(), day = d.getUTCDate();
    return [`${day} ${MONTHS_TH[m]} พ.ศ. ${y + 543}`, `${day} ${MONTHS_EN[m]} ${y}`];
  }

  // ---- Errors ---------------------------------------------------------------------------

  class SealError extends Error {
    constructor(reason, detail, values) {
      super(detail || reason);
      this.reason = reason;
      this.values = values || {};
    }
  }
  const malformed = (detail) => new SealError('malformed', detail);

  // ---- Encodings --------------------------------------------------------------------------

  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

  /** Unpadded base32 (RFC 4648 §6), either case; refuses lengths and trailing bits no encoder makes. */
  function base32Decode(text) {
    const clean = text.toUpperCase();
    if ([1, 3, 6].includes(clean.length % 8)) throw malformed('base32 length');
    const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
    let buffer = 0, bits = 0, o = 0;
    for (const ch of clean) {
      const v = BASE32.indexOf(ch);
      if (v < 0) throw malformed('base32 character');
      buffer = (buffer << 5) | v;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (buffer >> bits) & 0xff;
      }
      buffer &= (1 << bits) - 1;
    }
    if (buffer !== 0) throw malformed('base32 trailing bits');
    return out;
  }

  function base32Encode(bytes) {
    let out = '', buffer = 0, bits = 0;
    for (const b of bytes) {
      buffer = (buffer << 8) | b;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out += BASE32[(buffer >> bits) & 31];
      }
      buffer &= (1 << bits) - 1;
    }
    if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
    return out;
  }

  function humanReference(bytes) {
    return base32Encode(bytes).replace(/(.{4})(?=.)/g, '$1-');
  }

  /** Standard or URL-safe base64, padded or not. */
  function base64Decode(text) {
    let s = String(text).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const utf8 = (bytes) => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

  // ---- CBOR (RFC 8949), the subset a seal uses ------------------------------------------

  function cborDecode(bytes) {
    let pos = 0;
    const need = (n) => {
      if (pos + n > bytes.length) throw malformed('CBOR truncated');
    };
    const readLength = (info) => {
      if (info < 24) return info;
      const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size) throw malformed('CBOR indefinite or reserved length');
      need(size);
      let v = 0;
      for (let i = 0; i < size; i++) v = v * 256 + bytes[pos++];
      if (v > Number.MAX_SAFE_INTEGER) throw malformed('CBOR number too large');
      return v;
    };
    const item = (depth) => {
      if (depth > 8) throw malformed('CBOR nested too deeply');
      need(1);
      const first = bytes[pos++];
      const major = first >> 5, info = first & 31;
      switch (major) {
        case 0: return readLength(info);
        case 1: return -1 - readLength(info);
        case 2: case 3: {
          const n = readLength(info);
          need(n);
          const chunk = bytes.slice(pos, pos + n);
          pos += n;
          return major === 2 ? chunk : utf8(chunk);
        }
        case 4: {
          const n = readLength(info);
          if (n > 64) throw malformed('CBOR array too long');
          const list = [];
          for (let i = 0; i < n; i++) list.push(item(depth + 1));
          return list;
        }
        case 5: {
          const n = readLength(info);
          if (n > 64) throw malformed('CBOR map too long');
          const map = new Map();
          for (let i = 0; i < n; i++) {
            const key = item(depth + 1);
            if (map.has(key)) throw malformed('CBOR repeated key');
            map.set(key, item(depth + 1));
          }
          return map;
        }
        case 6: return { tag: readLength(info), value: item(depth + 1) };
        default: throw malformed('CBOR item of an unsupported type');
      }
    };
    const value = item(0);
    if (pos !== bytes.length) throw malformed('trailing bytes after CBOR');
    return value;
  }

  function cborHead(major, n) {
    const m = major << 5;
    if (n < 24) return [m | n];
    if (n < 0x100) return [m | 24, n];
    if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
    return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  // ---- The seal: COSE_Sign1 (RFC 9052 §4.2) with ES256 ----------------------------------

  const isBytes = (v) => v instanceof Uint8Array;

  function parseSeal(bytes) {
    if (bytes.length === 0 || bytes.length > 1024) throw malformed('seal length out of range');
    let v = cborDecode(bytes);
    if (v && v.tag === 18) v = v.value; // the tagged form (RFC 9052 §2)
    if (!Array.isArray(v) || v.length !== 4) throw malformed('not a COSE_Sign1');
    const [protectedBytes, unprotected, payload, signature] = v;
    if (!isBytes(protectedBytes) || !(unprotected instanceof Map) || !isBytes(payload) || !isBytes(signature)) {
      throw malformed('COSE_Sign1 fields of the wrong type');
    }
    const header = cborDecode(protectedBytes);
    if (!(header instanceof Map) || header.get(1) !== -7) throw malformed('protected header alg is not ES256');
    const kid = header.get(4);
    if (!isBytes(kid) || kid.length !== 8) throw malformed('protected header kid is not 8 bytes');
    if (signature.length !== 64) throw malformed('ES256 signature is not 64 bytes');
    return { protectedBytes, payload, signature, kid: hex(kid) };
  }

  /** Sig_structure = ["Signature1", protected, external_aad = h'', payload] (RFC 9052 §4.4). */
  function sigStructure(protectedBytes, payload) {
    return concat([
      Uint8Array.of(0x84),
      Uint8Array.from(cborHead(3, 10)),
      new TextEncoder().encode('Signature1'),
      Uint8Array.from(cborHead(2, protectedBytes.length)),
      protectedBytes,
      Uint8Array.of(0x40),
      Uint8Array.from(cborHead(2, payload.length)),
      payload,
    ]);
  }

  /** The signed payload: a CBOR map with integer keys 1-8 (see crates/seal/src/payload.rs). */
  function parsePayload(bytes) {
    const m = cborDecode(bytes);
    if (!(m instanceof Map)) throw malformed('payload is not a CBOR map');
    for (const k of m.keys()) {
      if (!Number.isInteger(k) || k < 1 || k > 8) throw malformed('unknown payload key');
    }
    const uint = (k, what) => {
      const v = m.get(k);
      if (!Number.isInteger(v) || v < 0) throw malformed(what + ' missing or not a number');
      return v;
    };
    if (uint(1, 'version') !== 1) throw malformed('unsupported seal version');
    const issuer = m.get(2);
    if (typeof issuer !== 'string' || issuer.length < 1 || issuer.length > 16) throw malformed('issuer');
    const reference = m.get(3);
    if (!isBytes(reference) || reference.length < 10 || reference.length > 16) throw malformed('reference');
    const documentType = uint(5, 'document type');
    if (documentType >= DOCUMENT_TYPES.length) throw malformed('unknown document type');
    const digest = m.get(7);
    if (!isBytes(digest) || digest.length !== 16) throw malformed('digest');
    const payload = {
      issuer,
      reference,
      issueDate: uint(4, 'issue date'),
      documentType,
      replyBy: m.has(6) ? uint(6, 'reply date') : null,
      expires: uint(8, 'expiry'),
    };
    if (payload.expires < payload.issueDate) throw malformed('expiry before issue date');
    return payload;
  }

  // ---- The trust list: a JWS over the keys allowed to seal -------------------------------

  function rootKeys() {
    try {
      const keys = JSON.parse($('root-keys').textContent);
      return Array.isArray(keys) ? keys : [];
    } catch (e) {
      return [];
    }
  }

  const importSpki = (der) => crypto.subtle.importKey('spki', der, ECDSA_KEY, false, ['verify']);

  async function loadTrustList() {
    let envelope;
    try {
      const response = await fetch('/.well-known/hybridpost/trust-list.json', { credentials: 'omit' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      envelope = await response.json();
    } catch (e) {
      throw new SealError('trust_list', 'trust list not loaded: ' + e.message);
    }
    try {
      const header = JSON.parse(utf8(base64Decode(envelope.protected)));
      if (header.alg !== 'ES256') throw new Error('algorithm is not ES256');
      const signingInput = new TextEncoder().encode(envelope.protected + '.' + envelope.payload);
      const signature = base64Decode(envelope.signature);
      let signer = null;
      for (const root of rootKeys().filter((r) => r.kid === header.kid)) {
        const key = await importSpki(base64Decode(root.spki));
        if (await crypto.subtle.verify(ECDSA_SHA256, key, signature, signingInput)) {
          signer = root;
          break;
        }
      }
      if (!signer) throw new Error('not signed by a known root key');
      const body = JSON.parse(utf8(base64Decode(envelope.payload)));
      if (body.format !== 'hybridpost-trust-list' || body.version !== 1) throw new Error('unknown format');
      const issued = isoToDays(body.issued);
      if (issued < isoToDays(signer.not_before) || issued > isoToDays(signer.not_after)) {
        throw new Error('root key not valid when the list was issued');
      }
      const keys = [];
      for (const entry of body.keys) {
        const spki = base64Decode(entry.spki);
        const kid = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', spki)).slice(0, 8));
        if (kid !== entry.kid) throw new Error('key id does not match its key');
        keys.push({
          kid,
          spki,
          issuer: entry.issuer,
          notBefore: isoToDays(entry.not_before),
          notAfter: isoToDays(entry.not_after),
        });
      }
      return keys;
    } catch (e) {
      throw new SealError('trust_list', 'trust list rejected: ' + e.message);
    }
  }

  /** Checks the seal; resolves to its payload when the signature, issuer, key and dates hold. */
  async function verifySeal(sealBytes) {
    const seal = parseSeal(sealBytes);
    const trusted = await loadTrustList();
    const candidates = trusted.filter((k) => k.kid === seal.kid);
    if (candidates.length === 0) throw new SealError('unknown_key');
    const tbs = sigStructure(seal.protectedBytes, seal.payload);
    const verified = [];
    for (const k of candidates) {
      const key = await importSpki(k.spki);
      if (await crypto.subtle.verify(ECDSA_SHA256, key, seal.signature, tbs)) verified.push(k);
    }
    if (verified.length === 0) throw new SealError('bad_signature');
    const payload = parsePayload(seal.payload);
    const sameIssuer = verified.filter((k) => k.issuer === payload.issuer);
    if (sameIssuer.length === 0) throw new SealError('issuer_mismatch');
    if (!sameIssuer.some((k) => k.notBefore <= payload.issueDate && payload.issueDate <= k.notAfter)) {
      throw new SealError('key_not_valid');
    }
    if (todayDays() > payload.expires) {
      const [th, en] = formatDate(payload.expires);
      throw new SealError('expired', 'expired', { date_th: th, date_en: en });
    }
    return payload;
  }

  // ---- The server's answers ---------------------------------------------------------------

  async function fetchStatus(reference) {
    const response = await fetch('/v1/public/seals/' + encodeURIComponent(reference), {
      credentials: 'omit',
      headers: { Accept: 'application/json' },
    });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.json();
  }

  async function problemOf(response) {
    try {
      return await response.json();
    } catch (e) {
      return {};
    }
  }

  // ---- Showing results ----------------------------------------------------------------------

  function bilingual(parent, pair) {
    parent.textContent = pair[0] + ' ';
    const en = document.createElement('span');
    en.lang = 'en';
    en.textContent = pair[1];
    parent.appendChild(en);
  }

  function addFact(list, label, pair) {
    const dt = document.createElement('dt');
    dt.textContent = label[0] + ' / ' + label[1];
    const dd = document.createElement('dd');
    dd.textContent = pair[0];
    if (pair[1] && pair[1] !== pair[0]) {
      const en = document.createElement('span');
      en.lang = 'en';
      en.textContent = pair[1];
      dd.appendChild(en);
    }
    list.append(dt, dd);
  }

  function addStatusFacts(list, status) {
    addFact(list, TEXT.agency, [status.agency.name, status.agency.name_en || '']);
    addFact(list, TEXT.issueDate, formatDate(isoToDays(status.issue_date)));
    addFact(list, TEXT.status, STATUS[status.status] || [status.status, status.status]);
    if (status.reply_deadline) addFact(list, TEXT.replyBy, formatDate(isoToDays(status.reply_deadline)));
    if (status.withdrawn) addFact(list, TEXT.withdrawn, WITHDRAWAL[status.withdrawn.reason] || [status.withdrawn.reason, '']);
    addFact(list, TEXT.reference, [status.reference, '']);
  }

  function showVerdict(kind, reason, values) {
    const section = $('verdict');
    section.hidden = false;
    section.dataset.verdict = kind;
    section.dataset.reason = reason || '';
    section.className = 'verdict verdict-' + kind;
    const title = { checking: TEXT.checking, genuine: TEXT.genuine, 'not-genuine': TEXT.notGenuine, unknown: TEXT.unknown }[kind];
    bilingual($('verdict-title'), title);
    const why = reason && REASONS[reason];
    if (why) {
      bilingual($('verdict-reason'), [fill(why[0], values || {}), fill(why[1], values || {})]);
    } else {
      $('verdict-reason').textContent = '';
    }
    $('facts').textContent = '';
    $('verdict-note').textContent = '';
    $('intro').hidden = true;
  }

  async function checkFragment() {
    const fragment = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
    if (!fragment) return;
    showVerdict('checking');
    if (!window.crypto || !crypto.subtle) {
      showVerdict('unknown', 'no_crypto');
      return;
    }
    let payload;
    try {
      payload = await verifySeal(base32Decode(fragment));
    } catch (e) {
      const reason = e instanceof SealError ? e.reason : 'malformed';
      if (reason === 'unknown_key' && (await isTestLetter(fragment))) {
        showVerdict('not-genuine', 'test_letter');
        return;
      }
      showVerdict(reason === 'trust_list' ? 'unknown' : 'not-genuine', reason, e.values);
      return;
    }
    const reference = base32Encode(payload.reference);
    let status;
    try {
      status = await fetchStatus(reference);
    } catch (e) {
      showVerdict('unknown', 'status_unavailable');
      addSealFacts(payload);
      return;
    }
    if (status === null) {
      showVerdict('unknown', 'unknown_reference');
      addSealFacts(payload);
      return;
    }
    if (status.agency.issuer_code !== payload.issuer) {
      showVerdict('not-genuine', 'agency_mismatch');
      return;
    }
    if (status.withdrawn) {
      const w = WITHDRAWAL[status.withdrawn.reason] || [status.withdrawn.reason, status.withdrawn.reason];
      showVerdict('not-genuine', 'withdrawn', { reason_th: w[0], reason_en: w[1] });
      addStatusFacts($('facts'), status);
      return;
    }
    showVerdict('genuine');
    const facts = $('facts');
    addFact(facts, TEXT.agency, [status.agency.name, status.agency.name_en || '']);
    addFact(facts, TEXT.issueDate, formatDate(payload.issueDate));
    addFact(facts, TEXT.documentType, DOCUMENT_TYPES[payload.documentType]);
    addFact(facts, TEXT.status, STATUS[status.status] || [status.status, status.status]);
    if (payload.replyBy !== null) addFact(facts, TEXT.replyBy, formatDate(payload.replyBy));
    addFact(facts, TEXT.reference, [humanReference(payload.reference), '']);
    bilingual($('verdict-note'), TEXT.genuineNote);
    offerPin(reference);
  }

  // A seal signed by a key in no trust list may be a test letter (test keys are never
  // published); the server says so. It stays "not genuine" either way.
  async function isTestLetter(fragment) {
    try {
      const payload = parsePayload(parseSeal(base32Decode(fragment)).payload);
      const status = await fetchStatus(base32Encode(payload.reference));
      return status !== null && status.test === true;
    } catch (e) {
      return false;
    }
  }

  function addSealFacts(payload) {
    const facts = $('facts');
    addFact(facts, TEXT.issueDate, formatDate(payload.issueDate));
    addFact(facts, TEXT.documentType, DOCUMENT_TYPES[payload.documentType]);
    addFact(facts, TEXT.reference, [humanReference(payload.reference), '']);
  }

  // ---- PIN: the digital copy and e-mail opt-in ---------------------------------------------

  let pinReference = null;
  let acceptedPin = null;

  function offerPin(reference) {
    pinReference = reference;
    acceptedPin = null;
    $('pin-section').hidden = false;
    $('pin-form').action = '/v1/public/seals/' + encodeURIComponent(reference) + '/copy';
    $('copy-link-row').hidden = true;
    $('optin-form').hidden = true;
    setMessage($('pin-message'), null);
  }

  function setMessage(element, pair, kind) {
    if (!pair) {
      element.textContent = '';
      element.className = 'message';
      return;
    }
    bilingual(element, pair);
    element.className = 'message ' + (kind || '');
  }

  async function post(path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  function refusal(response, problem) {
    if (problem.type === 'urn:hybridpost:problem:test-letter') return REASONS.test_letter;
    if (problem.type === 'urn:hybridpost:problem:optin-limit') return TEXT.optinLimit;
    if (response.status === 403) return TEXT.pinWrong;
    if (response.status === 429) {
      const minutes = Math.max(1, Math.ceil(Number(response.headers.get('Retry-After') || '60') / 60));
      return [fill(TEXT.pinTooMany[0], { n: minutes }), fill(TEXT.pinTooMany[1], { n: minutes })];
    }
    if (problem.type === 'urn:hybridpost:problem:letter-withdrawn') return TEXT.withdrawnRefused;
    if (problem.type === 'urn:hybridpost:problem:no-citizen-id') return TEXT.optinNoCitizenId;
    if (response.status === 422) return TEXT.optinBadEmail;
    return TEXT.failed;
  }

  async function submitPin(event) {
    event.preventDefault();
    if (!pinReference) return;
    const pin = $('pin').value.replace(/\s/g, '');
    setMessage($('pin-message'), TEXT.checking);
    let response;
    try {
      response = await post('/v1/public/seals/' + encodeURIComponent(pinReference) + '/copy', { pin });
    } catch (e) {
      setMessage($('pin-message'), TEXT.failed, 'error');
      return;
    }
    if (response.ok) {
      const blob = await response.blob();
      const link = $('copy-link');
      link.href = URL.createObjectURL(blob);
      link.download = 'letter-' + pinReference + '.pdf';
      $('copy-link-row').hidden = false;
      setMessage($('pin-message'), TEXT.copyReady, 'ok');
      acceptedPin = pin;
    } else if (response.status === 503) {
      // The PIN was right (it is checked first); only the copy is missing.
      setMessage($('pin-message'), TEXT.copyUnavailable, 'ok');
      acceptedPin = pin;
    } else {
      setMessage($('pin-message'), refusal(response, await problemOf(response)), 'error');
      return;
    }
    $('optin-form').hidden = false;
  }

  async function submitOptin(event) {
    event.preventDefault();
    if (!pinReference || !acceptedPin) return;
    setMessage($('optin-message'), TEXT.checking);
    let response;
    try {
      response = await post('/v1/public/seals/' + encodeURIComponent(pinReference) + '/opt-in', {
        pin: acceptedPin,
        email: $('email').value.trim(),
      });
    } catch (e) {
      setMessage($('optin-message'), TEXT.failed, 'error');
      return;
    }
    if (response.status === 202) {
      setMessage($('optin-message'), TEXT.optinSent, 'ok');
    } else {
      setMessage($('optin-message'), refusal(response, await problemOf(response)), 'error');
    }
  }

  // ---- Typing a reference by hand: the server's answer only -------------------------------

  async function submitReference(event) {
    event.preventDefault();
    const typed = $('reference').value.toUpperCase().replace(/[\s-]/g, '').replace(/0/g, 'O').replace(/1/g, 'I').replace(/8/g, 'B');
    const section = $('lookup');
    const facts = $('lookup-facts');
    section.hidden = false;
    facts.textContent = '';
    let status;
    try {
      status = typed ? await fetchStatus(typed) : null;
    } catch (e) {
      section.dataset.lookup = 'failed';
      bilingual($('lookup-title'), TEXT.lookupFailed);
      return;
    }
    if (status === null) {
      section.dataset.lookup = 'not-found';
      bilingual($('lookup-title'), TEXT.lookupNotFound);
      return;
    }
    if (status.test) {
      section.dataset.lookup = 'test';
      bilingual($('lookup-title'), REASONS.test_letter);
      return;
    }
    section.dataset.lookup = status.withdrawn ? 'withdrawn' : 'found';
    bilingual($('lookup-title'), TEXT.lookupFound);
    addStatusFacts(facts, status);
    if (!status.withdrawn) offerPin(status.reference.replace(/-/g, ''));
  }

  function start() {
    $('pin-form').addEventListener('submit', submitPin);
    $('optin-form').addEventListener('submit', submitOptin);
    $('reference-form').addEventListener('submit', submitReference);
    window.addEventListener('hashchange', checkFragment);
    checkFragment().catch((e) => showVerdict('not-genuine', 'malformed', { detail: e.message }));
  }

  start();
})();
