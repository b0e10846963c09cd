-- Scan back: batches of scanned pages uploaded by post-office sites, their files and pages,
-- the replies rebuilt from them, and the review queue of pages nobody could match.

create table scan_batch (
    scan_id text primary key,
    site_id text not null references site (site_id),
    -- replies | returns
    mode text not null,
    -- For returns, the reason the operator picked for the whole batch: addressee_unknown,
    -- moved, refused, deceased, insufficient_address.
    return_reason text,
    -- decoding (files being read) → grouping (claimed by the worker that groups the pages) →
    -- done.
    status text not null,
    file_count bigint not null,
    -- The grouping worker's claim.
    claimed_until text,
    request_id text,
    created_at text not null,
    finished_at text
);

create index scan_batch_site_idx on scan_batch (site_id, created_at);
create index scan_batch_status_idx on scan_batch (status, claimed_until);

create table scan_file (
    scan_id text not null references scan_batch (scan_id),
    -- Upload order, from 1.
    file_index bigint not null,
    -- The name it was uploaded with (a label only).
    name text not null,
    size_bytes bigint not null,
    -- SHA-256 of the file, hex.
    sha256 text not null,
    -- The uploaded bytes; none for a file refused at upload (too large).
    blob_key text,
    -- pending → decoding (claimed) → done | failed (the whole file could not be read).
    status text not null,
    error text,
    page_count bigint,
    -- A decoding worker's claim: whoever holds claim_token may decode the file until
    -- claimed_until.
    claimed_until text,
    claim_token text,
    decoded_at text,
    created_at text not null,
    primary key (scan_id, file_index)
);

create index scan_file_due_idx on scan_file (status, claimed_until);

create table scan_page (
    page_id text primary key,
    scan_id text not null references scan_batch (scan_id),
    file_index bigint not null,
    -- Position in the file, from 1 (across the entries of a zip).
    page_number bigint not null,
    -- The zip entry it came from.
    entry text,
    -- SHA-256 of the decoded pixels, hex; none when the page could not be decoded.
    content_hash text,
    -- The earlier page with the same content: this one is not counted again.
    duplicate_of text,
    -- The page as stored (for the reply PDF) and a thumbnail for the review queue.
    image_blob text,
    -- JSON: filter and parameters of the stored image, width, height, dpi.
    image_meta text,
    thumbnail_blob text,
    -- Clockwise quarter turns that make the page upright.
    quarter_turns bigint not null default 0,
    -- What the codes said, JSON: {"kind": "reply", "reference": …, "page": 1, "pages": 1},
    -- {"kind": "seal", …}, {"kind": "blank"} or {"kind": "review", "reason": …}.
    mark text not null,
    -- How the page was searched, JSON: the steps run, with their times and codes found.
    decode_log text,
    decode_ms bigint not null default 0,
    -- decoded → matched | returned | review | duplicate | assigned | discarded.
    outcome text not null,
    letter_id text references letter (letter_id),
    reply_id text,
    review_reason text,
    review_detail text,
    reviewed_at text,
    reviewed_by text,
    discard_reason text,
    -- The claim token of the worker that decoded it.
    decoded_by text,
    created_at text not null,
    unique (scan_id, file_index, page_number)
);

create index scan_page_scan_idx on scan_page (scan_id, file_index, page_number);
create index scan_page_review_idx on scan_page (outcome, created_at);

-- One row per distinct page content: the first page seen with it.
create table scan_page_hash (
    content_hash text primary key,
    page_id text not null,
    created_at text not null
);

create table reply (
    reply_id text primary key,
    letter_id text not null references letter (letter_id),
    agency_id text not null references agency (agency_id),
    scan_id text not null references scan_batch (scan_id),
    site_id text not null references site (site_id),
    page_count bigint not null,
    -- JSON array of reply-sheet page numbers that did not arrive.
    missing_pages text not null,
    out_of_order bigint not null,
    -- scan (matched by its codes) | review (assigned by an operator)
    source text not null,
    pdf_blob text not null,
    pdf_sha256 text not null,
    pdf_bytes bigint not null,
    created_at text not null
);

create index reply_letter_idx on reply (letter_id, created_at);
