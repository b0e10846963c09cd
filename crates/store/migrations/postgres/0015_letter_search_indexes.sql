-- The agency console's letter search by the start of a reference, and its usage report, which
-- reads letters by agency, mode and time without touching the table.
create index letter_agency_reference_idx on letter (agency_id, test, reference text_pattern_ops);
create index letter_agency_usage_idx on letter (agency_id, test, created_at, channel, status);
