-- The recipient's name as the agency console searches it (lower case, from the start), beside
-- the letter's reference; set when a letter is stored.
alter table letter add column search_name text not null default '';
update letter set search_name = lower(coalesce(json_extract(content, '$.recipient.name'), ''));
create index letter_agency_search_idx on letter (agency_id, test, search_name);
