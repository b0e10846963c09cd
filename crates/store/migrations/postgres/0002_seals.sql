-- Verification seals: each agency's issuer code and letterhead, the signing keys (private halves
-- wrapped under the service secret), the published trust lists, and per letter its seal,
-- random reference, issue date, PIN hash and withdrawal.

alter table agency add column name_en text;
-- The agency's postal address as printed on its letters, one line per entry, newline-separated.
alter table agency add column address text;
-- Short code (1-16 characters) in every seal the agency issues.
alter table agency add column issuer_code text;
update agency set issuer_code = 'HP' || upper(substr(replace(agency_id, '-', ''), 25, 8));
create unique index agency_issuer_code_idx on agency (issuer_code);

create table signing_key (
    -- First 8 bytes of SHA-256 over the public key's SubjectPublicKeyInfo, hex.
    key_id text primary key,
    -- 'seal' keys seal letters for one issuer; the 'root' key signs the trust list.
    purpose text not null,
    issuer text not null,
    agency_id text references agency (agency_id),
    -- SubjectPublicKeyInfo DER, base64.
    public_key text not null,
    -- PKCS#8 DER wrapped with AES-256-GCM under a key derived from the service secret, base64.
    private_key text not null,
    -- First and last day (YYYY-MM-DD) the key may seal.
    not_before text not null,
    not_after text not null,
    -- Set when a newer key takes over: the key seals nothing more but still verifies.
    retired_at text,
    created_at text not null
);

create index signing_key_issuer_idx on signing_key (purpose, issuer);

create table trust_list (
    sequence bigint primary key,
    -- The signed JSON as published at /.well-known/hybridpost/trust-list.json.
    body text not null,
    created_at text not null
);

-- The random letter reference (unpadded base32 of 12 bytes), also printed on the letter.
alter table letter add column seal_reference text;
-- The COSE_Sign1 seal, base64.
alter table letter add column seal text;
-- The date printed on the letter and sealed, YYYY-MM-DD.
alter table letter add column issue_date text;
-- HMAC-SHA256 of the PIN under a key derived from the service secret, hex.
alter table letter add column pin_hash text;
-- The PIN wrapped under the service secret, so that a later print run can print it.
alter table letter add column pin_wrapped text;
-- Why the letter was withdrawn (cancelled, superseded, reported_lost), and when.
alter table letter add column withdrawn_reason text;
alter table letter add column withdrawn_at text;

create unique index letter_seal_reference_idx on letter (seal_reference);
