-- Agencies' own PDFs (from e-Saraban), checked for print at upload and sent as letters behind a
-- cover page.
create table agency_document (
    document_id text primary key,
    agency_id text not null references agency (agency_id),
    blob_key text not null,
    -- SHA-256 of the PDF, hex.
    sha256 text not null,
    pages bigint not null,
    bytes bigint not null,
    created_at text not null
);

create index agency_document_agency_idx on agency_document (agency_id, document_id);
